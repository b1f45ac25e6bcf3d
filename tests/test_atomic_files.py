"""Outputs appear whole or not at all: a write that fails (a full disk, simulated) names
the file, keeps the previous one and leaves no partial file; so do the package's writers
of metrics, predictions and curves."""

import errno
import json
import os
from unittest import mock

from keras_bert_pkg.atomic_files import atomic_path, atomic_write
from keras_bert_pkg.data.squad_postprocessing import write_squad_predictions
from keras_bert_pkg.training.run_artifacts import plot_history, write_metrics
from tests.test_case import TestCase


class FullDisk:
    """A file object whose writes fail with ENOSPC after `room` bytes."""

    def __init__(self, f, room):
        self.f, self.room = f, room

    def write(self, data):
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.f.__exit__(*exc)


def full_disk(room=10):
    real_open = open

    def opening(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return FullDisk(f, room) if "w" in mode else f
    return mock.patch("builtins.open", opening)


class AtomicFilesTest(TestCase):
    def setUp(self):
        super().setUp()
        self.folder = self.get_temp_dir()

    def test_failed_write_keeps_the_previous_file(self):
        path = os.path.join(self.folder, "predictions.json")
        with atomic_write(path) as f:
            f.write('{"old": 1}')
        with full_disk(), self.assertRaisesRegex(
                OSError, rf"{path}: not written \(No space left on device\); the previous file, if any, is unchanged"):
            with atomic_write(path) as f:
                f.write('{"new": "x' + "y" * 1000 + '"}')
        with open(path) as f:
            self.assertEqual(f.read(), '{"old": 1}')
        self.assertEqual(os.listdir(self.folder), ["predictions.json"])

    def test_an_exception_inside_leaves_nothing(self):
        path = os.path.join(self.folder, "model.keras")
        with self.assertRaises(KeyboardInterrupt), atomic_path(path) as tmp:
            self.assertTrue(tmp.endswith(".keras"))
            with open(tmp, "w") as f:
                f.write("half")
            raise KeyboardInterrupt
        self.assertEqual(os.listdir(self.folder), [])

    def test_package_writers_on_a_full_disk(self):
        write_metrics(self.folder, {"f1": 0.5})
        write_squad_predictions(self.folder, {"q1": "old"}, {"q1": []})
        with full_disk():
            with self.assertRaisesRegex(OSError, r"metrics\.json: not written"):
                write_metrics(self.folder, {"f1": 0.9, "long": "x" * 1000})
            with self.assertRaisesRegex(OSError, r"predictions\.json: not written"):
                write_squad_predictions(self.folder, {"q1": "new" * 100}, {"q1": []})
        with open(os.path.join(self.folder, "metrics.json")) as f:
            self.assertEqual(json.load(f), {"f1": 0.5})
        with open(os.path.join(self.folder, "predictions.json")) as f:
            self.assertEqual(json.load(f), {"q1": "old"})
        self.assertEqual(sorted(os.listdir(self.folder)), ["metrics.json", "nbest_predictions.json", "predictions.json"])

    def test_a_curve_that_cannot_be_drawn_leaves_no_file(self):
        path = os.path.join(self.folder, "curve.png")
        with mock.patch("matplotlib.figure.Figure.savefig", side_effect=OSError(errno.ENOSPC, "No space left on device")):
            with self.assertRaisesRegex(OSError, r"curve\.png: not written"):
                plot_history({"loss": [1.0, 0.5]}, path)
        self.assertEqual(os.listdir(self.folder), [])
