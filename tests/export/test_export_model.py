"""`keras_bert_pkg.export`: every task model, checked in a fresh process without our package.

The models are tiny (two layers, hidden 32) but use the real uncased vocabulary, and
every input is real text from ../shared/data (SST-2, MRPC, CoNLL-2003). The exported
SavedModels are loaded by `savedmodel_runner.py` in a new Python process that imports
only TensorFlow and TensorFlow Text (or TensorFlow alone for the token-id models), never
keras_bert_pkg or keras-hub, and its outputs must match the Keras models' to 1e-5.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf

import keras_bert_pkg
from keras_bert_pkg.data.conll import tag_list
from keras_bert_pkg.data.token_alignment import TokenAligner, entity_spans
from keras_bert_pkg.export import warmup
from keras_bert_pkg.export.example_parsing import make_example
from keras_bert_pkg.export.op_report import non_core_ops
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_classifier import BertClassifier
from keras_bert_pkg.models.bert_multiple_choice import BertMultipleChoice
from keras_bert_pkg.models.bert_token_classifier import BertTokenClassifier
from keras_bert_pkg.models.word_tags import TagDecoding
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.export import export_helpers as h
from tests.test_case import PROJECT_ROOT, UNCASED_VOCAB, TestCase, tiny_backbone_config, requires_shared_data

pytestmark = requires_shared_data

NER_DECODING = TagDecoding(stride=16, aggregation="max")
LENGTH = 32
ATOL = 1e-5
MRPC_LABELS = ["not_equivalent", "equivalent"]


def _examples(inputs):
    """Serialized tf.Examples of padded token-id inputs, each trimmed to its length."""
    out = []
    for row in range(len(inputs["token_ids"])):
        mask = np.asarray(inputs["padding_mask"][row])
        n = int(mask.reshape([-1, mask.shape[-1]]).sum(-1).max())
        out.append(make_example(*(np.asarray(inputs[k][row])[..., :n]
                                  for k in ("token_ids", "segment_ids", "padding_mask"))))
    return out


def _tokens(inputs):
    return {k: h.int_input(np.asarray(v).astype(np.int32)) for k, v in inputs.items()
            if k in ("token_ids", "segment_ids", "padding_mask")}


class ExportModelTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        keras.config.set_dtype_policy("float32")
        keras.utils.set_random_seed(7)
        cls.tmp = tempfile.mkdtemp(prefix="export_test_")
        cls.dir = os.path.join(cls.tmp, "savedmodels")
        tok = cls.tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        cls.pre = BertPreprocessor(tok, LENGTH)
        cls.pre_dynamic = BertPreprocessor(tok, LENGTH, dynamic_padding=True)

        def backbone():
            return BertBackbone(**tiny_backbone_config())

        cls.sst2 = h.sst2_sentences(3)
        cls.mrpc_a, cls.mrpc_b = h.mrpc_pairs(3)
        texts, sentences = h.conll_sentences(40)
        cls.ner_texts = [t for t in texts if len(tok.encode(t)) <= LENGTH - 2][:3]
        cls.ner_long = h.squad_pairs(1)[1][0]
        cls.tags = tag_list(sentences)
        ctx, ends = h.mrpc_pairs(8, start=3)
        cls.mc_context = np.array(ctx[:2], dtype=object)
        cls.mc_endings = np.array([ends[:4], ends[4:8]], dtype=object)

        cls.models = {
            "embeddings": backbone(),
            "mrpc": BertClassifier(backbone(), 2, preprocessor=cls.pre),
            "ner": BertTokenClassifier(backbone(), len(cls.tags)),
            "swag": BertMultipleChoice(backbone(), 4),
        }
        options = {
            "embeddings": dict(tokenizer=tok, sequence_length=LENGTH),
            "mrpc": dict(labels=MRPC_LABELS, text_inputs=("sentence1", "sentence2")),
            "ner": dict(tokenizer=tok, sequence_length=LENGTH, labels=cls.tags, decoding=NER_DECODING),
            "swag": dict(tokenizer=str(UNCASED_VOCAB), sequence_length=LENGTH),
        }
        cls.results = {name: keras_bert_pkg.export_model(model, cls.dir, name, **options[name])
                       for name, model in cls.models.items()}

        cls.token_inputs = {
            "embeddings": cls.pre(tf.constant(cls.sst2)),
            "mrpc": cls.pre((tf.constant(cls.mrpc_a), tf.constant(cls.mrpc_b))),
            "ner": cls.pre(tf.constant(cls.ner_texts)),
            "swag": cls._mc_inputs(cls.pre),
        }
        cls.token_inputs = {k: {n: np.asarray(v).astype(np.int32) for n, v in d.items()}
                            for k, d in cls.token_inputs.items()}
        text_inputs = {
            "embeddings": {"text": h.string_input(cls.sst2)},
            "mrpc": {"sentence1": h.string_input(cls.mrpc_a), "sentence2": h.string_input(cls.mrpc_b)},
            "ner": {"text": h.string_input(cls.ner_texts + [cls.ner_long])},
            "swag": {"context": h.string_input(cls.mc_context),
                     "endings": h.string_input(cls.mc_endings)},
        }
        jobs, cls.job = [], {}
        for name, result in cls.results.items():
            for key, signature, inputs in (
                ("text", "serving_default", text_inputs[name]),
                ("token_ids", "serve_token_ids", _tokens(cls.token_inputs[name])),
                ("examples", "serve_examples",
                 {"examples": h.string_input(_examples(cls.token_inputs[name]))}),
            ):
                cls.job[name, key] = len(jobs)
                jobs.append({"path": result.path, "signature": signature, "inputs": inputs})
        cls.outputs, cls.modules = h.run_savedmodels(jobs, cls.tmp)

        jobs, cls.plain_job = [], {}
        for name, result in cls.results.items():
            cls.plain_job[name, "default"] = len(jobs)
            jobs.append({"path": result.token_ids_path, "signature": "serving_default",
                         "inputs": _tokens(cls.token_inputs[name])})
            cls.plain_job[name, "examples"] = len(jobs)
            jobs.append({"path": result.token_ids_path, "signature": "serve_examples",
                         "inputs": {"examples": h.string_input(_examples(cls.token_inputs[name]))}})
        cls.plain_job["failure"] = len(jobs)
        jobs.append({"path": cls.results["mrpc"].path, "expect_failure": True})
        cls.plain_outputs, cls.plain_modules = h.run_savedmodels(jobs, cls.tmp, no_text=True)

    @classmethod
    def _mc_inputs(cls, pre):
        k = 4
        firsts = np.repeat(cls.mc_context, k)
        seconds = cls.mc_endings.reshape([-1])
        x = pre((tf.constant(firsts.tolist()), tf.constant(seconds.tolist())))
        return {n: np.asarray(v).reshape([len(cls.mc_context), k, -1]) for n, v in x.items()}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def out(self, name, key):
        return self.outputs[self.job[name, key]]

    def predict(self, name, inputs):
        return self.models[name].predict(inputs, verbose=0)

    # --- the process ---------------------------------------------------------------
    def test_fresh_process_imported_neither_the_package_nor_keras_hub(self):
        self.assertEqual(self.modules, [])
        self.assertEqual(self.plain_modules, [])

    def test_text_model_needs_tensorflow_text_and_says_which_op(self):
        error = str(self.plain_outputs[self.plain_job["failure"]]["error"])
        self.assertIn("FastWordpieceTokenizeWithOffsets", error)

    def test_only_the_wordpiece_op_is_outside_core_tensorflow(self):
        for name, result in self.results.items():
            self.assertEqual(result.non_core_ops, ["FastWordpieceTokenizeWithOffsets"], name)
            self.assertEqual(non_core_ops(result.path), ["FastWordpieceTokenizeWithOffsets"])
            self.assertEqual(non_core_ops(result.token_ids_path), [], name)

    def test_readme_lists_every_op_outside_core_tensorflow(self):
        readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
        section = readme.split("## Serving with TF Serving", 1)[1].split("\n## ", 1)[0]
        ops = {op for result in self.results.values() for op in result.non_core_ops}
        self.assertTrue(ops)
        for op in ops:
            self.assertIn(f"`{op}`", section)

    # --- backbone ------------------------------------------------------------------
    def test_backbone_text_signature_matches_keras(self):
        x = self.pre_dynamic(tf.constant(self.sst2))
        ref = self.predict("embeddings", x)
        out = self.out("embeddings", "text")
        np.testing.assert_array_equal(out["padding_mask"], np.asarray(x["padding_mask"], np.int32))
        np.testing.assert_allclose(out["pooled_output"], ref["pooled_output"], atol=ATOL)
        np.testing.assert_allclose(out["sequence_output"], ref["sequence_output"], atol=ATOL)

    def test_backbone_token_and_example_signatures_match_keras(self):
        ref = self.predict("embeddings", self.token_inputs["embeddings"])
        for out in (self.out("embeddings", "token_ids"), self.out("embeddings", "examples"),
                    self.plain_outputs[self.plain_job["embeddings", "default"]]):
            width = out["sequence_output"].shape[1]
            np.testing.assert_allclose(out["pooled_output"], ref["pooled_output"], atol=ATOL)
            mask = self.token_inputs["embeddings"]["padding_mask"][:, :width, None]
            np.testing.assert_allclose(out["sequence_output"] * mask,
                                       ref["sequence_output"][:, :width] * mask, atol=ATOL)

    # --- classifier ------------------------------------------------------------------
    def test_classifier_text_signature_matches_keras_on_mrpc_pairs(self):
        logits = self.predict("mrpc", (self.mrpc_a, self.mrpc_b))
        out = self.out("mrpc", "text")
        np.testing.assert_allclose(out["logits"], logits, atol=ATOL)
        np.testing.assert_allclose(out["probabilities"], tf.nn.softmax(logits).numpy(), atol=ATOL)
        np.testing.assert_array_equal(out["label"], logits.argmax(-1))
        self.assertEqual(out["label_name"].tolist(), [MRPC_LABELS[i] for i in logits.argmax(-1)])

    def test_classifier_pairs_are_truncated_like_the_preprocessor(self):
        # Every MRPC pair here is longer than 32 tokens, so the in-graph packing had to
        # truncate exactly as BertPreprocessor does for the logits above to match.
        lengths = [len(self.tokenizer.encode(a)) + len(self.tokenizer.encode(b))
                   for a, b in zip(self.mrpc_a, self.mrpc_b)]
        self.assertTrue(all(n > LENGTH - 3 for n in lengths), lengths)

    def test_classifier_token_signatures_match_keras(self):
        logits = self.predict("mrpc", self.token_inputs["mrpc"])
        for out in (self.out("mrpc", "token_ids"), self.out("mrpc", "examples"),
                    self.plain_outputs[self.plain_job["mrpc", "default"]],
                    self.plain_outputs[self.plain_job["mrpc", "examples"]]):
            np.testing.assert_allclose(out["logits"], logits, atol=ATOL)
            self.assertEqual(out["label_name"].tolist(), [MRPC_LABELS[i] for i in logits.argmax(-1)])

    # --- token classifier ---------------------------------------------------------------
    def test_ner_text_signature_equals_offline_decoding_words_tags_and_entities(self):
        # The short texts and a long one (a SQuAD paragraph, several windows), against
        # the offline TokenAligner windows and decoding with the same stride and aggregation.
        texts = self.ner_texts + [self.ner_long]
        aligner = TokenAligner(self.tokenizer, self.tags, sequence_length=LENGTH, stride=NER_DECODING.stride)
        features, words, spans = aligner.encode_texts(texts)
        self.assertGreater(int((features["example_index"] == len(texts) - 1).sum()), 2)
        logits = self.predict("ner", {k: features[k] for k in
                                      ("token_ids", "segment_ids", "padding_mask")})
        tags = aligner.decode(logits, features, aggregation=NER_DECODING.aggregation)
        out = self.out("ner", "text")
        for i, text in enumerate(texts):
            n = int(out["num_words"][i])
            self.assertEqual(out["words"][i, :n].tolist(), words[i])
            self.assertEqual(out["word_tags"][i, :n].tolist(), tags[i])
            self.assertEqual(list(zip(out["word_starts"][i, :n].tolist(),
                                      out["word_ends"][i, :n].tolist())), spans[i])
            entities = entity_spans(tags[i], words[i], spans[i])
            m = int(out["num_entities"][i])
            self.assertEqual(m, len(entities))
            self.assertEqual(out["entity_types"][i, :m].tolist(), [e["type"] for e in entities])
            self.assertEqual(out["entity_starts"][i, :m].tolist(), [e["char_start"] for e in entities])
            self.assertEqual(out["entity_ends"][i, :m].tolist(), [e["char_end"] for e in entities])
            self.assertEqual(out["entity_texts"][i, :m].tolist(),
                             [text[e["char_start"]:e["char_end"]] for e in entities])
            self.assertFalse(out["truncated"][i])
        self.assertEqual(out["num_windows"].tolist()[-1],
                         int((features["example_index"] == len(texts) - 1).sum()))

    def test_ner_token_signatures_match_keras(self):
        logits = self.predict("ner", self.token_inputs["ner"])
        for out in (self.out("ner", "token_ids"), self.out("ner", "examples"),
                    self.plain_outputs[self.plain_job["ner", "default"]]):
            width = out["logits"].shape[1]
            mask = self.token_inputs["ner"]["padding_mask"][:, :width]
            np.testing.assert_allclose(out["logits"] * mask[..., None],
                                       logits[:, :width] * mask[..., None], atol=ATOL)
            ids = logits[:, :width].argmax(-1)
            self.assertEqual(out["tags"][mask == 1].tolist(),
                             [self.tags[i] for i in ids[mask == 1]])

    # --- multiple choice ---------------------------------------------------------------
    def test_multiple_choice_text_signature_matches_keras(self):
        logits = self.predict("swag", self._mc_inputs(self.pre_dynamic))
        out = self.out("swag", "text")
        np.testing.assert_allclose(out["logits"], logits, atol=ATOL)
        np.testing.assert_allclose(out["probabilities"], tf.nn.softmax(logits).numpy(), atol=ATOL)
        np.testing.assert_array_equal(out["label"], logits.argmax(-1))

    def test_multiple_choice_token_signatures_match_keras(self):
        logits = self.predict("swag", self.token_inputs["swag"])
        for out in (self.out("swag", "token_ids"), self.out("swag", "examples"),
                    self.plain_outputs[self.plain_job["swag", "examples"]]):
            np.testing.assert_allclose(out["logits"], logits, atol=ATOL)

    # --- files -------------------------------------------------------------------------
    def test_layout_assets_and_export_info(self):
        for name, result in self.results.items():
            self.assertEqual(result.version, 1)
            self.assertEqual(result.path, os.path.join(self.dir, name, "1"))
            self.assertEqual(result.token_ids_path, os.path.join(self.dir, name + "_token_ids", "1"))
            for path in (result.path, result.token_ids_path):
                with open(os.path.join(path, "assets", "vocab.txt"), encoding="utf-8") as f:
                    self.assertEqual(f.read().split("\n")[:-1], self.tokenizer.get_vocabulary())
                with open(os.path.join(path, "assets.extra", "export_info.json")) as f:
                    info = json.load(f)
                self.assertEqual(info["sequence_length"], LENGTH)
                self.assertEqual(sorted(info["signatures"]),
                                 ["serve_examples", "serve_token_ids", "serving_default"])
        with open(os.path.join(self.results["ner"].path, "assets", "labels.txt")) as f:
            self.assertEqual(f.read().split("\n")[:-1], self.tags)
        self.assertEqual(sorted(os.listdir(self.dir)),
                         sorted(list(self.results) + [n + "_token_ids" for n in self.results]))

    def test_an_existing_version_is_never_overwritten(self):
        before = os.path.getmtime(os.path.join(self.results["mrpc"].path, "saved_model.pb"))
        with self.assertRaises(FileExistsError):
            keras_bert_pkg.export_model(self.models["mrpc"], self.dir, "mrpc", version=1)
        after = os.path.getmtime(os.path.join(self.results["mrpc"].path, "saved_model.pb"))
        self.assertEqual(before, after)
        self.assertEqual(sorted(os.listdir(os.path.join(self.dir, "mrpc"))), ["1"])

    def test_warmup_requests_parse_with_serving_api_and_replay(self):
        path = self.results["swag"].path
        requests = warmup.read_warmup_requests(
            os.path.join(path, "assets.extra", warmup.WARMUP_FILENAME))
        self.assertEqual([r[0] for r in requests],
                         ["serving_default", "serve_token_ids", "serve_examples"])
        loaded = tf.saved_model.load(path)
        for signature, inputs in requests:
            out = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
            self.assertEqual(out["logits"].shape, (1, 4))

    def test_saved_model_cli_lists_the_signatures(self):
        cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
        result = subprocess.run([cli, "show", "--dir", self.results["mrpc"].path, "--all"],
                                capture_output=True, text=True,
                                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        for signature in ("serving_default", "serve_token_ids", "serve_examples"):
            self.assertIn(f"signature_def['{signature}']", result.stdout)
        for text in ("inputs['sentence1']", "inputs['sentence2']", "outputs['label_name']",
                     "inputs['examples']", "inputs['padding_mask']"):
            self.assertIn(text, result.stdout)
