"""Pytest set-up shared by every test: the package (and so the TF backend) first."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras_bert_pkg  # noqa: E402,F401
