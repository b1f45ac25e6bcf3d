"""The canonical weight map covers every weight exactly once, in the canonical layout."""

import keras_hub
import numpy as np

from keras_bert_pkg.checkpoints.load_report import LoadReport
from keras_bert_pkg.checkpoints.weight_map import (backbone_weight_map, keras_hub_backbone_weight_map,
                                                   model_weight_map)
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
from tests.test_case import TestCase, tiny_backbone_config


class WeightMapTest(TestCase):
    def test_every_weight_once(self):
        backbone = BertBackbone(**tiny_backbone_config(num_heads=4))
        for model in (backbone, BertPretrainer(backbone), BertPretrainer(backbone, next_sentence=False)):
            entries = model_weight_map(model)
            paths = [entry.path for entry in entries]
            self.assertEqual(len(paths), len(set(paths)))
            self.assertEqual(sorted(paths), sorted(w.path for w in model.weights))  # tied embedding once
            self.assertEqual(len({entry.name for entry in entries}), len(entries))

    def test_canonical_layout(self):
        backbone = BertBackbone(**tiny_backbone_config(num_heads=4))
        entries = {entry.name: entry for entry in backbone_weight_map(backbone)}
        query = entries["bert/encoder/layer_1/attention/self/query/kernel"]
        self.assertEqual(tuple(query.variable.shape), (32, 32))  # ours: TF1's [in, out] layout
        self.assertEqual(query.canonical_shape, (32, 32))
        np.testing.assert_array_equal(query.get(), backbone.transformer_layers[1].query_dense.kernel.numpy())
        for entry in entries.values():
            np.testing.assert_array_equal(entry.to_variable_layout(entry.get()), entry.variable.numpy())

    def test_keras_hub_heads_split_layout(self):
        theirs = keras_hub.models.BertBackbone(vocabulary_size=100, num_layers=2, num_heads=4,
                                               hidden_dim=32, intermediate_dim=64,
                                               max_sequence_length=16)
        entries = {entry.name: entry for entry in keras_hub_backbone_weight_map(theirs)}
        self.assertEqual(len(entries), len(theirs.weights))
        query = entries["bert/encoder/layer_1/attention/self/query/kernel"]
        self.assertEqual(tuple(query.variable.shape), (32, 4, 8))
        self.assertEqual(query.canonical_shape, (32, 32))
        # Column h*8 + d of the [H, H] kernel is head h, dimension d (TF1's layout).
        np.testing.assert_array_equal(query.get()[:, 2 * 8 + 5], query.variable.numpy()[:, 2, 5])
        output = entries["bert/encoder/layer_0/attention/output/dense/kernel"]
        np.testing.assert_array_equal(output.get()[3 * 8 + 1], output.variable.numpy()[3, 1])

    def test_next_sentence_kernel_is_transposed(self):
        model = BertPretrainer(BertBackbone(**tiny_backbone_config()))
        entry = {e.name: e for e in model_weight_map(model)}["cls/seq_relationship/output_weights"]
        self.assertEqual(entry.canonical_shape, (2, 32))
        np.testing.assert_array_equal(entry.get(), model.get_layer("next_sentence_head").kernel.numpy().T)

    def test_report_lists_everything(self):
        report = LoadReport("ckpt", "hf")
        report.loaded = ["a"]
        report.missing = [("pooler.dense.weight", "pooled_dense/kernel")]
        report.unused = ["classifier.weight"]
        report.ignored = {"embeddings.position_ids": "buffer, not a weight"}
        self.assertFalse(report.complete)
        text = report.summary()
        for part in ("pooler.dense.weight (pooled_dense/kernel)", "classifier.weight", "1 buffer, not a weight"):
            self.assertIn(part, text)
        with self.assertWarns(UserWarning):
            report.check()
