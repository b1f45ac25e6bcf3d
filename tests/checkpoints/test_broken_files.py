"""Broken checkpoint files: every reader stops with a `BrokenFileError` that names the
file and the line, key or tensor, before any weight is assigned; hostile archives are
refused and leave nothing in the cache."""

import io
import os
import tarfile
import tempfile
import zipfile
from unittest import mock

import numpy as np
from safetensors.numpy import load_file, save_file

from keras_bert_pkg.checkpoints import registry
from keras_bert_pkg.broken_files import BrokenFileError
from keras_bert_pkg.checkpoints.hf import save_hf
from keras_bert_pkg.checkpoints.load_report import load_weights
from keras_bert_pkg.checkpoints.presets import read_preset
from keras_bert_pkg.checkpoints.tf1 import save_tf1
from keras_bert_pkg.checkpoints.vocabulary_file import read_vocabulary
from keras_bert_pkg.models.bert_backbone import BertBackbone
from tests.test_case import TestCase, tiny_backbone_config


def _truncate(path, keep=0.5):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: int(len(data) * keep)])


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


class BrokenHfCheckpointTest(TestCase):
    def setUp(self):
        super().setUp()
        self.directory = os.path.join(self.get_temp_dir(), "hf")
        self.backbone = BertBackbone(**tiny_backbone_config())
        save_hf(self.backbone, self.directory)
        self.weights = os.path.join(self.directory, "model.safetensors")
        self.config = os.path.join(self.directory, "config.json")

    def test_truncated_safetensors(self):
        _truncate(self.weights)
        with self.assertRaisesRegex(BrokenFileError, r"model\.safetensors: .*bytes.*download may have been cut short"):
            BertBackbone.from_preset(self.directory)

    def test_broken_config_json(self):
        with open(self.config, "rb") as f:
            good = f.read()
        cases = {
            b"": r"config\.json: the file is empty; expected a JSON object",
            good[: len(good) // 2]: r"config\.json, line \d+, column \d+: not valid JSON .*truncated",
            good.replace(b"{", b"{\"name\": \"caf\xe9\",", 1): r"config\.json: byte \d+ is not UTF-8",
            b"[1, 2]": r"config\.json: expected a JSON object, found a JSON list",
        }
        for data, pattern in cases.items():
            _write(self.config, data)
            with self.subTest(pattern=pattern), self.assertRaisesRegex(BrokenFileError, pattern):
                BertBackbone.from_preset(self.directory)

    def test_byte_order_mark_and_crlf_are_read(self):
        with open(self.config, "rb") as f:
            good = f.read()
        _write(self.config, b"\xef\xbb\xbf" + good.replace(b"\n", b"\r\n"))
        loaded = BertBackbone.from_preset(self.directory)
        inputs = self.backbone.dummy_inputs()
        self.assertAllCloseNested(loaded.predict(inputs, verbose=0), self.backbone.predict(inputs, verbose=0), atol=0)

    def test_nan_weight_is_named_and_nothing_is_assigned(self):
        tensors = load_file(self.weights)
        name = sorted(k for k in tensors if k.endswith("attention.self.query.weight"))[0]
        tensors[name][0, 0] = np.nan
        tensors[name][1, 1] = np.inf
        save_file(tensors, self.weights, metadata={"format": "pt"})
        target = BertBackbone(**tiny_backbone_config())
        before = [w.copy() for w in target.get_weights()]
        with self.assertRaisesRegex(BrokenFileError, rf"tensor '{name}' holds 2 NaN or infinite value\(s\)"):
            load_weights(target, read_preset(self.directory))
        for old, new in zip(before, target.get_weights()):
            np.testing.assert_array_equal(old, new)


class BrokenTf1CheckpointTest(TestCase):
    def setUp(self):
        super().setUp()
        self.prefix = save_tf1(BertBackbone(**tiny_backbone_config()), os.path.join(self.get_temp_dir(), "tf1"))
        self.directory = os.path.dirname(self.prefix)

    def test_truncated_data_file(self):
        data = [f for f in os.listdir(self.directory) if ".data-" in f][0]
        _truncate(os.path.join(self.directory, data))
        with self.assertRaisesRegex(BrokenFileError, r"bert_model\.ckpt: tensor \S+ cannot be read .*truncated"):
            BertBackbone.from_preset(self.prefix)

    def test_truncated_index_file(self):
        _truncate(self.prefix + ".index", keep=0.3)
        with self.assertRaisesRegex(BrokenFileError, r"bert_model\.ckpt: the TensorFlow checkpoint cannot be read"):
            BertBackbone.from_preset(self.prefix)

    def test_truncated_bert_config(self):
        config = os.path.join(self.directory, "bert_config.json")
        _truncate(config)
        with self.assertRaisesRegex(BrokenFileError, r"bert_config\.json, line \d+, column \d+: not valid JSON"):
            BertBackbone.from_preset(self.prefix)


class BrokenKerasFileTest(TestCase):
    def test_truncated_keras_file(self):
        path = os.path.join(self.get_temp_dir(), "backbone.keras")
        BertBackbone(**tiny_backbone_config()).save(path)
        _truncate(path)
        with self.assertRaisesRegex(BrokenFileError, r"backbone\.keras: not a \.keras file .* bytes"):
            BertBackbone.from_preset(path)


class BrokenVocabularyTest(TestCase):
    def _vocab(self, data):
        path = os.path.join(self.get_temp_dir(), "vocab.txt")
        _write(path, data)
        return path

    def test_bom_and_crlf_are_read(self):
        self.assertEqual(read_vocabulary(self._vocab(b"\xef\xbb\xbf[PAD]\r\n[UNK]\r\ncaf\xc3\xa9\r\n")),
                         ["[PAD]", "[UNK]", "café"])

    def test_latin1_names_the_line(self):
        with self.assertRaisesRegex(BrokenFileError, r"vocab\.txt: line 3 is not UTF-8"):
            read_vocabulary(self._vocab(b"[PAD]\n[UNK]\ncaf\xe9\n"))

    def test_empty(self):
        with self.assertRaisesRegex(BrokenFileError, r"vocab\.txt: the vocabulary file is empty"):
            read_vocabulary(self._vocab(b""))


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members:
            z.writestr(name, data)


def _tar(path, members):
    with tarfile.open(path, "w:gz") as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)


def _file(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


class HostileArchiveTest(TestCase):
    """Archives placed in the cache's downloads folder (offline mode) are checked before
    anything is unpacked, and a refused archive leaves no folder behind."""

    def setUp(self):
        super().setUp()
        for table in (registry._ENTRIES, registry._ALIASES):  # the test entries go away after
            patcher = mock.patch.dict(table)
            patcher.start()
            self.addCleanup(patcher.stop)

    def _fetch(self, build, archive_name):
        root = tempfile.mkdtemp(dir=self.get_temp_dir())
        cache = os.path.join(root, "cache")
        name = "test_hostile_" + archive_name.replace(".", "_")
        entry = registry.register_checkpoint(name, f"https://example.invalid/{archive_name}")
        os.makedirs(os.path.join(cache, "downloads"))
        build(os.path.join(cache, "downloads", archive_name))
        outside = set(os.listdir(root))
        with mock.patch.dict(os.environ, {"KERAS_BERT_CACHE": cache, "KERAS_BERT_OFFLINE": "1"}):
            with self.assertWarns(UserWarning), self.assertRaises(BrokenFileError) as raised:
                registry.fetch(name)
        self.assertEqual(set(os.listdir(root)), outside)
        self.assertEqual(sorted(os.listdir(cache)), ["downloads"])
        self.assertEqual(entry.name, name)
        return str(raised.exception)

    def test_zip_members_outside_the_cache_are_refused(self):
        for member in ("../escaped.txt", "/tmp/escaped_absolute.txt", "a/../../escaped.txt"):
            with self.subTest(member=member):
                message = self._fetch(lambda p: _zip(p, [("ok/vocab.txt", b"[PAD]\n"), (member, b"x")]), "hostile.zip")
                self.assertRegex(message, r"hostile\.zip: member .* would be written outside")

    def test_zip_symlink_is_refused(self):
        def build(path):
            with zipfile.ZipFile(path, "w") as z:
                info = zipfile.ZipInfo("ok/link")
                info.external_attr = (0o120777 << 16)
                z.writestr(info, "/etc/passwd")
        self.assertRegex(self._fetch(build, "link.zip"), r"link\.zip: member 'ok/link' would be written outside")

    def test_tar_members_outside_the_cache_are_refused(self):
        cases = {
            "dotdot": [_file("ok/a.txt"), _file("../escaped.txt")],
            "absolute": [_file("/tmp/escaped_absolute.txt")],
            "symlink": [_file("ok/a.txt"), _link("ok/passwd", "/etc/passwd")],
            "hardlink": [_file("ok/a.txt"), _link("ok/hard", "../../outside", tarfile.LNKTYPE)],
        }
        for label, members in cases.items():
            with self.subTest(label):
                message = self._fetch(lambda p: _tar(p, members), f"{label}.tar.gz")
                self.assertRegex(message, rf"{label}\.tar\.gz: member .* would be written outside")

    def test_truncated_and_foreign_archives(self):
        def truncated(path):
            _tar(path, [_file("ok/big.bin", os.urandom(200_000))])
            _truncate(path)
        self.assertRegex(self._fetch(truncated, "cut.tar.gz"), r"cut\.tar\.gz: (the archive cannot be unpacked|not a zip or tar archive).*bytes")
        self.assertRegex(self._fetch(lambda p: _write(p, b"<html>404</html>"), "page.zip"),
                         r"page\.zip: not a zip or tar archive")

    def test_failed_download_leaves_no_partial_file(self):
        root = self.get_temp_dir()
        name = "test_partial_download"
        registry.register_checkpoint(name, "https://example.invalid/partial.zip")

        def broken_urlopen(*args, **kwargs):
            raise TimeoutError("read timed out")
        with mock.patch.dict(os.environ, {"KERAS_BERT_CACHE": root, "KERAS_BERT_OFFLINE": ""}), \
                mock.patch("urllib.request.urlopen", broken_urlopen), \
                self.assertRaisesRegex(FileNotFoundError, r"Could not download"):
            registry.fetch(name)
        self.assertEqual(os.listdir(os.path.join(root, "downloads")), [])
