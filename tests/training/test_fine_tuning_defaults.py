"""Fine-tuning defaults by the model's size: the row chosen, and flags given kept."""

import argparse

from keras_bert_pkg.models.bert_architectures import architecture_config
from keras_bert_pkg.training.fine_tuning_defaults import (FINE_TUNING_DEFAULTS, fill_fine_tuning_defaults,
                                                          fine_tuning_defaults)
from tests.test_case import TestCase


def _hidden(architecture):
    return architecture_config(architecture)["hidden_dim"]


class FineTuningDefaultsTest(TestCase):
    def test_rows_by_size_and_data(self):
        small, base = _hidden("bert_mini"), _hidden("bert_base")
        self.assertEqual(fine_tuning_defaults("glue", small, 3668)[1]["batch_size"], 8)   # MRPC-sized
        self.assertEqual(fine_tuning_defaults("glue", small, 67349)[1]["batch_size"], 32)  # SST-2-sized
        self.assertEqual(fine_tuning_defaults("glue", base, 3668)[1]["learning_rate"], 2e-5)
        self.assertEqual(fine_tuning_defaults("squad2.0", base)[1]["batch_size"], 48)  # the paper's v2.0
        self.assertEqual(fine_tuning_defaults("swag", small)[0], "swag, paper")  # no small row measured
        with self.assertRaisesRegex(ValueError, "no fine-tuning defaults for task 'pos'"):
            fine_tuning_defaults("pos", small)
        for rows in FINE_TUNING_DEFAULTS.values():
            for settings in rows.values():
                self.assertTrue({"learning_rate", "batch_size", "epochs", "warmup_fraction",
                                 "weight_decay"} <= set(settings))

    def test_fill_keeps_the_flags_given(self):
        args = argparse.Namespace(learning_rate=1e-3, batch_size=None, epochs=None, warmup_fraction=None,
                                  weight_decay=0.05, keep_best_epoch=None)
        record = fill_fine_tuning_defaults(args, "glue", _hidden("bert_tiny"), 100)
        self.assertEqual(record["row"], "glue, < 10,000 examples, small model")
        self.assertEqual(record["filled"], {"batch_size": 8, "epochs": 3, "warmup_fraction": 0.0,
                                            "keep_best_epoch": True})
        self.assertEqual((args.learning_rate, args.weight_decay), (1e-3, 0.05))
