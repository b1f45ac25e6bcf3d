"""BERT pre-training instances: sentence pairs A/B for next-sentence prediction, with
masked-LM predictions, built exactly as google-research/bert's `create_pretraining_data.py`.

Given the same documents (token ids), settings and seed, the instances here are the
original tool's: the same `random.Random` calls happen in the same order, so the
documents shuffle, the short-sequence draws, the A/B split points, the random-next
choices, the truncation sides and the masks all agree. The algorithm, per document:

1. A target length: `max_seq_length - 3` (room for `[CLS]`, `[SEP]`, `[SEP]`), or with
   probability `short_seq_prob` (0.1) a random length in `[2, max_seq_length - 3]`, to
   reduce the mismatch with the short sequences of fine-tuning.
2. Sentences are gathered into a chunk until it reaches the target length (or the
   document ends). A random number of the chunk's first sentences form segment A.
3. With probability 0.5 (always when the chunk has a single sentence) segment B is
   "random next": sentences from a random start in a random *other* document, and the
   chunk's unused sentences are put back for the next chunk. Otherwise B is the rest of
   the chunk ("actual next").
4. The longer segment is trimmed one token at a time, from the front or the back at
   random, until the pair fits.
5. `[CLS] A [SEP] B [SEP]` is masked: `num_to_predict = min(max_predictions_per_seq,
   max(1, round(len(tokens) * masked_lm_prob)))` positions, chosen in a random order
   among all tokens but `[CLS]`/`[SEP]`; each is replaced by `[MASK]` 80% of the time,
   kept 10% and replaced by a random vocabulary id 10% of the time (any id of the
   vocabulary, as in the original). With whole-word masking, the pieces of a word
   (`##` continuations) are chosen together and words that would overshoot
   `num_to_predict` are skipped; each piece still gets its own 80/10/10 draw.

`is_random_next` is True when B is random: the records store it as
`next_sentence_labels = 1` (0 = B actually follows A), the original's convention.

The tool works on token ids rather than token strings; the two are the same as long as
the vocabulary has no duplicate tokens (`BertTokenizer` rejects duplicates).
"""

import dataclasses
import random


@dataclasses.dataclass
class PretrainingInstance:
    """One pre-training example, before padding.

    Attributes:
        token_ids: `[CLS] A [SEP] B [SEP]` after masking.
        segment_ids: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`.
        is_random_next: B comes from another document (`next_sentence_labels` 1).
        masked_lm_positions: masked positions, increasing.
        masked_lm_ids: the original ids at those positions (the labels).
    """

    token_ids: list
    segment_ids: list
    is_random_next: bool
    masked_lm_positions: list = dataclasses.field(default_factory=list)
    masked_lm_ids: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class MaskingVocabulary:
    """What masking needs to know about the vocabulary (picklable, for workers).

    Attributes:
        vocabulary_size: number of ids; random replacements draw from `[0, size)`.
        cls_token_id, sep_token_id: never masked.
        mask_token_id: the `[MASK]` id.
        pad_token_id: id used for padding in records.
        continuation_ids: ids of `##` pieces (whole-word masking joins them to the
            preceding word).
    """

    vocabulary_size: int
    cls_token_id: int
    sep_token_id: int
    mask_token_id: int
    pad_token_id: int = 0
    continuation_ids: frozenset = frozenset()

    @classmethod
    def from_tokens(cls, tokens, cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                    pad_token="[PAD]"):
        """From a vocabulary list (the lines of `vocab.txt`)."""
        index = {t: i for i, t in enumerate(tokens)}
        missing = [t for t in (cls_token, sep_token, mask_token, pad_token) if t not in index]
        if missing:
            raise ValueError(f"The vocabulary has no {missing} token(s).")
        return cls(
            vocabulary_size=len(tokens),
            cls_token_id=index[cls_token],
            sep_token_id=index[sep_token],
            mask_token_id=index[mask_token],
            pad_token_id=index[pad_token],
            continuation_ids=frozenset(i for i, t in enumerate(tokens) if t.startswith("##")),
        )

    @classmethod
    def from_tokenizer(cls, tokenizer):
        """From a `BertTokenizer`."""
        return cls.from_tokens(
            tokenizer.get_vocabulary(), cls_token=tokenizer.cls_token,
            sep_token=tokenizer.sep_token, mask_token=tokenizer.mask_token,
            pad_token=tokenizer.pad_token,
        )


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
    """Trims the longer list (B on ties) in place, one token from a random end at a
    time, until `len(tokens_a) + len(tokens_b) <= max_num_tokens`."""
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def create_masked_lm_predictions(token_ids, masked_lm_prob, max_predictions_per_seq, vocab, rng,
                                 whole_word_masking=False):
    """Chooses and applies the masked-LM predictions of one sequence.

    Args:
        token_ids: `[CLS] A [SEP] B [SEP]` ids.
        masked_lm_prob: fraction of the sequence length to predict (0.15).
        max_predictions_per_seq: cap on the number of predictions.
        vocab: a `MaskingVocabulary`.
        rng: a `random.Random`.
        whole_word_masking: mask all pieces of a word together.

    Returns: `(masked_token_ids, positions, label_ids)`, positions increasing.
    """
    special = (vocab.cls_token_id, vocab.sep_token_id)
    candidates = []
    for i, token in enumerate(token_ids):
        if token in special:
            continue
        # As in the original, a `##` piece joins the last candidate word, whatever
        # stands between them (the rare B segment that starts with `##` after
        # truncation joins the last word of A).
        if whole_word_masking and candidates and token in vocab.continuation_ids:
            candidates[-1].append(i)
        else:
            candidates.append([i])
    rng.shuffle(candidates)

    output = list(token_ids)
    num_to_predict = min(max_predictions_per_seq, max(1, int(round(len(token_ids) * masked_lm_prob))))
    chosen = []
    covered = set()
    for word in candidates:
        if len(chosen) >= num_to_predict:
            break
        if len(chosen) + len(word) > num_to_predict:
            continue
        if any(i in covered for i in word):
            continue
        for i in word:
            covered.add(i)
            if rng.random() < 0.8:
                replacement = vocab.mask_token_id
            elif rng.random() < 0.5:
                replacement = token_ids[i]
            else:
                replacement = rng.randint(0, vocab.vocabulary_size - 1)
            output[i] = replacement
            chosen.append(i)
    chosen.sort()
    return output, chosen, [token_ids[i] for i in chosen]


def create_instances_from_document(documents, document_index, max_seq_length, short_seq_prob,
                                   masked_lm_prob, max_predictions_per_seq, vocab, rng,
                                   whole_word_masking=False, mask=True):
    """The instances of one document (module doc, steps 1-5).

    Args:
        documents: all documents (lists of sentences of token ids); random-next
            segments come from them.
        document_index: the document to cut into instances.
        max_seq_length: the packed length, `[CLS]` and `[SEP]`s included.
        short_seq_prob: probability of a shorter random target length.
        masked_lm_prob, max_predictions_per_seq, vocab, whole_word_masking: masking
            (see `create_masked_lm_predictions`).
        rng: a `random.Random`.
        mask: False to skip masking (the streaming path masks in the graph); the
            instances then have empty `masked_lm_*` lists.

    Returns: a list of `PretrainingInstance`.
    """
    document = documents[document_index]
    max_num_tokens = max_seq_length - 3
    if max_num_tokens < 2:
        raise ValueError(f"max_seq_length must be at least 5, got {max_seq_length}.")
    target_seq_length = max_num_tokens
    if rng.random() < short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)

    instances = []
    chunk = []
    chunk_length = 0
    i = 0
    while i < len(document):
        chunk.append(document[i])
        chunk_length += len(document[i])
        if i == len(document) - 1 or chunk_length >= target_seq_length:
            if chunk:
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                tokens_a = [t for sentence in chunk[:a_end] for t in sentence]
                tokens_b = []
                if len(chunk) == 1 or rng.random() < 0.5:
                    is_random_next = True
                    target_b_length = target_seq_length - len(tokens_a)
                    # Try to avoid the current document (10 draws at most).
                    for _ in range(10):
                        random_index = rng.randint(0, len(documents) - 1)
                        if random_index != document_index:
                            break
                    random_document = documents[random_index]
                    for sentence in random_document[rng.randint(0, len(random_document) - 1):]:
                        tokens_b.extend(sentence)
                        if len(tokens_b) >= target_b_length:
                            break
                    # The chunk's sentences after A were not used: put them back.
                    i -= len(chunk) - a_end
                else:
                    is_random_next = False
                    tokens_b = [t for sentence in chunk[a_end:] for t in sentence]
                truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
                if not tokens_a or not tokens_b:  # the original asserts this
                    raise AssertionError("Empty segment after truncation.")
                token_ids = [vocab.cls_token_id, *tokens_a, vocab.sep_token_id, *tokens_b,
                             vocab.sep_token_id]
                segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
                instance = PretrainingInstance(token_ids, segment_ids, is_random_next)
                if mask:
                    (instance.token_ids, instance.masked_lm_positions,
                     instance.masked_lm_ids) = create_masked_lm_predictions(
                        token_ids, masked_lm_prob, max_predictions_per_seq, vocab, rng,
                        whole_word_masking)
                instances.append(instance)
            chunk = []
            chunk_length = 0
        i += 1
    return instances


def create_training_instances(documents, vocab, max_seq_length=128, dupe_factor=10,
                              short_seq_prob=0.1, masked_lm_prob=0.15,
                              max_predictions_per_seq=20, rng=None, seed=12345,
                              whole_word_masking=False):
    """All instances of a set of documents, as the original tool makes them.

    The documents are shuffled once, every document is cut `dupe_factor` times (each
    time with fresh pairs and masks) and the instances are shuffled.

    Args:
        documents: documents of sentences of token ids (`read_documents`).
        vocab: a `MaskingVocabulary`.
        max_seq_length, short_seq_prob, masked_lm_prob, max_predictions_per_seq,
            whole_word_masking: see `create_instances_from_document`.
        dupe_factor: number of passes over the documents.
        rng: a `random.Random`; default `random.Random(seed)`.
        seed: the seed when `rng` is None (12345, the original's default).

    Returns: a list of `PretrainingInstance`.

    Example:
    >>> vocab = MaskingVocabulary(10, cls_token_id=1, sep_token_id=2, mask_token_id=3)
    >>> docs = [[[4, 5], [6, 7, 8]], [[9, 4, 5, 6]]]
    >>> instances = create_training_instances(docs, vocab, max_seq_length=16, dupe_factor=1)
    >>> all(x.token_ids[0] == 1 for x in instances)
    True
    """
    rng = rng if rng is not None else random.Random(seed)
    documents = [doc for doc in documents if doc]
    if not documents:
        raise ValueError("No documents with text: nothing to make pre-training instances from.")
    documents = list(documents)
    rng.shuffle(documents)
    instances = []
    for _ in range(dupe_factor):
        for index in range(len(documents)):
            instances.extend(create_instances_from_document(
                documents, index, max_seq_length, short_seq_prob, masked_lm_prob,
                max_predictions_per_seq, vocab, rng, whole_word_masking))
    rng.shuffle(instances)
    return instances
