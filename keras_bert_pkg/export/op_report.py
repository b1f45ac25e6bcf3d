"""Which ops a SavedModel uses, and which of them core TensorFlow does not provide.

A server (TF Serving, or a Python process) can only load a SavedModel when every op in
its graph and function library is registered in that binary. Core TensorFlow's ops are
the ones `tf.raw_ops` lists (generated when TensorFlow is built, so ops that a library
such as TensorFlow Text registers at import time are never among them).
"""

import os

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2


def savedmodel_ops(path):
    """The sorted op type names used by a SavedModel (graph and function library)."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    ops = set()
    for meta_graph in proto.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return sorted(ops)


def non_core_ops(path):
    """The ops of a SavedModel that TensorFlow alone does not have.

    Example:
    >>> import tempfile
    >>> module = tf.Module()
    >>> module.add_one = tf.function(lambda x: x + 1, input_signature=[tf.TensorSpec([], tf.float32)])
    >>> path = tempfile.mkdtemp()
    >>> tf.saved_model.save(module, path)
    >>> non_core_ops(path)
    []
    """
    core = set(dir(tf.raw_ops))
    function_names = set()
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    for meta_graph in proto.meta_graphs:
        function_names.update(f.signature.name for f in meta_graph.graph_def.library.function)
    # Calls of library functions by name are not ops.
    return [op for op in savedmodel_ops(path) if op not in core and op not in function_names]
