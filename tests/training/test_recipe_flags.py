"""The shared recipe flags: the same names in every training recipe, the set-up they
drive (strategy, batch sizes, precision, workarounds), and the model they build."""

import argparse
import importlib.util
import json
import os
from unittest import mock

import tensorflow as tf

from keras_bert_pkg import keras_workarounds
from keras_bert_pkg.training.precision import cpu_has_bfloat16
from keras_bert_pkg.training.recipe_flags import (
    add_training_flags, backbone_and_tokenizer, finish_run, run_with_flags, setup_from_flags)
from tests.test_case import MINILM_DIR, PROJECT_ROOT, UNCASED_VOCAB, TestCase, requires_shared_data

_CPU_MIXED_POLICY = "mixed_bfloat16" if cpu_has_bfloat16() is not False else "float32"
_NO_TPU_ENV = {k: v for k, v in os.environ.items() if k not in ("TPU_NAME", "TF_CONFIG")}
SHARED = ["--init_checkpoint", "--architecture", "--vocab", "--max_seq_length", "--batch_size",
          "--learning_rate", "--warmup_fraction", "--max_train_examples", "--output_dir",
          "--export_dir", "--export_name", "--precision", "--strategy", "--seed"]
RECIPES = {"pretrain": (["--text", "t.txt", "--vocab", "v.txt"], "--steps"),
           "glue": (["--task", "sst2", "--architecture", "bert_tiny"], "--epochs"),
           "squad": ([], "--epochs"), "ner": (["--architecture", "bert_tiny"], "--epochs"),
           "swag": (["--data_dir", "swag", "--architecture", "bert_tiny"], "--epochs")}


def load_recipe(name):
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", PROJECT_ROOT / "recipes" / f"{name}.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    return recipe


class RecipeFlagsTest(TestCase):
    def parser(self, **defaults):
        p = argparse.ArgumentParser()
        add_training_flags(p, **defaults)
        return p

    def test_defaults_and_log_line(self):
        args = self.parser(batch_size=32, output_dir="runs/x").parse_args([])
        self.assertEqual((args.strategy, args.tpu, args.devices, args.per_replica_batch_size),
                         ("auto", None, None, None))
        lines = []
        with mock.patch.dict(os.environ, _NO_TPU_ENV, clear=True):
            strategy = setup_from_flags(args, log=lines.append)
        self.assertIs(strategy, tf.distribute.get_strategy())
        self.assertTrue(keras_workarounds.is_installed())  # installed by this explicit set-up
        self.assertEqual((args.batch_size, args.per_replica_batch_size, args.output_dir),
                         (32, 32, "runs/x"))
        self.assertEqual(len(lines), 1)
        for part in ("strategy default", "global batch 32 = 32 per replica x 1", "precision float32"):
            self.assertIn(part, lines[0])

    def test_per_replica_batch_and_mixed_precision(self):
        args = self.parser().parse_args(["--strategy", "one_device", "--per_replica_batch_size", "8",
                                         "--precision", "mixed"])
        try:
            strategy = setup_from_flags(args, log=None)
        finally:
            import keras
            keras.config.set_dtype_policy("float32")
        self.assertIsInstance(strategy, tf.distribute.OneDeviceStrategy)
        self.assertEqual((args.batch_size, args.per_replica_batch_size, args.precision),
                         (8, 8, _CPU_MIXED_POLICY))

    def test_run_with_flags_runs_in_the_strategy_scope_with_the_seed(self):
        import keras
        args = self.parser().parse_args(["--strategy", "one_device", "--seed", "7"])

        def run(run_args):
            return run_args, tf.distribute.get_strategy(), keras.random.uniform((3,)).numpy()

        with mock.patch("builtins.print"):
            got, strategy, draws = run_with_flags(run, args)
            again = run_with_flags(run, self.parser().parse_args(["--strategy", "one_device", "--seed", "7"]))[2]
        self.assertIs(got, args)
        self.assertIsInstance(strategy, tf.distribute.OneDeviceStrategy)
        self.assertEqual(draws.tolist(), again.tolist())  # the seed was set before run

    def test_finish_run_writes_metrics_then_removes_the_checkpoints(self):
        for checkpoint_dir in (None, os.path.join(self.get_temp_dir(), "elsewhere")):
            output_dir = self.get_temp_dir()
            args = self.parser().parse_args(["--output_dir", output_dir] + (
                ["--checkpoint_dir", checkpoint_dir] if checkpoint_dir else []))
            checkpoints = checkpoint_dir or os.path.join(output_dir, "checkpoints")
            os.makedirs(os.path.join(checkpoints, "epoch_1"))
            path = finish_run(args, {"f1": 0.5})
            self.assertEqual(path, os.path.join(output_dir, "metrics.json"))
            with open(path) as f:
                self.assertEqual(json.load(f), {"f1": 0.5})
            self.assertFalse(os.path.exists(checkpoints))

    def test_bad_values_are_rejected(self):
        with self.assertRaises(SystemExit), mock.patch("sys.stderr"):
            self.parser().parse_args(["--strategy", "gpus"])
        with self.assertRaises(SystemExit), mock.patch("sys.stderr"):
            self.parser().parse_args(["--init_checkpoint", "x", "--architecture", "bert_tiny"])
        args = self.parser().parse_args(["--strategy", "multi_worker"])
        with mock.patch.dict(os.environ, _NO_TPU_ENV, clear=True):
            with self.assertRaisesRegex(ValueError, "TF_CONFIG"):
                setup_from_flags(args, log=None)
        with self.assertRaisesRegex(argparse.ArgumentTypeError, "--architecture needs --vocab"):
            backbone_and_tokenizer(self.parser().parse_args(["--architecture", "bert_tiny"]))

    def test_every_training_recipe_spells_the_shared_flags_the_same(self):
        for name, (argv, schedule) in RECIPES.items():
            recipe = load_recipe(name)
            args = recipe.parse_args(argv + ["--strategy", "one_device", "--per_replica_batch_size", "4",
                                             "--tpu", "local"])
            self.assertEqual((args.strategy, args.tpu), ("one_device", "local"), name)
            lines = []
            strategy = setup_from_flags(args, log=lines.append)
            self.assertIsInstance(strategy, tf.distribute.OneDeviceStrategy, name)
            self.assertEqual((args.batch_size, args.per_replica_batch_size), (4, 4), name)
            with mock.patch("sys.stdout") as stdout, self.assertRaises(SystemExit):
                recipe.parse_args(["--help"])
            printed = "".join(call.args[0] for call in stdout.write.call_args_list)
            for flag in SHARED + [schedule]:
                self.assertIn(flag, printed, f"{name} --help lacks {flag}")
            source = open(PROJECT_ROOT / "recipes" / f"{name}.py").read()
            main = source.split("def main(")[1].split("\ndef ")[0]
            self.assertTrue("setup_from_flags(" in main or "run_with_flags(run, " in main, name)

    @requires_shared_data
    def test_model_from_a_checkpoint_or_an_architecture(self):
        args = self.parser(max_seq_length=128).parse_args(["--init_checkpoint", str(MINILM_DIR)])
        backbone, tokenizer = backbone_and_tokenizer(args)
        self.assertEqual((backbone.num_layers, backbone.hidden_dim), (6, 384))
        self.assertTrue(tokenizer.lowercase)
        self.assertEqual(tokenizer.vocabulary_size(), backbone.vocabulary_size)
        args = self.parser().parse_args(["--architecture", "bert_tiny", "--vocab", str(UNCASED_VOCAB)])
        backbone, tokenizer = backbone_and_tokenizer(args, dropout=0.0)
        self.assertEqual((backbone.num_layers, backbone.dropout), (2, 0.0))
        args = self.parser().parse_args(["--init_checkpoint", str(MINILM_DIR), "--max_seq_length", "1024"])
        with self.assertRaisesRegex(argparse.ArgumentTypeError, "exceeds the model's 512 positions"):
            backbone_and_tokenizer(args)
