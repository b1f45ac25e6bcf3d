"""Backend selection: this package runs on Keras 3 with the TensorFlow backend.

Imported first by `keras_bert_pkg/__init__.py`, before anything imports `keras`.
"""

import os

_REQUIRED = "tensorflow"


def configure_backend():
    """Selects the TensorFlow backend for Keras and quiets TensorFlow start-up logs.

    Raises:
        RuntimeError: if `KERAS_BACKEND` names another backend, or Keras was already
            imported with another backend.
    """
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen and chosen != _REQUIRED:
        raise RuntimeError(
            f"keras_bert_pkg needs the TensorFlow backend of Keras, but KERAS_BACKEND="
            f"{chosen!r}. Unset it or set KERAS_BACKEND=tensorflow before importing "
            "keras_bert_pkg."
        )
    os.environ["KERAS_BACKEND"] = _REQUIRED
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras  # noqa: E402  (after the environment is set)

    if keras.backend.backend() != _REQUIRED:
        raise RuntimeError(
            "keras_bert_pkg needs the TensorFlow backend of Keras, but Keras was already "
            f"imported with the {keras.backend.backend()!r} backend (from ~/.keras/keras.json "
            "or an earlier import). Set KERAS_BACKEND=tensorflow before importing keras."
        )
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover
        pass
