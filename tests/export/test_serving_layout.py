"""TF Serving layout: integer versions, atomic rename, never overwriting."""

import os
import tempfile

from keras_bert_pkg.export.serving_layout import list_versions, next_version, write_version
from tests.test_case import TestCase


def _writer(seen=None, fail=False):
    def write(tmp):
        with open(os.path.join(tmp, "saved_model.pb"), "w") as f:
            f.write("x")
        if seen is not None:
            seen.append(tmp)
        if fail:
            raise RuntimeError("write failed")
    return write


class ServingLayoutTest(TestCase):
    def test_versions_count_up_and_ignore_other_entries(self):
        with tempfile.TemporaryDirectory() as d:
            base = os.path.join(d, "sst2")
            self.assertEqual(list_versions(base), [])
            self.assertEqual(write_version(base, _writer()), (1, os.path.join(base, "1")))
            os.makedirs(os.path.join(base, "notes"))
            open(os.path.join(base, "7.txt"), "w").close()
            self.assertEqual(write_version(base, _writer())[0], 2)
            self.assertEqual(write_version(base, _writer(), version=10)[0], 10)
            self.assertEqual(list_versions(base), [1, 2, 10])
            self.assertEqual(next_version(base, os.path.join(d, "absent")), 11)

    def test_existing_version_is_never_overwritten(self):
        with tempfile.TemporaryDirectory() as d:
            write_version(d, _writer(), version=3)
            with self.assertRaisesRegex(FileExistsError, "Version 3"):
                write_version(d, _writer(), version=3)
            self.assertEqual(sorted(os.listdir(d)), ["3"])

    def test_written_in_a_hidden_temporary_directory_then_renamed(self):
        with tempfile.TemporaryDirectory() as d:
            seen = []
            version, path = write_version(d, _writer(seen))
            tmp = seen[0]
            self.assertEqual(os.path.dirname(tmp), d)  # same file system: rename is atomic
            self.assertTrue(os.path.basename(tmp).startswith("."))  # not a version name
            self.assertFalse(os.path.exists(tmp))
            self.assertTrue(os.path.isfile(os.path.join(path, "saved_model.pb")))

    def test_failed_write_leaves_nothing_behind(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(RuntimeError, "write failed"):
                write_version(d, _writer(fail=True))
            self.assertEqual(os.listdir(d), [])

    def test_bad_version(self):
        for bad in (0, -1, "2", 1.5, True):
            with self.assertRaises(ValueError):
                write_version(tempfile.gettempdir(), _writer(), version=bad)
