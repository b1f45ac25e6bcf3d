"""The pieces of a pre-training run: data positioned at any step, the model (fresh, from a
config file, or from a checkpoint), the held-out evaluation and the outputs."""

import json
import os

import keras
import numpy as np

from keras_bert_pkg.data.create_pretraining_data import create_pretraining_data
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from keras_bert_pkg.training.optimizers import create_optimizer
from keras_bert_pkg.training.pretraining import (HeldOutEvaluation, PretrainingData, backbone_config,
                                                 build_pretrainer, heldout_dataset,
                                                 save_pretraining_outputs)
from tests.test_case import SMALL_VOCABULARY, TestCase

SENTENCES = ["the cat sat on the mat .", "the dog was in london .", "george lived in paris .",
             "it was a good film .", "the film was bad .", "who sat on the mat ?"]


def _batches(dataset, n):
    return [np.concatenate([x["token_ids"], x["masked_lm_positions"]], axis=1)
            for x, _ in dataset.take(n).as_numpy_iterator()]


class PretrainingPiecesTest(TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.get_temp_dir()
        self.text = os.path.join(self.dir, "text.txt")
        with open(self.text, "w") as f:
            for document in range(4):
                f.write("\n".join(SENTENCES[document:] + SENTENCES[:document]) + "\n\n")
        self.tokenizer = BertTokenizer(SMALL_VOCABULARY)

    def test_text_and_records_are_positioned_at_any_step(self):
        data = PretrainingData.from_text(self.text, self.tokenizer, 2, seq_length=16,
                                         max_predictions_per_seq=3)
        self.assertEqual((data.seq_length, data.max_predictions_per_seq), (16, 3))
        self.assertEqual(data.source["documents"], 4)
        for got, expected in zip(_batches(data.dataset(2), 2), _batches(data.dataset(0), 4)[2:]):
            np.testing.assert_array_equal(got, expected)
        vocab = os.path.join(self.dir, "vocab.txt")
        with open(vocab, "w") as f:
            f.write("\n".join(SMALL_VOCABULARY) + "\n")
        summary = create_pretraining_data([self.text], os.path.join(self.dir, "records"), vocab,
                                          max_seq_length=16, max_predictions_per_seq=3,
                                          dupe_factor=3, num_workers=1, progress=False)
        records = PretrainingData.from_records(summary["output_files"], 2)
        self.assertEqual((records.seq_length, records.max_predictions_per_seq), (16, 3))
        for got, expected in zip(_batches(records.dataset(3), 2), _batches(records.dataset(0), 5)[3:]):
            np.testing.assert_array_equal(got, expected)

    def test_models_configs_and_checkpoints(self):
        config = os.path.join(self.dir, "bert_config.json")
        with open(config, "w") as f:  # Google's keys: "gelu" is the tanh form
            json.dump({"vocab_size": 5, "hidden_size": 16, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "intermediate_size": 32, "hidden_act": "gelu"}, f)
        self.assertEqual(backbone_config(len(SMALL_VOCABULARY), config_file=config)["hidden_activation"],
                         "gelu_approximate")
        with open(config, "w") as f:
            json.dump({"num_layers": 1, "hidden_size_typo": 3}, f)
        with self.assertRaisesRegex(ValueError, "hidden_size_typo"):
            backbone_config(10, config_file=config)
        with self.assertRaisesRegex(ValueError, "LTR & No NSP"):
            build_pretrainer(10, architecture="bert_tiny", left_to_right=True)
        model = build_pretrainer(len(SMALL_VOCABULARY), architecture="bert_tiny", dropout=0.0)
        path = os.path.join(self.dir, "pretrainer.keras")
        model.save(path)
        again = build_pretrainer(len(SMALL_VOCABULARY), init_checkpoint=path)
        for a, b in zip(model.get_weights(), again.get_weights()):
            np.testing.assert_array_equal(a, b)
        with self.assertRaisesRegex(ValueError, "token embeddings"):
            build_pretrainer(len(SMALL_VOCABULARY) + 1, init_checkpoint=path)

    def test_heldout_evaluation_once_per_run_and_outputs(self):
        heldout = heldout_dataset(self.tokenizer, 2, text=self.text, seq_length=16,
                                  max_predictions_per_seq=3)
        model = build_pretrainer(len(SMALL_VOCABULARY), architecture="bert_tiny")
        model.compile(optimizer=create_optimizer(1e-3, total_steps=2))
        evaluation = HeldOutEvaluation(heldout, self.dir)
        first = evaluation.before(model, fresh=True)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "initial_eval.json")))
        data = PretrainingData.from_text(self.text, self.tokenizer, 2, seq_length=16,
                                         max_predictions_per_seq=3)
        history = model.fit(data.dataset(0), steps_per_epoch=2, epochs=1, verbose=0)
        self.assertAlmostEqual(evaluation.before(model, fresh=False)["loss"], first["loss"], places=6)
        after = evaluation.after(model, data.dataset(0), self.tokenizer, baseline_batches=5)
        self.assertIn(after["most_frequent_token_baseline"]["token"], SMALL_VOCABULARY)
        metrics = {"history": [{"step": 2, "loss": history.history["loss"][0]}], **after}
        save_pretraining_outputs(model, self.tokenizer, self.dir, metrics)
        for name in ("metrics.json", "pretraining_curves.png", "pretrainer.keras", "backbone.keras",
                     "vocab.txt"):
            self.assertTrue(os.path.exists(os.path.join(self.dir, name)), name)
        self.assertIsInstance(keras.models.load_model(os.path.join(self.dir, "backbone.keras")),
                              type(model.backbone))
