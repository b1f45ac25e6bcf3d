"""An int8-quantized classifier exports and serves: the SavedModel runs the oneDNN int8
kernel (`int8_matmul`) in a fresh TensorFlow-only process, with Keras's outputs, on real
MRPC pairs."""

import tempfile
import unittest

import keras
import numpy as np
import tensorflow as tf

import keras_bert_pkg
from keras_bert_pkg.layers.int8_matmul import int8_matmul_available
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_classifier import BertClassifier
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.export import export_helpers as h
from tests.test_case import UNCASED_VOCAB, TestCase, requires_shared_data, tiny_backbone_config

pytestmark = requires_shared_data


@unittest.skipUnless(int8_matmul_available(), "no oneDNN int8 matmul kernel in this TensorFlow")
class ExportInt8Test(TestCase):
    def test_int8_classifier_serves_keras_outputs_on_the_int8_kernel(self):
        keras.utils.set_random_seed(3)
        preprocessor = BertPreprocessor(BertTokenizer(str(UNCASED_VOCAB)), 32)
        model = BertClassifier(BertBackbone(**tiny_backbone_config()), 2, preprocessor=preprocessor)
        a, b = h.mrpc_pairs(4)
        before = model.predict((np.array(a), np.array(b)), verbose=0)
        model.quantize("int8")
        logits = model.predict((np.array(a), np.array(b)), verbose=0)
        self.assertLess(np.abs(logits - before).max(), 0.05)  # int8 stays close to float
        tmp = tempfile.mkdtemp(prefix="export_int8_")
        result = keras_bert_pkg.export_model(model, tmp, "mrpc_int8",
                                             text_inputs=("sentence1", "sentence2"))
        graph_ops = {node.op for f in tf.saved_model.load(result.token_ids_path)
                     .signatures["serving_default"].graph.as_graph_def().library.function
                     for node in f.node_def}
        self.assertIn("_QuantizedMatMul", graph_ops)
        outputs, modules = h.run_savedmodels(
            [{"path": result.path, "signature": "serving_default",
              "inputs": {"sentence1": h.string_input(a), "sentence2": h.string_input(b)}}], tmp)
        self.assertEqual(modules, [])
        np.testing.assert_allclose(outputs[0]["logits"], logits, atol=1e-5)
