"""Hugging Face checkpoints: parity on the real all-MiniLM-L6-v2 weights, round trip, errors."""

import hashlib
import json
import os
import shutil
import sys
from unittest import mock

import numpy as np
import tensorflow as tf
from safetensors.numpy import load_file, save_file

from keras_bert_pkg.checkpoints.hf import canonical_to_hf_name, hf_to_canonical_name, read_hf, save_hf
from keras_bert_pkg.checkpoints.load_report import CheckpointMismatchError
from tests.checkpoints.loading import load_with_report
from keras_bert_pkg.checkpoints.weight_map import backbone_weight_map
from keras_bert_pkg.models.bert_backbone import BertBackbone
from tests.checkpoints.real_inputs import padded_batch, reference_items
from tests.test_case import MINILM_DIR, TestCase, tiny_backbone_config, requires_shared_data


def max_abs_difference(backbone, items):
    """Max abs difference of (sequence_output, pooled_output) against the reference."""
    out = backbone.predict(padded_batch(items), verbose=0)
    seq, pooled = 0.0, 0.0
    for row, item in enumerate(items):
        n = len(item["token_ids"])
        seq = max(seq, float(np.abs(out["sequence_output"][row, :n] - np.array(item["sequence_output"])).max()))
        pooled = max(pooled, float(np.abs(out["pooled_output"][row] - np.array(item["pooled_output"])).max()))
    return seq, pooled


def tiny_hf_checkpoint(directory, **overrides):
    backbone = BertBackbone(**tiny_backbone_config(**overrides))
    save_hf(backbone, directory)
    return backbone


@requires_shared_data
class HfParityTest(TestCase):
    """Parity (i): HF → ours reproduces Hugging Face transformers' reference outputs."""

    def test_minilm_matches_reference_outputs(self):
        backbone = BertBackbone.from_preset(str(MINILM_DIR))
        # The checkpoint's own config: Hugging Face "gelu" is the exact erf form.
        self.assertEqual(backbone.hidden_activation, "gelu")
        self.assertEqual((backbone.num_layers, backbone.hidden_dim, backbone.num_heads), (6, 384, 12))
        self.assertEqual(backbone.count_params(), 22_713_216)
        seq, pooled = max_abs_difference(backbone, reference_items())
        print(f"MiniLM HF parity: sequence_output max abs {seq:.3g}, pooled_output max abs {pooled:.3g}")
        self.assertLess(seq, 1e-4)
        self.assertLess(pooled, 1e-4)

    def test_wrong_gelu_form_is_outside_the_bound(self):
        # The parity bound is tight enough to see a swapped activation.
        backbone = BertBackbone.from_preset(str(MINILM_DIR), hidden_activation="gelu_approximate")
        seq, _ = max_abs_difference(backbone, reference_items())
        self.assertGreater(seq, 1e-3)

    def test_tokenizer_gives_reference_ids(self):
        from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
        from keras_bert_pkg.text.bert_tokenizer import BertTokenizer

        tokenizer = BertTokenizer(str(MINILM_DIR / "vocab.txt"), lowercase=True)
        preprocessor = BertPreprocessor(tokenizer, sequence_length=64)
        for item in reference_items():
            a = tf.constant([item["text_a"]])
            out = preprocessor(a if item["text_b"] is None else (a, tf.constant([item["text_b"]])))
            out = {k: np.asarray(v)[0] for k, v in out.items()}
            n = int(np.sum(np.asarray(out["padding_mask"])))
            self.assertEqual(np.asarray(out["token_ids"])[:n].tolist(), item["token_ids"], item["text_a"])
            self.assertEqual(np.asarray(out["segment_ids"])[:n].tolist(), item["segment_ids"], item["text_a"])


class HfRoundTripTest(TestCase):
    """Parity (iv): HF → ours → HF is bit-identical."""

    @requires_shared_data
    def test_minilm_round_trip_is_bit_identical(self):
        backbone = BertBackbone.from_preset(str(MINILM_DIR))
        out = self.get_temp_dir() + "/hf"
        save_hf(backbone, out, vocabulary=str(MINILM_DIR / "vocab.txt"))

        def sha(path):
            with open(path, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()

        self.assertEqual(sha(f"{out}/model.safetensors"), sha(MINILM_DIR / "model.safetensors"))
        self.assertEqual(sha(f"{out}/vocab.txt"), sha(MINILM_DIR / "vocab.txt"))
        with open(MINILM_DIR / "config.json") as f:
            original = json.load(f)
        with open(f"{out}/config.json") as f:
            written = json.load(f)
        for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                    "intermediate_size", "hidden_act", "max_position_embeddings",
                    "type_vocab_size", "layer_norm_eps"):
            self.assertEqual(written[key], original[key], key)

    def test_names_round_trip(self):
        backbone = BertBackbone(**tiny_backbone_config())
        for entry in backbone_weight_map(backbone):
            for prefix in ("", "bert."):
                hf_name, transpose = canonical_to_hf_name(entry.name, prefix)
                self.assertEqual(hf_to_canonical_name(hf_name[len(prefix):]), (entry.name, transpose))

    def test_bert_prefix_and_old_layer_norm_names(self):
        # BertForPreTraining-style names: `bert.` prefix, LayerNorm gamma/beta.
        directory = self.get_temp_dir() + "/prefixed"
        backbone = tiny_hf_checkpoint(directory)
        tensors = load_file(f"{directory}/model.safetensors")
        renamed = {}
        for name, value in tensors.items():
            name = "bert." + name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
            renamed[name] = value
        save_file(renamed, f"{directory}/model.safetensors", metadata={"format": "pt"})
        loaded, report = load_with_report(directory, strict=True)
        self.assertEqual(len(report.loaded), len(backbone.weights))
        inputs = backbone.dummy_inputs()
        self.assertAllCloseNested(backbone.predict(inputs, verbose=0), loaded.predict(inputs, verbose=0), atol=0)

    def test_tanh_gelu_config_names(self):
        directory = self.get_temp_dir() + "/tanh"
        tiny_hf_checkpoint(directory, hidden_activation="gelu_approximate")
        with open(f"{directory}/config.json") as f:
            self.assertEqual(json.load(f)["hidden_act"], "gelu_new")
        self.assertEqual(read_hf(directory).config["hidden_activation"], "gelu_approximate")


class HfLayoutTest(TestCase):
    def test_sharded_and_bfloat16_checkpoints(self):
        directory = self.get_temp_dir() + "/sharded"
        backbone = tiny_hf_checkpoint(directory)
        tensors = load_file(f"{directory}/model.safetensors")
        os.remove(f"{directory}/model.safetensors")
        names = sorted(tensors)
        shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
        weight_map = {}
        for file, part in shards.items():
            save_file({n: tensors[n] for n in part}, f"{directory}/{file}", metadata={"format": "pt"})
            weight_map.update({n: file for n in part})
        with open(f"{directory}/model.safetensors.index.json", "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f)
        inputs = backbone.dummy_inputs()
        loaded = BertBackbone.from_preset(directory, strict=True)
        self.assertAllCloseNested(loaded.predict(inputs, verbose=0), backbone.predict(inputs, verbose=0), atol=0)

        # bfloat16 weights (numpy has no bfloat16: read through TensorFlow, cast to float32).
        from safetensors.tensorflow import save_file as save_tf_file

        bf16 = {n: tf.cast(v, tf.bfloat16) if v.dtype == np.float32 else tf.constant(v) for n, v in tensors.items()}
        directory16 = self.get_temp_dir() + "/bf16"
        shutil.copytree(directory, directory16)
        for file in shards:
            os.remove(f"{directory16}/{file}")
        os.remove(f"{directory16}/model.safetensors.index.json")
        save_tf_file(bf16, f"{directory16}/model.safetensors", metadata={"format": "pt"})
        loaded16 = BertBackbone.from_preset(directory16, strict=True)
        word = loaded16.get_layer("token_embedding").embeddings.numpy()
        np.testing.assert_array_equal(word, tf.cast(bf16["embeddings.word_embeddings.weight"], tf.float32).numpy())


class HfErrorTest(TestCase):
    def test_shape_mismatch_names_tensor_and_shapes(self):
        directory = self.get_temp_dir() + "/mismatch"
        tiny_hf_checkpoint(directory)
        with open(f"{directory}/config.json") as f:
            config = json.load(f)
        config["intermediate_size"] = 48
        with open(f"{directory}/config.json", "w") as f:
            json.dump(config, f)
        with self.assertRaisesRegex(
            CheckpointMismatchError, r"encoder\.layer\.0\.intermediate\.dense\.weight.*\(32, 64\).*\(32, 48\)"
        ):
            BertBackbone.from_preset(directory)

    def test_unused_and_missing_tensors_are_listed(self):
        directory = self.get_temp_dir() + "/extra"
        tiny_hf_checkpoint(directory)
        tensors = load_file(f"{directory}/model.safetensors")
        tensors["classifier.weight"] = np.zeros((3, 32), "float32")
        del tensors["pooler.dense.weight"]
        save_file(tensors, f"{directory}/model.safetensors", metadata={"format": "pt"})
        with self.assertWarnsRegex(UserWarning, r"pooler\.dense\.weight \(pooled_dense/kernel\).*classifier\.weight"):
            _, report = load_with_report(directory)
        self.assertEqual(report.unused, ["classifier.weight"])
        self.assertEqual(report.missing, [("pooler.dense.weight", "pooled_dense/kernel")])
        with self.assertRaisesRegex(CheckpointMismatchError, "classifier.weight"):
            BertBackbone.from_preset(directory, strict=True)

    def test_unknown_activation_names_file_and_key(self):
        directory = self.get_temp_dir() + "/act"
        tiny_hf_checkpoint(directory)
        with open(f"{directory}/config.json") as f:
            config = json.load(f)
        config["hidden_act"] = "swish"
        with open(f"{directory}/config.json", "w") as f:
            json.dump(config, f)
        with self.assertRaisesRegex(ValueError, r"config\.json: hidden_act 'swish'"):
            BertBackbone.from_preset(directory)

    def test_pytorch_bin_without_torch_says_to_convert(self):
        directory = self.get_temp_dir() + "/bin"
        tiny_hf_checkpoint(directory)
        os.remove(f"{directory}/model.safetensors")
        with open(f"{directory}/pytorch_model.bin", "wb") as f:
            f.write(b"not read: torch is absent")
        with mock.patch.dict(sys.modules, {"torch": None}):  # import torch fails
            with self.assertRaisesRegex(ImportError, r"pytorch_model\.bin is a PyTorch pickle.*weights_only=True.*safetensors"):
                BertBackbone.from_preset(directory)

    @requires_shared_data
    def test_unknown_directory_lists_expected_files(self):
        directory = self.get_temp_dir() + "/empty"
        os.makedirs(directory, exist_ok=True)
        shutil.copyfile(MINILM_DIR / "vocab.txt", f"{directory}/vocab.txt")
        with self.assertRaisesRegex(FileNotFoundError, r"not a BERT checkpoint.*vocab\.txt.*config\.json \+ model\.safetensors"):
            BertBackbone.from_preset(directory)
