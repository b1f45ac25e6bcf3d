"""In-graph IOB2 decoding vs `token_alignment.entity_spans`, on real CoNLL-2003 tags."""

import tensorflow as tf

from keras_bert_pkg.data.conll import tag_list
from keras_bert_pkg.data.token_alignment import entity_spans
from keras_bert_pkg.models.entity_decoding import decode_entities
from tests.export.export_helpers import conll_sentences
from tests.test_case import TestCase, requires_shared_data

pytestmark = requires_shared_data


class EntityDecodingTest(TestCase):
    def test_matches_entity_spans_on_gold_and_shifted_tags(self):
        _, sentences = conll_sentences(0)
        sentences = sentences[:300]
        tags = tag_list(sentences)
        index = {t: i for i, t in enumerate(tags)}
        # The gold tags, and the same tags shifted by one word (which makes I- tags
        # follow O and other types: the cases where an I- tag starts an entity).
        rows = [s.tags for s in sentences] + [["O"] + s.tags[:-1] for s in sentences]
        rows.append([])
        ids = tf.ragged.constant([[index[t] for t in row] for row in rows], dtype=tf.int32)
        out = decode_entities(ids, tags)
        types = out["type"].to_list()
        firsts = out["first_word"].to_list()
        lasts = out["last_word"].to_list()
        total = 0
        for r, row in enumerate(rows):
            expected = entity_spans(row)
            got = [{"type": t.decode(), "start": f, "end": l + 1}
                   for t, f, l in zip(types[r], firsts[r], lasts[r])]
            self.assertEqual(got, expected, f"row {r}: {row}")
            total += len(expected)
        self.assertGreater(total, 300)
