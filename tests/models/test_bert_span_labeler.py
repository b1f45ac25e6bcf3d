import keras
import numpy as np

from keras_bert_pkg.data.squad_examples import read_squad_examples
from keras_bert_pkg.data.squad_features import convert_examples_to_features, squad_inputs
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_span_labeler import PADDING_LOGIT, BertSpanLabeler
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import (SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data,
                             tiny_backbone_config)


_BATCH = []


def real_batch(n=6, version="v2.0"):
    """Real SQuAD windows (question + context ids, padded) and their span labels."""
    if not _BATCH:
        _BATCH.append(_real_batch(n, version))
    return _BATCH[0]


def _real_batch(n, version):
    examples = read_squad_examples(SHARED_DATA / "squad" / version / "train.json", is_training=True)[:n]
    features = convert_examples_to_features(
        examples, BertTokenizer(UNCASED_VOCAB), max_seq_length=64, doc_stride=32,
        max_query_length=16, is_training=True)[:n]
    x = squad_inputs(features, length=64)
    y = {"start_positions": np.array([f.start_position for f in features], np.int32),
         "end_positions": np.array([f.end_position for f in features], np.int32)}
    return x, y, features


@requires_shared_data
class BertSpanLabelerTest(TestCase):
    def setUp(self):
        super().setUp()
        self.x, self.y, self.features = real_batch()

    def test_task_contract_on_raw_question_context_pairs(self):
        examples = read_squad_examples(SHARED_DATA / "squad" / "v1.1" / "dev.json")[:6]
        pairs = ([e.question_text for e in examples], [e.context_text for e in examples])
        labels = {"start_positions": np.arange(1, 7, dtype="int32"),
                  "end_positions": np.arange(2, 8, dtype="int32")}
        self.run_task_test(BertSpanLabeler,
                           {"backbone": BertBackbone(**tiny_backbone_config()),
                            "preprocessor": BertPreprocessor(BertTokenizer(UNCASED_VOCAB), 48)},
                           pairs, labels, (6, 48), token_outputs_key="start_logits")

    def test_model_contract(self):
        model = BertSpanLabeler(BertBackbone(**tiny_backbone_config()))
        out = self.run_model_test(model, self.x, self.y)
        self.assertEqual(sorted(out), ["end_logits", "start_logits"])
        self.assertEqual(out["start_logits"].shape, self.x["token_ids"].shape)
        self.assertEqual(out["start_logits"].dtype, np.float32)
        pad = self.x["padding_mask"] == 0
        self.assertTrue(pad.any())
        self.assertTrue(np.all(out["start_logits"][pad] == PADDING_LOGIT))
        self.assertTrue(np.all(out["end_logits"][~pad] > PADDING_LOGIT / 2))
        self.assertIs(model.backbone.__class__, BertBackbone)
        self.assertEqual(model.span_logits.units, 2)

    def test_default_loss_is_mean_of_start_and_end_cross_entropy(self):
        model = BertSpanLabeler(BertBackbone(**tiny_backbone_config()))
        model.compile(optimizer="sgd")
        loss = model.evaluate(self.x, self.y, verbose=0, return_dict=True)["loss"]
        out = model.predict(self.x, verbose=0)

        def ce(logits, labels):
            logits = logits - logits.max(1, keepdims=True)
            logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
            return -logp[np.arange(len(labels)), labels].mean()

        expected = 0.5 * (ce(out["start_logits"], self.y["start_positions"])
                          + ce(out["end_logits"], self.y["end_positions"]))
        self.assertAllClose(loss, expected, atol=1e-4)
        # Labels may also be keyed by output name.
        renamed = {"start_logits": self.y["start_positions"], "end_logits": self.y["end_positions"]}
        self.assertAllClose(model.evaluate(self.x, renamed, verbose=0, return_dict=True)["loss"],
                            expected, atol=1e-4)

    def test_learns_real_spans(self):
        model = BertSpanLabeler(BertBackbone(**tiny_backbone_config()))
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        history = model.fit(self.x, self.y, epochs=40, batch_size=6, verbose=0)
        self.assertLess(history.history["loss"][-1], 0.2 * history.history["loss"][0])
        out = model.predict(self.x, verbose=0)
        np.testing.assert_array_equal(out["start_logits"].argmax(1), self.y["start_positions"])
        np.testing.assert_array_equal(out["end_logits"].argmax(1), self.y["end_positions"])

    def test_mixed_bfloat16_outputs_float32(self):
        backbone = BertBackbone(**tiny_backbone_config(dtype="mixed_bfloat16"))
        model = BertSpanLabeler(backbone)
        out = model(self.x)
        self.assertEqual(out["start_logits"].dtype, "float32")
        self.assertEqual(model.span_logits.compute_dtype, "bfloat16")
