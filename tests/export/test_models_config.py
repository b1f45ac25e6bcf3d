"""models.config: generated and example files parse as TF Serving's ModelServerConfig."""

import os
import tempfile

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from keras_bert_pkg.export.models_config import models_config_text, write_models_config
from tests.test_case import PROJECT_ROOT, TestCase


def _parse(text):
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


class ModelsConfigTest(TestCase):
    def test_written_config_lists_every_model_and_version(self):
        with tempfile.TemporaryDirectory() as d:
            for name, versions in (("sst2", [1, 2]), ("sst2_token_ids", [1]), ("squad", [3])):
                for v in versions:
                    os.makedirs(os.path.join(d, name, str(v)))
            os.makedirs(os.path.join(d, "sst2", ".tmp-export-x"))
            path = write_models_config(d, base_path="/models")
            with open(path) as f:
                config = _parse(f.read())
        configs = {c.name: c for c in config.model_config_list.config}
        self.assertEqual(sorted(configs), ["squad", "sst2", "sst2_token_ids"])
        sst2 = configs["sst2"]
        self.assertEqual(sst2.base_path, "/models/sst2")
        self.assertEqual(sst2.model_platform, "tensorflow")
        self.assertEqual(list(sst2.model_version_policy.specific.versions), [1, 2])
        self.assertEqual(dict(sst2.version_labels), {"stable": 1, "canary": 2})
        self.assertEqual(list(configs["squad"].model_version_policy.specific.versions), [3])

    def test_quoting(self):
        config = _parse(models_config_text([{"name": 'a"b', "base_path": "C:\\m"}]))
        self.assertEqual(config.model_config_list.config[0].name, 'a"b')
        self.assertEqual(config.model_config_list.config[0].base_path, "C:\\m")

    def test_tracked_example_parses(self):
        with open(os.path.join(PROJECT_ROOT, "savedmodels", "models.config")) as f:
            config = _parse(f.read())
        names = [c.name for c in config.model_config_list.config]
        self.assertIn("sst2", names)
        self.assertIn("sst2_token_ids", names)
        self.assertTrue(all(c.base_path.startswith("/models/") for c in config.model_config_list.config))
