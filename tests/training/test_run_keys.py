"""A saved record of a run's settings and this run's: the same run when they differ only
by flags one side does not name and the other leaves off; the recipes' run keys, the
fine-tuning checkpoints and the chain's record follow that rule."""

import argparse
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg.training.recipe_flags import run_key
from keras_bert_pkg.training.resumable_fine_tuning import fine_tune_resumably
from keras_bert_pkg.training.run_keys import changed_settings, read_run_key, same_run
from tests.test_case import TestCase

SETTINGS = dict(task="mrpc", data_dir="/data/my glue x=None", learning_rate=3e-5, epochs=3.0,
                init_checkpoint=None, keep_best_epoch=False, max_train_examples=0, seed=1,
                output_dir="/runs/a")


def _key(**changes):
    return run_key(argparse.Namespace(**{**SETTINGS, **changes}))


class RunKeysTest(TestCase):
    def test_recipe_run_keys(self):
        old = run_key(argparse.Namespace(**SETTINGS))
        self.assertTrue(same_run(old, _key(output_dir="/runs/b")))  # where results go: not a setting
        for added_off in (None, False, 0, ""):  # a flag added since, left at its off default
            self.assertTrue(same_run(old, _key(entity_replacement=added_off)), added_off)
            self.assertTrue(same_run(_key(entity_replacement=added_off), old), added_off)  # or removed
        for changed in (dict(entity_replacement=True), dict(dropout=0.1), dict(learning_rate=1e-3),
                        dict(keep_best_epoch=True), dict(init_checkpoint="weights/x"),
                        dict(max_train_examples=64), dict(data_dir="/data/my glue")):
            self.assertFalse(same_run(old, _key(**changed)), changed)
        # a mark inside a quoted value is part of the value, not an item
        self.assertFalse(same_run(_key(data_dir="/d x=None y"), _key(data_dir="/d y")))
        self.assertTrue(same_run(_key(data_dir="/d x=1"), _key(data_dir="/d x=1", x=None)))
        self.assertEqual(read_run_key(_key(data_dir="/d x=None y'z"))["data_dir"], "/d x=None y'z")
        self.assertIsNone(read_run_key("not a key"))
        self.assertFalse(same_run("lr=inf", "lr=inf x=None"))  # not literals: only equal keys match
        # an off value the saved key names is compared as any other value
        self.assertFalse(same_run(_key(dropout=None), _key(dropout=0.1)))
        self.assertFalse(same_run(None, old))

    def test_changed_settings(self):
        saved = {"epochs": 3, "seed": 0, "init_checkpoint": None}
        self.assertEqual(changed_settings(saved, dict(saved)), [])
        self.assertEqual(changed_settings(saved, {**saved, "entity_replacement": False}), [])
        self.assertEqual(changed_settings(saved, {**saved, "entity_replacement": True}), ["entity_replacement"])
        self.assertEqual(changed_settings(saved, {"epochs": 3, "seed": 0}), [])
        self.assertEqual(changed_settings(saved, {"epochs": 3, "seed": 0, "init_checkpoint": "w"}),
                         ["init_checkpoint"])
        self.assertEqual(changed_settings(saved, {**saved, "epochs": 4, "seed": None}, ignore=("epochs",)),
                         ["seed"])

    def test_a_checkpoint_from_before_a_flag_resumes(self):
        data = tf.data.Dataset.from_tensor_slices((np.ones((8, 1)), np.ones((8, 1)))).batch(2).repeat()
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        folder = tempfile.mkdtemp(dir=self.get_temp_dir())
        old = run_key(argparse.Namespace(**SETTINGS))
        run = dict(steps_per_epoch=4, total_steps=8, checkpoint_dir=folder, verbose=0, log=None)
        self.assertEqual(fine_tune_resumably(model, data, run_key=old, **run), 0)
        self.assertEqual(fine_tune_resumably(model, data, run_key=_key(entity_replacement=False), **run), 8)
        with self.assertRaisesRegex(ValueError, "holds the checkpoint of another run .*entity_replacement=True"):
            fine_tune_resumably(model, data, run_key=_key(entity_replacement=True), **run)
