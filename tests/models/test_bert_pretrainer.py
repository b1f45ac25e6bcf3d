import keras
import numpy as np

from keras_bert_pkg.checkpoints.weight_map import masked_lm_head_weight_map
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
from tests.test_case import TestCase, tiny_backbone_config

VOCAB = 300


def _batch(rng, batch=4, length=16, predictions=5):
    token_ids = rng.integers(5, VOCAB, size=(batch, length)).astype("int32")
    padding = np.ones((batch, length), "int32")
    padding[0, 12:] = 0
    x = {
        "token_ids": token_ids,
        "segment_ids": np.concatenate([np.zeros((batch, 8)), np.ones((batch, 8))], axis=1).astype("int32"),
        "padding_mask": padding,
        "masked_lm_positions": np.sort(rng.integers(1, 11, size=(batch, predictions)), axis=1).astype("int32"),
    }
    weights = np.ones((batch, predictions), "float32")
    weights[1, 3:] = 0.0
    y = {
        "masked_lm_ids": rng.integers(0, VOCAB, size=(batch, predictions)).astype("int32"),
        "masked_lm_weights": weights,
        "next_sentence_labels": rng.integers(0, 2, size=(batch,)).astype("int32"),
    }
    return x, y


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


class BertPretrainerTest(TestCase):
    def make(self, **kw):
        return BertPretrainer(BertBackbone(**tiny_backbone_config(vocabulary_size=VOCAB)), **kw)

    def test_model_contract(self):
        x, y = _batch(np.random.default_rng(0))
        model = self.make()
        out = self.run_model_test(model, x, y, atol=1e-5)
        self.assertEqual(out["mlm_logits"].shape, (4, 5, VOCAB))
        self.assertEqual(out["nsp_logits"].shape, (4, 2))
        self.assertEqual(model.masked_lm_head.name, "masked_lm_head")
        self.assertEqual(model.next_sentence_head.name, "next_sentence_head")

    def test_heads_match_the_paper(self):
        x, _ = _batch(np.random.default_rng(1))
        model = self.make()
        out = model.predict(x, verbose=0)
        head = model.masked_lm_head
        # Tied: the head's only matrix of vocabulary size is the backbone's embedding
        # itself (the same variable); the head adds dense + LayerNorm + output bias.
        embedding_var = model.backbone.token_embedding.embeddings
        own = [w for w in head.weights if w is not embedding_var]
        self.assertEqual(len(own), len(head.weights) - 1)
        self.assertEqual(sorted(w.path.split("/", 1)[1] for w in own),
                         sorted(["intermediate_dense/kernel", "intermediate_dense/bias",
                                 "intermediate_layer_norm/gamma", "intermediate_layer_norm/beta",
                                 "output_bias"]))
        self.assertEqual(len(model.weights), len(model.backbone.weights) + 5 + 2)
        weights = {entry.name: entry.variable.numpy() for entry in masked_lm_head_weight_map(head)}
        # Recompute the logits by hand from the backbone's sequence output.
        seq = model.backbone.predict({k: x[k] for k in ("token_ids", "segment_ids", "padding_mask")},
                                     verbose=0)["sequence_output"]
        gathered = np.take_along_axis(seq, x["masked_lm_positions"][..., None], axis=1)
        h = _gelu_tanh(gathered @ weights["cls/predictions/transform/dense/kernel"]
                       + weights["cls/predictions/transform/dense/bias"])
        h = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-12)
        h = (h * weights["cls/predictions/transform/LayerNorm/gamma"]
             + weights["cls/predictions/transform/LayerNorm/beta"])
        embedding = model.backbone.token_embedding.embeddings.numpy()
        logits = h @ embedding.T + weights["cls/predictions/output_bias"]
        np.testing.assert_allclose(out["mlm_logits"], logits, atol=2e-4, rtol=1e-4)
        # Changing the token embedding changes the output projection (weight tying).
        model.backbone.token_embedding.embeddings.assign(embedding * 2.0)
        self.assertFalse(np.allclose(model.predict(x, verbose=0)["mlm_logits"], out["mlm_logits"], atol=1e-3))

    def test_loss_and_metrics(self):
        x, y = _batch(np.random.default_rng(2))
        model = self.make()
        model.compile(optimizer="adam")
        result = model.evaluate(x, y, batch_size=4, return_dict=True, verbose=0)
        out = model.predict(x, verbose=0)
        w = y["masked_lm_weights"]
        ce = -np.take_along_axis(_log_softmax(out["mlm_logits"]), y["masked_lm_ids"][..., None], -1)[..., 0]
        mlm = (ce * w).sum() / (w.sum() + 1e-5)
        nsp = -np.take_along_axis(_log_softmax(out["nsp_logits"]), y["next_sentence_labels"][:, None], -1).mean()
        self.assertAllClose(result["mlm_loss"], mlm, atol=1e-4)
        self.assertAllClose(result["nsp_loss"], nsp, atol=1e-4)
        self.assertAllClose(result["loss"], mlm + nsp, atol=1e-4)
        hits = (out["mlm_logits"].argmax(-1) == y["masked_lm_ids"]) * w
        self.assertAllClose(result["mlm_accuracy"], hits.sum() / w.sum(), atol=1e-6)
        nsp_hits = (out["nsp_logits"].argmax(-1) == y["next_sentence_labels"]).mean()
        self.assertAllClose(result["nsp_accuracy"], nsp_hits, atol=1e-6)
        with self.assertRaisesRegex(ValueError, "masked_lm_weights"):
            model.evaluate(x, {"masked_lm_ids": y["masked_lm_ids"]}, batch_size=4, verbose=0)

    def test_it_learns_a_fixed_batch(self):
        x, y = _batch(np.random.default_rng(3))
        model = self.make()
        model.compile(optimizer=keras.optimizers.Adam(5e-3))
        history = model.fit(x, y, batch_size=4, epochs=20, verbose=0).history
        self.assertLess(history["loss"][-1], 0.5 * history["loss"][0])
        self.assertGreater(history["mlm_accuracy"][-1], 0.5)

    def test_ablations(self):
        x, y = _batch(np.random.default_rng(4))
        no_nsp = self.make(next_sentence=False)
        self.assertIsNone(no_nsp.next_sentence_head)
        no_nsp.compile(optimizer="adam")
        result = no_nsp.evaluate(x, {k: y[k] for k in ("masked_lm_ids", "masked_lm_weights")},
                                 batch_size=4, return_dict=True, verbose=0)
        self.assertNotIn("nsp_loss", result)
        self.assertAllClose(result["loss"], result["mlm_loss"], atol=1e-5)
        self.assertNotIn("nsp_logits", no_nsp.predict(x, verbose=0))
        revived = BertPretrainer.from_config(no_nsp.get_config())
        self.assertFalse(revived.next_sentence)
        with self.assertRaisesRegex(ValueError, "LTR & No NSP"):
            BertPretrainer(BertBackbone(**tiny_backbone_config(vocabulary_size=VOCAB, causal=True)))
        # Left to right: a prediction at position i ignores tokens after i.
        ltr = BertPretrainer(BertBackbone(**tiny_backbone_config(vocabulary_size=VOCAB, causal=True)),
                             next_sentence=False)
        changed = {k: v.copy() for k, v in x.items()}
        changed["token_ids"][:, 12:] = 7
        positions = np.tile(np.arange(5, dtype="int32")[None] + 3, (4, 1))
        x["masked_lm_positions"] = changed["masked_lm_positions"] = positions
        np.testing.assert_allclose(ltr.predict(x, verbose=0)["mlm_logits"],
                                   ltr.predict(changed, verbose=0)["mlm_logits"], atol=1e-5)
        bidi = self.make(next_sentence=False)
        self.assertFalse(np.allclose(bidi.predict(x, verbose=0)["mlm_logits"],
                                     bidi.predict(changed, verbose=0)["mlm_logits"], atol=1e-5))

    def test_mixed_precision(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            model = self.make()
            x, y = _batch(np.random.default_rng(5))
            model.compile(optimizer="adam")
            history = model.fit(x, y, batch_size=4, epochs=1, verbose=0).history
            self.assertTrue(np.isfinite(history["loss"][0]))
            self.assertEqual(model.backbone.token_embedding.embeddings.dtype, "float32")
            # the masked-LM output projection runs in bfloat16 like the encoder, not float32
            self.assertEqual(model.backbone.token_embedding.reverse_dtype, "bfloat16")
        finally:
            keras.config.set_dtype_policy("float32")
