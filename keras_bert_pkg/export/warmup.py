"""TF Serving warm-up requests: `assets.extra/tf_serving_warmup_requests`.

TF Serving replays the records of this file (a TFRecord of `tensorflow.serving.
PredictionLog` protos) when it loads a version, before it is marked available, so the
first real request does not pay for graph optimisation and memory allocation.

The protos are encoded here directly in the protobuf wire format, from
`tf.make_tensor_proto`, so exporting does not need the `tensorflow-serving-api`
package. The nesting written is `PredictionLog.predict_log` (field 6) →
`PredictLog.request` (1) → `PredictRequest` { `model_spec` (1) { `name` (1),
`signature_name` (3) }, `inputs` (2): map<string, TensorProto> }.
"""

import os

import numpy as np
import tensorflow as tf

WARMUP_FILENAME = "tf_serving_warmup_requests"
_LEN = 2  # wire type of length-delimited fields


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, payload):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return _varint((number << 3) | _LEN) + _varint(len(payload)) + payload


def predict_request(inputs, signature_name, model_name=""):
    """A serialized `PredictRequest` for `inputs` ({name: array-like})."""
    spec = b""
    if model_name:
        spec += _field(1, model_name)
    spec += _field(3, signature_name)
    body = _field(1, spec)
    for name in sorted(inputs):
        value = inputs[name]
        if isinstance(value, tf.Tensor):
            value = value.numpy()
        tensor = tf.make_tensor_proto(np.asarray(value)).SerializeToString()
        body += _field(2, _field(1, name) + _field(2, tensor))
    return body


def prediction_log(inputs, signature_name, model_name=""):
    """A serialized `PredictionLog` holding one predict request."""
    return _field(6, _field(1, predict_request(inputs, signature_name, model_name)))


def write_warmup_requests(savedmodel_dir, requests, model_name=""):
    """Writes `assets.extra/tf_serving_warmup_requests` into a SavedModel directory.

    Args:
        savedmodel_dir: the version directory.
        requests: a list of `(signature_name, {input name: array})`.
        model_name: written into each request's `model_spec.name`.

    Returns:
        The path of the written file.
    """
    if not requests:
        raise ValueError("write_warmup_requests: no requests.")
    if len(requests) > 1000:
        raise ValueError("TF Serving reads at most 1000 warm-up records.")
    directory = os.path.join(savedmodel_dir, "assets.extra")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, WARMUP_FILENAME)
    with tf.io.TFRecordWriter(path) as writer:
        for signature_name, inputs in requests:
            writer.write(prediction_log(inputs, signature_name, model_name))
    return path


def read_warmup_requests(path):
    """Reads a warm-up file back as `(signature_name, {name: numpy array})` pairs.

    Needs `tensorflow-serving-api` (its `prediction_log_pb2`); used to check files.
    """
    from tensorflow_serving.apis import prediction_log_pb2

    out = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        request = log.predict_log.request
        out.append((request.model_spec.signature_name,
                    {k: tf.make_ndarray(v) for k, v in request.inputs.items()}))
    return out
