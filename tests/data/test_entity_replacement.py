"""Entity replacement on the real MSRA and CoNLL-2003 training files, checked against
seqeval's own reading of the entities."""

from seqeval.metrics.sequence_labeling import get_entities

from keras_bert_pkg.data.conll import TaggedSentence, read_conll, read_tagged
from keras_bert_pkg.data.entity_replacement import replace_entities
from tests.test_case import SHARED_DATA, TestCase, requires_shared_data


def entities(sentence):
    """`[(type, words)]` in order, by seqeval (end inclusive)."""
    return [(kind, tuple(sentence.words[start:end + 1])) for kind, start, end in get_entities(sentence.tags)]


def outside(sentence):
    """The words outside every entity, with their tags, in order."""
    inside = {i for _, start, end in get_entities(sentence.tags) for i in range(start, end + 1)}
    return [(w, t) for i, (w, t) in enumerate(zip(sentence.words, sentence.tags)) if i not in inside]


@requires_shared_data
class EntityReplacementTest(TestCase):
    def check_copies(self, sentences, copies):
        with_entities = [s for s in sentences if entities(s)]
        self.assertEqual(len(copies), len(with_entities))
        pool = {}
        for s in sentences:
            for kind, words in entities(s):
                pool.setdefault(kind, set()).add(words)
        changed = total = 0
        for original, copy in zip(with_entities, copies):
            self.assertEqual((copy.document, copy.line), (original.document, original.line))
            self.assertEqual(len(copy.words), len(copy.tags))
            self.assertEqual(outside(copy), outside(original))
            before, after = entities(original), entities(copy)
            self.assertEqual([k for k, _ in after], [k for k, _ in before])
            for (kind, words), (_, old) in zip(after, before):
                self.assertIn(words, pool[kind])
                changed += words != old
                total += 1
            for previous, tag in zip(["O"] + copy.tags, copy.tags):  # well-formed IOB2
                if tag.startswith("I-"):
                    self.assertIn(previous, (f"B-{tag[2:]}", tag))
        return changed / total

    def test_msra(self):
        sentences = read_tagged(SHARED_DATA / "ner" / "msra" / "train.txt", "bmes")[:5000]
        copies = replace_entities(sentences, seed=0)
        self.assertGreater(self.check_copies(sentences, copies), 0.9)  # an entity may draw itself
        self.assertEqual(replace_entities(sentences, seed=0), copies)
        self.assertNotEqual(replace_entities(sentences, seed=1), copies)

    def test_conll_words(self):
        sentences = read_conll(SHARED_DATA / "ner" / "conll2003" / "train.txt")[:3000]
        self.assertGreater(self.check_copies(sentences, replace_entities(sentences)), 0.9)

    def test_a_sentence_starting_inside_an_entity(self):
        # A leading I-X begins an entity (six MSRA sentences start inside a name): its copy
        # gets B-X.
        sentences = [TaggedSentence(["a", "b", "c"], ["I-LOC", "I-LOC", "O"]),
                     TaggedSentence(["d"], ["B-LOC"])]
        copies = replace_entities(sentences, seed=0)
        self.check_copies(sentences, copies)
        self.assertTrue(all(s.tags[0] == "B-LOC" for s in copies))

    def test_words_and_tags_of_other_lengths(self):
        with self.assertRaisesRegex(ValueError, "line 17 has 2 words but 1 tags"):
            replace_entities([TaggedSentence(["a", "b"], ["B-PER"], line=17)])
