"""`models.span_answers` and `text.question_windows`: answers over contexts of any length.

The windows and the answers are checked against the offline pipeline
(`convert_examples_to_features` + `postprocess_squad_predictions`) on real SQuAD v1.1
and v2.0 dev questions with whole contexts; a model built to point at one word finds
it after many windows of other text.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.squad_examples import read_squad_examples
from keras_bert_pkg.data.squad_features import convert_examples_to_features, squad_inputs
from keras_bert_pkg.data.squad_postprocessing import postprocess_squad_predictions
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_span_labeler import BertSpanLabeler
from keras_bert_pkg.models.span_answers import SpanDecoding, answer_function
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from keras_bert_pkg.text.doc_stride_windows import question_windows
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data, tiny_backbone_config

LENGTH = 48


def _spotting_model(tokenizer, word):
    """A one-block span labeler whose start and end logits peak at `word`, wherever it is:
    no position or segment embedding, the block's residual branches zeroed, and a head
    that scores each token by the similarity of its normalized embedding with `word`'s."""
    backbone = BertBackbone(**tiny_backbone_config(num_layers=1, max_sequence_length=LENGTH))
    model = BertSpanLabeler(backbone, BertPreprocessor(tokenizer, LENGTH))
    for layer in (backbone.position_embedding, backbone.segment_embedding):
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    block = backbone.transformer_layers[0]
    for layer in (block.attention_output_dense, block.output_dense):
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    embedding = backbone.token_embedding.get_weights()[0][tokenizer.token_to_id(word)]
    target = (embedding - embedding.mean()) / embedding.std()
    kernel = np.stack([target, target], axis=1).astype("float32")
    model.span_logits.set_weights([kernel, np.zeros(2, "float32")])
    return model


class QuestionWindowsTest(TestCase):
    @requires_shared_data
    def test_windows_equal_the_offline_features(self):
        tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        examples = read_squad_examples(str(SHARED_DATA / "squad" / "v1.1" / "dev.json"))[:40:4]
        for stride, query in ((8, 16), (31, 7), (100, 16)):
            features = convert_examples_to_features(examples, tokenizer, LENGTH, stride, query)
            windows = question_windows(tokenizer, tf.constant([e.question_text for e in examples]),
                                       tf.constant([e.context_text for e in examples]), LENGTH, stride, query)
            inputs = squad_inputs(features, windows["token_ids"].shape[1])
            for key in ("token_ids", "segment_ids", "padding_mask"):
                np.testing.assert_array_equal(windows[key].numpy(), inputs[key], err_msg=f"{key} stride {stride}")
            self.assertEqual(windows["example_index"].numpy().tolist(), [f.example_index for f in features])
            for row, feature in enumerate(features):
                expected = np.zeros(windows["token_ids"].shape[1], bool)
                for position, best in feature.token_is_max_context.items():
                    expected[position] = best
                np.testing.assert_array_equal(windows["max_context"].numpy()[row], expected)

    def test_long_contexts_are_cut_at_the_bound(self):
        tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        windows = question_windows(tokenizer, tf.constant(["who ?", "who ?"]),
                                   tf.constant(["a b c " * 100, "a b c"]), 32, 8, 8, max_context_tokens=50)
        self.assertEqual(windows["truncated"].numpy().tolist(), [True, False])
        first = windows["example_index"].numpy() == 0
        self.assertEqual(int(windows["segment"].numpy()[first].__eq__(1).sum()) > 0, True)
        self.assertEqual(windows["num_windows"].numpy().tolist(), [1 + -(-(50 - 27) // 8), 1])

    def test_bad_sizes_are_refused(self):
        tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        for kwargs, message in ((dict(doc_stride=0), "doc_stride"), (dict(max_query_length=29), "no room")):
            with self.assertRaisesRegex(ValueError, message):
                question_windows(tokenizer, tf.constant(["q"]), tf.constant(["c"]), 32, **kwargs)
        with self.assertRaisesRegex(ValueError, "top_k"):
            SpanDecoding(top_k=0)


class SpanAnswersTest(TestCase):
    @requires_shared_data
    def test_answers_equal_the_offline_post_processing_v1_and_v2(self):
        keras.utils.set_random_seed(3)
        tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        model = BertSpanLabeler(BertBackbone(**tiny_backbone_config()), BertPreprocessor(tokenizer, LENGTH))
        for version, threshold in (("1.1", None), ("2.0", 0.5)):
            examples = read_squad_examples(str(SHARED_DATA / "squad" / f"v{version}" / "dev.json"))[:60]
            decoding = SpanDecoding(doc_stride=24, max_query_length=12, top_k=2,
                                    null_score_diff_threshold=threshold, window_batch_size=50)
            features = convert_examples_to_features(examples, tokenizer, LENGTH, 24, 12)
            logits = model.predict(squad_inputs(features), verbose=0)
            predictions, nbest, _ = postprocess_squad_predictions(
                examples, features, logits["start_logits"], logits["end_logits"],
                version_2_with_negative=threshold is not None, null_score_diff_threshold=threshold or 0.0)
            out = model.answer([e.question_text for e in examples], [e.context_text for e in examples],
                               batch_size=25, **vars(decoding))
            self.assertGreater(len(features), 2 * len(examples))  # chunked into several model calls
            self.assertEqual(out["answer_text"].tolist(), [predictions[e.qas_id] for e in examples], version)
            self.assertEqual(out["top_answers"].tolist(),
                             [[n["text"] for n in nbest[e.qas_id] if n["text"]][:2] for e in examples], version)

    def test_the_answer_is_found_after_many_windows_of_other_text(self):
        tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        model = _spotting_model(tokenizer, "london")
        paragraph = "The novel Nineteen Eighty-Four was written by George Orwell in London in 1948."
        filler = "It was a quiet and ordinary day in the small town by the river. " * 40
        question = "Who wrote the novel?"
        out = model.answer([question, question], [paragraph, filler + paragraph], doc_stride=16,
                           max_query_length=16)
        self.assertEqual(out["answer_text"].tolist(), ["London", "London"])
        self.assertGreater(int(out["num_windows"][1]), 20)
        start = int(out["answer_start"][1])
        self.assertEqual((filler + paragraph)[start:int(out["answer_end"][1])], "London")
        self.assertEqual(start, len(filler) + paragraph.index("London"))
        self.assertEqual(out["truncated"].tolist(), [False, False])
        # Beyond the bound, the context is cut and says so.
        cut = model.answer(question, filler * 3 + paragraph, max_context_tokens=400, max_query_length=16)
        self.assertEqual((cut["truncated"].tolist(), cut["answer_text"][0] == "London"), ([True], False))

    def test_empty_batch_and_empty_context(self):
        tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        model = _spotting_model(tokenizer, "london")
        self.assertEqual(model.answer([], [], max_query_length=16)["answer_text"].shape, (0,))
        out = model.answer(["who ?"], [""], max_query_length=16)
        self.assertEqual((out["answer_text"].tolist(), int(out["answer_start"][0]), int(out["num_windows"][0])),
                         ([""], -1, 1))

    def test_traced_once_per_model_and_options(self):
        tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        model = _spotting_model(tokenizer, "london")
        first = answer_function(model, tokenizer, LENGTH, SpanDecoding(max_query_length=16))
        self.assertIs(answer_function(model, tokenizer, LENGTH, SpanDecoding(max_query_length=16)), first)
        self.assertIsNot(answer_function(model, tokenizer, LENGTH, SpanDecoding(max_query_length=8)), first)

    def test_answer_needs_a_preprocessor(self):
        model = BertSpanLabeler(BertBackbone(**tiny_backbone_config()))
        with self.assertRaisesRegex(ValueError, "preprocessor"):
            model.answer("q", "c")
