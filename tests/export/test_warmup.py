"""Warm-up records written without tensorflow-serving-api, read back with it."""

import os
import tempfile

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from keras_bert_pkg.export import warmup
from keras_bert_pkg.export.example_parsing import make_example
from tests.export.export_helpers import mrpc_pairs
from tests.test_case import TestCase, requires_shared_data


class WarmupTest(TestCase):
    @requires_shared_data
    def test_records_are_valid_prediction_logs(self):
        a, b = mrpc_pairs(2)
        requests = [
            ("serving_default", {"sentence1": np.array(a, dtype=object),
                                 "sentence2": np.array(b, dtype=object)}),
            ("serve_token_ids", {"token_ids": np.arange(300, dtype=np.int32).reshape(3, 100),
                                 "segment_ids": np.zeros((3, 100), np.int32),
                                 "padding_mask": np.ones((3, 100), np.int32)}),
            ("serve_examples", {"examples": np.array([make_example([101, 102])], dtype=object)}),
        ]
        with tempfile.TemporaryDirectory() as d:
            path = warmup.write_warmup_requests(d, requests, model_name="mrpc")
            self.assertEqual(path, os.path.join(d, "assets.extra", "tf_serving_warmup_requests"))
            records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
        self.assertEqual(len(records), 3)
        for record, (signature, inputs) in zip(records, requests):
            log = prediction_log_pb2.PredictionLog.FromString(record)
            self.assertEqual(log.WhichOneof("log_type"), "predict_log")
            request = log.predict_log.request
            self.assertEqual(request.model_spec.name, "mrpc")
            self.assertEqual(request.model_spec.signature_name, signature)
            self.assertEqual(sorted(request.inputs), sorted(inputs))
            for name, value in inputs.items():
                got = tf.make_ndarray(request.inputs[name])
                if value.dtype == object:
                    self.assertEqual([g.decode() if isinstance(v, str) else g
                                      for g, v in zip(got, value)], value.tolist())
                else:
                    np.testing.assert_array_equal(got, value)
            # Our encoding is byte-for-byte what the official classes serialize.
            self.assertEqual(log.SerializeToString(deterministic=True), record)

    def test_no_requests(self):
        with self.assertRaises(ValueError):
            warmup.write_warmup_requests(tempfile.gettempdir(), [])
