"""Slow: the exported SavedModels on whole real dev sets equal the offline pipeline.

SQuAD v1.1 dev (every question, whole contexts) through the SQuAD model's raw-text
signature, and CoNLL-2003 validation (every sentence) through the NER model's, each in
a process that imports only TensorFlow and TensorFlow Text, against the offline
`predictions.json` path (`convert_examples_to_features` + `predict_squad`) and the
offline `TokenAligner` decoding of the same model. Random small models: the equality
of the two implementations is what is checked, not the answers' quality.
"""

import shutil
import tempfile

import keras
import pytest

import keras_bert_pkg as kb
from keras_bert_pkg.data.conll import read_conll, tag_list
from keras_bert_pkg.data.squad_examples import read_squad_examples
from keras_bert_pkg.data.squad_features import convert_examples_to_features
from keras_bert_pkg.data.token_alignment import TokenAligner
from keras_bert_pkg.evaluation.ner_evaluation import predict_word_tags
from keras_bert_pkg.evaluation.squad_evaluation import predict_squad
from tests.export import export_helpers as h
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data, tiny_backbone_config

pytestmark = [pytest.mark.slow, requires_shared_data]


class ServedEqualsOfflineTest(TestCase):
    def setUp(self):
        super().setUp()
        keras.config.set_dtype_policy("float32")
        keras.utils.set_random_seed(17)
        self.tmp = tempfile.mkdtemp(prefix="served_offline_")
        self.tokenizer = kb.BertTokenizer(str(UNCASED_VOCAB))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()

    def test_squad_v1_1_dev_served_answers_equal_predictions_json(self):
        length = 384
        model = kb.BertSpanLabeler(kb.BertBackbone(**tiny_backbone_config(max_sequence_length=length)),
                                   kb.BertPreprocessor(self.tokenizer, length))
        decoding = kb.SpanDecoding()  # doc stride 128, questions of 64 tokens, as offline
        path = str(SHARED_DATA / "squad" / "v1.1" / "dev.json")
        examples = read_squad_examples(path)
        features = convert_examples_to_features(examples, self.tokenizer, length, decoding.doc_stride,
                                                decoding.max_query_length)
        predictions, _, _ = predict_squad(model, examples, features)
        export = kb.export_model(model, self.tmp, "squad", decoding=decoding, token_ids_model=False)
        jobs = [{"path": export.path, "signature": "serving_default",
                 "inputs": {"question": h.string_input([e.question_text for e in examples[i:i + 500]]),
                            "context": h.string_input([e.context_text for e in examples[i:i + 500]])}}
                for i in range(0, len(examples), 500)]
        outputs, modules = h.run_savedmodels(jobs, self.tmp)
        self.assertEqual(modules, [])
        served = [text for out in outputs for text in out["answer_text"].tolist()]
        windows = sum(int(n) for out in outputs for n in out["num_windows"])
        differ = [(e.qas_id, predictions[e.qas_id], s) for e, s in zip(examples, served)
                  if predictions[e.qas_id] != s]
        print(f"\nSQuAD v1.1 dev: {len(examples)} questions, {windows} windows served "
              f"({len(features)} offline features); answers differing: {len(differ)} {differ[:5]}")
        self.assertEqual(windows, len(features))
        self.assertEqual(differ, [])

    def test_conll_2003_validation_served_tags_equal_the_offline_decoding(self):
        sentences = read_conll(str(SHARED_DATA / "ner" / "conll2003" / "valid.txt"))
        tags = tag_list(sentences)
        length = 64
        model = kb.BertTokenClassifier(kb.BertBackbone(**tiny_backbone_config(max_sequence_length=length)),
                                       len(tags), kb.BertPreprocessor(self.tokenizer, length))
        texts = [" ".join(s.words) for s in sentences]
        export = kb.export_model(model, self.tmp, "ner", labels=tags, token_ids_model=False)
        aligner = TokenAligner(self.tokenizer, tags, length)
        features, words, _ = aligner.encode_texts(texts)
        expected = predict_word_tags(model, aligner, features)
        jobs = [{"path": export.path, "signature": "serving_default",
                 "inputs": {"text": h.string_input(texts[i:i + 1000])}} for i in range(0, len(texts), 1000)]
        outputs, modules = h.run_savedmodels(jobs, self.tmp)
        self.assertEqual(modules, [])
        served_words, served_tags = [], []
        for out in outputs:
            for row, n in enumerate(out["num_words"]):
                served_words.append(out["words"][row, :n].tolist())
                served_tags.append(out["word_tags"][row, :n].tolist())
        differ = [i for i in range(len(texts)) if (served_words[i], served_tags[i]) != (words[i], expected[i])]
        print(f"\nCoNLL-2003 validation: {len(texts)} sentences, {sum(map(len, words))} words; "
              f"sentences differing: {len(differ)}")
        self.assertEqual(differ, [])
