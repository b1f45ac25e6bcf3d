"""`data.iob2_viterbi`: the most probable valid IOB2 sequence, against brute force, and on
the real CoNLL-2003 and MSRA tag sequences (valid ones come back unchanged)."""

import itertools

import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.conll import read_bio, read_conll, tag_list
from keras_bert_pkg.data.iob2_viterbi import FORBIDDEN, iob2_transitions, iob2_viterbi
from tests.test_case import SHARED_DATA, TestCase, requires_shared_data


def _ragged(log_probs):
    lengths = [len(p) for p in log_probs]
    width = log_probs[0].shape[-1]
    return tf.RaggedTensor.from_row_lengths(np.concatenate(log_probs).reshape(-1, width).astype(np.float32), lengths)


def _valid(tags):
    return all(not tag.startswith("I-") or previous[2:] == tag[2:] and previous != "O"
               for previous, tag in zip(["O"] + tags, tags))


def _brute_force(log_probs, tags):
    transitions, start = iob2_transitions(tags)
    best, best_score = [], -np.inf
    for sequence in itertools.product(range(len(tags)), repeat=len(log_probs)):
        score = start[sequence[0]] + sum(log_probs[i, t] for i, t in enumerate(sequence))
        score += sum(transitions[a, b] for a, b in zip(sequence, sequence[1:]))
        if score > best_score:
            best, best_score = list(sequence), score
    return best


def _noisy_log_probs(gold_ids, num_tags, rng):
    """Log-probabilities whose arg-max is the gold tag, the rest random."""
    logits = rng.normal(size=(len(gold_ids), num_tags))
    logits[np.arange(len(gold_ids)), gold_ids] = logits.max(-1) + rng.uniform(0.1, 3.0, len(gold_ids))
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


class Iob2ViterbiTest(TestCase):
    def test_transitions(self):
        transitions, start = iob2_transitions(["O", "B-PER", "I-PER", "I-MISC", "X"])
        allowed = transitions == 0
        self.assertEqual(allowed[:, 2].tolist(), [False, True, True, False, False])  # I-PER after B/I-PER
        self.assertEqual(allowed[:, 3].tolist(), [False, False, False, True, False])  # I-MISC: no B-MISC
        self.assertTrue(allowed[:, [0, 1, 4]].all())
        self.assertEqual((start == 0).tolist(), [True, True, False, False, True])
        self.assertEqual(set(np.unique(transitions)), {0.0, FORBIDDEN})

    def test_equals_brute_force_on_random_probabilities(self):
        rng = np.random.default_rng(0)
        tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
        log_probs = [np.log(rng.dirichlet(np.full(len(tags), 0.3), size=n) + 1e-12) for n in [0, 1, 2, 5, 6, 0, 3] * 3]
        got = iob2_viterbi(_ragged(log_probs), tags).to_list()
        self.assertEqual(got, [_brute_force(p, tags) if len(p) else [] for p in log_probs])
        self.assertTrue(all(_valid([tags[i] for i in row]) for row in got))
        argmax = [np.argmax(p, -1).tolist() for p in log_probs]
        ill_formed = sum(not _valid([tags[i] for i in row]) for row in argmax)
        self.assertTrue(3 < ill_formed < len(argmax) - 3)  # both kinds of row in one batch

    def test_empty_inputs_and_graph(self):
        tags = ["O", "B-PER", "I-PER"]
        empty = tf.RaggedTensor.from_row_lengths(np.zeros((0, 3), np.float32), np.zeros(0, np.int64))
        self.assertEqual(iob2_viterbi(empty, tags).to_list(), [])
        no_words = tf.RaggedTensor.from_row_lengths(np.zeros((0, 3), np.float32), [0, 0])
        self.assertEqual(iob2_viterbi(no_words, tags).to_list(), [[], []])
        one = _ragged([np.log(np.array([[0.2, 0.1, 0.7]]))])
        self.assertEqual(iob2_viterbi(one, tags).to_list(), [[0]])  # I-PER cannot start a sentence
        graph = tf.function(lambda x: iob2_viterbi(x, tags),
                            input_signature=[tf.RaggedTensorSpec([None, None, 3], tf.float32, 1)])
        self.assertEqual(graph(one).to_list(), [[0]])

    @requires_shared_data
    def test_real_valid_sequences_come_back_unchanged(self):
        rng = np.random.default_rng(1)
        corpora = [read_conll(SHARED_DATA / "ner" / "conll2003" / "valid.txt")[:1500],
                   read_bio(SHARED_DATA / "ner" / "msra" / "train.txt", scheme="bmes")[:1500]]
        for sentences in corpora:
            tags = tag_list(sentences)
            ids = {tag: i for i, tag in enumerate(tags)}
            gold = [[ids[t] for t in s.tags] for s in sentences]
            self.assertTrue(all(_valid(s.tags) for s in sentences))
            log_probs = [_noisy_log_probs(g, len(tags), rng) for g in gold]
            self.assertEqual(iob2_viterbi(_ragged(log_probs), tags).to_list(), gold)
