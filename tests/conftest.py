"""Pytest set-up shared by every test: the package (and so the TF backend) first."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras_bert_pkg  # noqa: E402,F401
import pytest  # noqa: E402

from tests.test_case import HAS_SHARED_DATA, SHARED_DATA  # noqa: E402


def pytest_configure(config):
    if os.environ.get("KERAS_BERT_REQUIRE_SHARED_DATA") and not HAS_SHARED_DATA:
        raise pytest.UsageError(f"KERAS_BERT_REQUIRE_SHARED_DATA is set but {SHARED_DATA} is missing: "
                                "the tests of real data would be skipped.")


def pytest_ignore_collect(collection_path, config):
    """The tests' helper modules and scripts (`*_job.py`, fixture makers, shared inputs)
    are not tests and hold no doctests: `--doctest-modules` must not import them."""
    name = collection_path.name
    if collection_path.suffix == ".py" and not name.startswith(("test_", "conftest", "__init__")):
        return True
    return None
