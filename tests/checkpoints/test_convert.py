"""The conversion CLI, and our own `.keras` files as a checkpoint format."""

import hashlib
import os
import subprocess
import sys

import keras

from keras_bert_pkg.checkpoints.hf import save_hf
from keras_bert_pkg.checkpoints.formats import detect_format
from tests.checkpoints.loading import load_with_report
from keras_bert_pkg.convert import main
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
from tests.checkpoints.real_inputs import real_batch
from tests.checkpoints.test_pretrainer_checkpoints import pretraining_batch, tiny_pretrainer
from tests.test_case import MINILM_DIR, PROJECT_ROOT, TestCase, tiny_backbone_config, requires_shared_data


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class ConvertTest(TestCase):
    @requires_shared_data
    def test_minilm_hf_to_tf1_to_keras_to_hf(self):
        root = self.get_temp_dir()
        with self.assertWarnsRegex(UserWarning, "gelu_exact"):  # exact GELU has no original name
            self.assertEqual(main(["--from", str(MINILM_DIR), "--to", f"{root}/tf1", "--format", "tf1"]), 0)
        self.assertEqual(detect_format(f"{root}/tf1"), "tf1")
        self.assertEqual(sha256(f"{root}/tf1/vocab.txt"), sha256(MINILM_DIR / "vocab.txt"))  # carried along
        main(["--from", f"{root}/tf1", "--to", f"{root}/minilm.keras", "--format", "keras"])
        self.assertIsInstance(keras.models.load_model(f"{root}/minilm.keras"), BertBackbone)
        main(["--from", f"{root}/minilm.keras", "--to", f"{root}/hf", "--format", "hf", "--vocab", str(MINILM_DIR / "vocab.txt")])
        # HF → TF1 → .keras → HF gives back the original safetensors file, byte for byte.
        self.assertEqual(sha256(f"{root}/hf/model.safetensors"), sha256(MINILM_DIR / "model.safetensors"))
        loaded = BertBackbone.from_preset(f"{root}/minilm.keras")
        self.assertEqual(loaded.hidden_activation, "gelu")

    @requires_shared_data
    def test_pretrainer_heads_are_kept_and_keras_files_load(self):
        root = self.get_temp_dir()
        model = tiny_pretrainer()
        save_hf(model, f"{root}/hf")
        main(["--from", f"{root}/hf", "--to", f"{root}/tf1", "--format", "tf1", "--strict"])
        main(["--from", f"{root}/tf1", "--to", f"{root}/p.keras", "--format", "keras"])
        self.assertEqual(detect_format(f"{root}/p.keras"), "keras")
        batch = pretraining_batch()
        expected = model.predict(batch, verbose=0)
        reloaded = BertPretrainer.from_preset(f"{root}/p.keras")
        self.assertAllCloseNested(reloaded.predict(batch, verbose=0), expected, atol=0, rtol=0)
        backbone, report = load_with_report(f"{root}/p.keras")  # the backbone of it
        self.assertIsInstance(backbone, BertBackbone)
        self.assertEqual(report.format, "keras")
        with self.assertWarnsRegex(UserWarning, "pre-training heads are not part of a BertBackbone"):
            main(["--from", f"{root}/tf1", "--to", f"{root}/body", "--format", "hf", "--model", "backbone"])
        self.assertFalse(BertPretrainer.__name__ in open(f"{root}/body/config.json").read())

    @requires_shared_data
    def test_module_entry_point(self):
        root = self.get_temp_dir()
        backbone = BertBackbone(**tiny_backbone_config())
        save_hf(backbone, f"{root}/hf")
        result = subprocess.run(
            [sys.executable, "-m", "keras_bert_pkg.convert", "--from", f"{root}/hf", "--to", f"{root}/kh",
             "--format", "keras_hub", "--allow-activation-change"],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
        )
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertIn("wrote keras_hub", result.stdout)
        self.assertEqual(detect_format(f"{root}/kh"), "keras_hub")
        batch = {k: v[:, :64] for k, v in real_batch().items()}
        back = BertBackbone.from_preset(f"{root}/kh")  # keras-hub runs tanh GELU
        reference = BertBackbone(**tiny_backbone_config(hidden_activation="gelu_approximate"))
        reference.set_weights(backbone.get_weights())
        self.assertAllCloseNested(back.predict(batch, verbose=0), reference.predict(batch, verbose=0), atol=0, rtol=0)

    def test_bad_source_says_what_was_expected(self):
        with self.assertRaisesRegex(FileNotFoundError, "Hugging Face directory .config.json . model.safetensors"):
            main(["--from", os.path.join(self.get_temp_dir(), "nothing"), "--to", "x", "--format", "hf"])
