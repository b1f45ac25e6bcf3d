"""Published checkpoints by name: download once (from a local server), cache, offline use."""

import functools
import hashlib
import http.server
import os
import shutil
import threading
import zipfile
from unittest import mock

import numpy as np
import pytest

from keras_bert_pkg.checkpoints import registry
from keras_bert_pkg.checkpoints.tf1 import save_tf1
from keras_bert_pkg.models.bert_backbone import BertBackbone
from tests.checkpoints.real_inputs import real_batch
from tests.test_case import TestCase, requires_shared_data

NAME = "bert_uncased_L-2_H-128_A-2"
ARCHIVE_PATH = "2020_02_20/uncased_L-2_H-128_A-2.zip"


class LocalServer:
    """A static HTTP server on 127.0.0.1 that counts requests and stops itself after `lifetime` s."""

    def __init__(self, root, lifetime=120):
        self.requests = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.timer = threading.Timer(lifetime, self.stop)
        self.timer.daemon = True

    def __enter__(self):
        self.thread.start()
        self.timer.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __exit__(self, *exc):
        self.timer.cancel()
        if self.thread.is_alive():
            self.stop()
        self.thread.join(timeout=10)


def build_archive(root):
    """A Google-style archive: one top folder with bert_config.json, bert_model.ckpt.*, vocab.txt."""
    from tests.test_case import UNCASED_VOCAB

    model = BertBackbone.from_architecture("bert_tiny")  # L2 H128 A2, the real BERT-Tiny shape
    folder = os.path.join(root, "build", "uncased_L-2_H-128_A-2")
    save_tf1(model, folder, vocabulary=str(UNCASED_VOCAB))
    archive = os.path.join(root, "serve", ARCHIVE_PATH)
    os.makedirs(os.path.dirname(archive))
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(os.listdir(folder)):
            z.write(os.path.join(folder, f), f"uncased_L-2_H-128_A-2/{f}")
    return model, archive


@pytest.mark.timeout(300)
class RegistryTest(TestCase):
    @requires_shared_data
    def test_download_once_then_offline(self):
        root = self.get_temp_dir()
        model, archive = build_archive(root)
        cache = os.path.join(root, "cache")
        batch = {k: v[:, :64] for k, v in real_batch().items()}
        expected = model.predict(batch, verbose=0)
        with LocalServer(os.path.join(root, "serve")) as server, mock.patch.dict(
            os.environ, {"KERAS_BERT_CACHE": cache, "KERAS_BERT_MIRROR": server.url, "KERAS_BERT_OFFLINE": ""}
        ):
            with self.assertWarnsRegex(UserWarning, r"No published checksum .* not verified"):
                loaded = BertBackbone.from_preset(NAME)
            self.assertEqual(server.requests, ["/" + ARCHIVE_PATH])
            self.assertAllCloseNested(loaded.predict(batch, verbose=0), expected, atol=0, rtol=0)
            self.assertFalse(os.path.exists(os.path.join(cache, "downloads", "uncased_L-2_H-128_A-2.zip")))
            with open(archive, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            with open(os.path.join(cache, NAME, registry.MARKER)) as f:
                self.assertIn(digest, f.read())
            server.stop()  # the network is gone from here on

            # Warm cache: no network needed, under any alias.
            again = BertBackbone.from_preset("bert-tiny-uncased")
            self.assertAllCloseNested(again.predict(batch, verbose=0), expected, atol=0, rtol=0)
            self.assertEqual(len(server.requests), 1)

            # A failed download says what to fetch and where to put it.
            with mock.patch.dict(os.environ, {"KERAS_BERT_CACHE": os.path.join(root, "cache_down")}):
                with self.assertRaisesRegex(FileNotFoundError, r"Could not download .*Download .*uncased_L-2_H-128_A-2\.zip and put"):
                    registry.fetch(NAME, timeout=5)

        # Offline with a cold cache: the same advice, and following it works.
        cold = os.path.join(root, "cold")
        with mock.patch.dict(os.environ, {"KERAS_BERT_CACHE": cold, "KERAS_BERT_OFFLINE": "1"}):
            expected_archive = os.path.join(cold, "downloads", "uncased_L-2_H-128_A-2.zip")
            with self.assertRaisesRegex(
                FileNotFoundError,
                rf"not in the cache and offline mode is on\. Download {registry.GOOGLE}/{ARCHIVE_PATH} "
                rf"and put the archive at {expected_archive}",
            ):
                BertBackbone.from_preset(NAME)
            os.makedirs(os.path.dirname(expected_archive))
            shutil.copyfile(archive, expected_archive)
            with self.assertWarns(UserWarning):
                placed = BertBackbone.from_preset(NAME)
            self.assertAllCloseNested(placed.predict(batch, verbose=0), expected, atol=0, rtol=0)

    @requires_shared_data
    def test_checksums_are_enforced_when_known(self):
        root = self.get_temp_dir()
        _, archive = build_archive(root)
        with open(archive, "rb") as f:
            data = f.read()
        good = registry.register_checkpoint(
            "test_local_tiny", "placeholder", sha256=hashlib.sha256(data).hexdigest(), size=len(data)
        )
        bad = registry.register_checkpoint("test_local_tiny_bad", "placeholder", sha256="0" * 64)
        try:
            with LocalServer(os.path.join(root, "serve")) as server, mock.patch.dict(
                os.environ, {"KERAS_BERT_CACHE": os.path.join(root, "cache"), "KERAS_BERT_OFFLINE": ""}
            ):
                good.url = bad.url = f"{server.url}/{ARCHIVE_PATH}"
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # a verified download warns about nothing
                    directory = registry.fetch("test_local_tiny", timeout=30)
                self.assertTrue(os.path.isfile(os.path.join(directory, "bert_config.json")))
                with self.assertRaisesRegex(ValueError, r"is not the published archive: sha256 [0-9a-f]{64}, expected 0{64}\. It was deleted"):
                    registry.fetch("test_local_tiny_bad", timeout=30)
                self.assertFalse(os.listdir(os.path.join(root, "cache", "downloads")))
        finally:
            for name in ("test_local_tiny", "test_local_tiny_bad"):
                registry._ENTRIES.pop(name)
                registry._ALIASES.pop(registry._key(name))

    def test_table_and_names(self):
        names = registry.list_checkpoints()
        self.assertEqual(len(names), 9 + 24)
        for name in names:
            self.assertTrue(registry.get_entry(name).url.startswith(registry.GOOGLE + "/"), name)
        self.assertEqual(registry.get_entry("uncased_L-12_H-768_A-12").name, "bert_base_uncased")
        self.assertEqual(registry.get_entry("bert-large-cased-whole-word-masking").name, "bert_large_cased_wwm")
        self.assertFalse(registry.get_entry("bert_base_multilingual_cased").lowercase)
        self.assertEqual(registry.get_entry("bert_medium_uncased").url, f"{registry.GOOGLE}/2020_02_20/uncased_L-8_H-512_A-8.zip")
        with self.assertRaisesRegex(FileNotFoundError, r"no such file or directory.*published checkpoint name"):
            BertBackbone.from_preset("bert_huge_uncased")
        self.assertTrue(np.all([registry.get_entry(n).sha256 is None for n in names]))  # none published
