import keras
import numpy as np

from keras_bert_pkg.data.left_to_right_targets import left_to_right_targets
from keras_bert_pkg.data.masked_lm_baseline import most_frequent_token_baseline
from keras_bert_pkg.data.pretraining_documents import read_documents
from keras_bert_pkg.data.pretraining_instances import MaskingVocabulary
from keras_bert_pkg.data.pretraining_stream import iterate_pair_instances, pretraining_stream_dataset
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, tiny_backbone_config, requires_shared_data

pytestmark = requires_shared_data

WIKITEXT = SHARED_DATA / "pretrain_text" / "wikitext-2" / "wiki.valid.tokens"


def _batches(ds, n):
    return [(
        {k: v.numpy() for k, v in x.items()}, {k: v.numpy() for k, v in y.items()}
    ) for x, y in ds.take(n)]


class PretrainingStreamTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        cls.vocab = MaskingVocabulary.from_tokenizer(cls.tokenizer)
        cls.docs = read_documents(str(WIKITEXT), cls.tokenizer, document_range=slice(0, 4))

    def make(self, **kw):
        keras.utils.set_random_seed(11)
        args = dict(batch_size=8, seq_length=64, max_predictions_per_seq=10, seed=3, shuffle_buffer=64)
        args.update(kw)
        return pretraining_stream_dataset(self.docs, self.vocab, **args)

    def test_batches_are_masked_pairs(self):
        x, y = _batches(self.make(), 1)[0]
        self.assertEqual(x["token_ids"].shape, (8, 64))
        self.assertEqual(x["masked_lm_positions"].shape, (8, 10))
        self.assertEqual(y["next_sentence_labels"].shape, (8,))
        vocab = self.vocab
        for k in range(8):
            n = int(x["padding_mask"][k].sum())
            self.assertEqual(x["token_ids"][k, 0], vocab.cls_token_id)
            self.assertEqual(x["token_ids"][k, n - 1], vocab.sep_token_id)
            real = y["masked_lm_weights"][k] > 0
            positions = x["masked_lm_positions"][k][real]
            # ceil(0.15 * selectable), capped at max_predictions_per_seq.
            self.assertEqual(real.sum(), min(10, int(np.ceil(0.15 * (n - 3)))))
            self.assertTrue(np.all((positions > 0) & (positions < n - 1)))
            self.assertNotIn(vocab.sep_token_id, y["masked_lm_ids"][k][real])

    def test_mask_rates_and_fresh_masks(self):
        batches = _batches(self.make(batch_size=32), 6)
        counts = {"mask": 0, "other": 0}
        for x, y in batches:
            real = y["masked_lm_weights"] > 0
            at = np.take_along_axis(x["token_ids"], x["masked_lm_positions"], axis=1)[real]
            counts["mask"] += int((at == self.vocab.mask_token_id).sum())
            counts["other"] += int((at != self.vocab.mask_token_id).sum())
        self.assertAlmostEqual(counts["mask"] / sum(counts.values()), 0.8, delta=0.05)
        # Each pass over the documents makes new pairs (and new masks).
        passes = list(iterate_pair_instances(self.docs, self.vocab, 64, seed=3, passes=2))
        half = len(passes) // 2
        self.assertNotEqual([p.token_ids for p in passes[:5]], [p.token_ids for p in passes[half:half + 5]])

    def test_deterministic_and_resumable(self):
        full = _batches(self.make(), 4)
        again = _batches(self.make(), 4)
        resumed = _batches(self.make(skip_batches=2), 2)
        for a, b in zip(full, again):
            np.testing.assert_array_equal(a[0]["token_ids"], b[0]["token_ids"])
        for a, b in zip(full[2:], resumed):
            np.testing.assert_array_equal(a[0]["token_ids"], b[0]["token_ids"])
            np.testing.assert_array_equal(a[1]["masked_lm_ids"], b[1]["masked_lm_ids"])

    def test_whole_word_masking_path(self):
        x, y = _batches(self.make(whole_word_masking=True), 1)[0]
        cont = self.vocab.continuation_ids
        for k in range(8):
            real = y["masked_lm_weights"][k] > 0
            chosen = set(x["masked_lm_positions"][k][real].tolist())
            labels = dict(zip(x["masked_lm_positions"][k][real].tolist(), y["masked_lm_ids"][k][real].tolist()))
            for p in chosen:
                if labels[p] in cont:
                    self.assertIn(p - 1, chosen)

    def test_left_to_right_targets_and_training(self):
        ds = self.make()
        x, y = next(iter(ds))
        lx, ly = left_to_right_targets(x, y)
        # Masks undone: every masked position holds its label again.
        restored = np.take_along_axis(lx["token_ids"].numpy(), x["masked_lm_positions"].numpy(), axis=1)
        real = y["masked_lm_weights"].numpy() > 0
        np.testing.assert_array_equal(restored[real], y["masked_lm_ids"].numpy()[real])
        np.testing.assert_array_equal(ly["masked_lm_ids"].numpy(), lx["token_ids"].numpy()[:, 1:])
        np.testing.assert_array_equal(ly["masked_lm_weights"].numpy(), x["padding_mask"].numpy()[:, 1:])
        # The stream trains BertPretrainer with fit, in both set-ups.
        backbone = BertBackbone(**tiny_backbone_config())
        model = BertPretrainer(backbone)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        ltr = BertPretrainer(BertBackbone(**tiny_backbone_config(causal=True)), next_sentence=False)
        ltr.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = ltr.fit(self.make(left_to_right=True), steps_per_epoch=2, epochs=1, verbose=0)
        self.assertNotIn("nsp_accuracy", history.history)
        self.assertTrue(np.isfinite(history.history["mlm_loss"][0]))

    def test_most_frequent_token_baseline(self):
        # (A fresh dataset for each pass: the graph masker draws new masks on every
        # iteration of the same dataset object.)
        result = most_frequent_token_baseline(self.make(), self.make().take(3), self.vocab.vocabulary_size,
                                              max_train_batches=5)
        self.assertGreater(result["accuracy"], 0.0)
        self.assertLess(result["accuracy"], 0.5)
        counts = {}
        for _, y in _batches(self.make(), 5):
            for t in y["masked_lm_ids"][y["masked_lm_weights"] > 0]:
                counts[t] = counts.get(t, 0) + 1
        self.assertEqual(result["token_id"], max(counts, key=counts.get))
