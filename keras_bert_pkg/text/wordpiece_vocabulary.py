"""Building a WordPiece vocabulary from a corpus, laid out like Google's BERT vocabularies.

The pieces are learned by keras-hub's `compute_word_piece_vocabulary` (TensorFlow Text's
WordPiece learner: pre-split on whitespace, punctuation and CJK characters, optional
lower casing and accent stripping, `##` continuation prefix). The special tokens then go
where Google's `vocab.txt` files have them:

| id | Google's uncased vocab (30522) | `num_unused=99` (default) | `num_unused=0` (compact) |
|---|---|---|---|
| 0 | `[PAD]` | `[PAD]` | `[PAD]` |
| 1-99 | `[unused0]`-`[unused98]` | `[unused0]`-`[unused98]` | - |
| 100 / 1 | `[UNK]` | `[UNK]` | `[UNK]` |
| 101 / 2 | `[CLS]` | `[CLS]` | `[CLS]` |
| 102 / 3 | `[SEP]` | `[SEP]` | `[SEP]` |
| 103 / 4 | `[MASK]` | `[MASK]` | `[MASK]` |
| then | `[unused99]`... `[unused993]`, characters, pieces | learned pieces | learned pieces |

The default keeps the five special ids of Google's vocabularies (0, 100, 101, 102, 103),
so code and data that hard-code them (the original tool pads with 0) work unchanged, at
the price of 99 unused rows (1.2% of an 8k vocabulary). `num_unused=0` packs them into
ids 0-4. `BertTokenizer` finds the specials by name, so both layouts work with it.
Placeholder rows (`[unusedN]`) are there for users to add domain tokens later without
resizing the embedding, as in Google's files.

Characters that BERT's tokenizer always makes words of their own (CJK ideographs and
punctuation) need their bare entry only. The learner keeps at most 1,000 distinct
characters (TensorFlow Text's `max_unique_chars`) and gives each a `##` twin, which such a
character never uses: a vocabulary learned from Chinese text would map every rarer
character to `[UNK]` (on MSRA's text: 1,000 of its 4,657 characters). So the `##` twins
of those characters are dropped, and every one of them that occurs in the text and is
missing is added after the learned pieces, most frequent first; when that goes past
`vocabulary_size`, learned multi-character pieces make room (the last learned first)
before the rarest characters are left out.
"""

import collections

import numpy as np
import tensorflow as tf
from keras_hub.tokenizers import compute_word_piece_vocabulary

from keras_bert_pkg.checkpoints.vocabulary_file import write_vocabulary
from keras_bert_pkg.text.unicode_tables import CJK, PUNCT, class_table

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)


def special_token_layout(num_unused=99):
    """The leading tokens of a vocabulary: `[PAD]`, `num_unused` `[unusedN]`, then
    `[UNK] [CLS] [SEP] [MASK]` (see the module table).

    >>> special_token_layout(2)
    ['[PAD]', '[unused0]', '[unused1]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    """
    if num_unused < 0:
        raise ValueError(f"num_unused must be >= 0, got {num_unused}.")
    return [PAD] + [f"[unused{i}]" for i in range(num_unused)] + [UNK, CLS, SEP, MASK]


def single_character_words(texts):
    """Counts of the characters BERT's tokenizer makes words of their own (CJK ideographs
    and punctuation) in `texts`, a `tf.data.Dataset` of strings or batches of strings.

    >>> single_character_words(tf.data.Dataset.from_tensor_slices(["任正非，任"]))
    Counter({'任': 2, '正': 1, '非': 1, '，': 1})
    """
    classes = class_table()
    counts = collections.Counter()
    for batch in texts.as_numpy_iterator():
        for text in np.atleast_1d(batch):
            counts.update(c for c in text.decode("utf-8") if classes[ord(c)] in (CJK, PUNCT))
    return counts


def build_wordpiece_vocabulary(texts, vocabulary_size, lowercase=True, num_unused=99,
                               output_file=None, batch_size=256):
    """Learns a WordPiece vocabulary of at most `vocabulary_size` tokens.

    Args:
        texts: a list / iterable of strings, or a `tf.data.Dataset` of string scalars
            or batches.
        vocabulary_size: total size, special and unused tokens included. The learner
            approaches it from below (its frequency-threshold search), so the result can
            be slightly smaller.
        lowercase: lower-case and strip accents (an uncased vocabulary, to use with
            `BertTokenizer(lowercase=True)`).
        num_unused: `[unusedN]` rows between `[PAD]` and `[UNK]`; 99 puts the specials
            at Google's ids (module doc), 0 packs them at 0-4.
        output_file: also write the vocabulary there (one token a line, `vocab.txt`).
        batch_size: strings per batch fed to the learner.

    Returns: the vocabulary as a list of tokens.

    Example:
    >>> vocab = build_wordpiece_vocabulary(["the quick brown fox", "the lazy dog"], 150)
    >>> vocab[0], vocab[100:104]
    ('[PAD]', ['[UNK]', '[CLS]', '[SEP]', '[MASK]'])
    """
    leading = special_token_layout(num_unused)
    learned_size = int(vocabulary_size) - len(leading)
    if learned_size < 1:
        raise ValueError(
            f"vocabulary_size={vocabulary_size} leaves no room for learned pieces after "
            f"{len(leading)} special and unused tokens (use a larger size or fewer unused).")
    if isinstance(texts, tf.data.Dataset):
        data = texts
    else:
        texts = [t for t in texts if t and t.strip()]
        if not texts:
            raise ValueError("build_wordpiece_vocabulary: no text to learn from.")
        data = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string)).batch(batch_size)
    single = single_character_words(data)
    learned = compute_word_piece_vocabulary(
        data,
        vocabulary_size=learned_size,
        lowercase=lowercase,
        strip_accents=lowercase,
        split=True,
        split_on_cjk=True,
        suffix_indicator="##",
        reserved_tokens=[],
    )
    seen = set(leading)
    vocabulary = list(leading)
    never_used = {"##" + c for c in single}
    for token in learned:
        if token not in seen and token.strip() and token not in never_used:
            seen.add(token)
            vocabulary.append(token)
    missing = [c for c, _ in single.most_common() if c not in seen]
    # Over the size, learned multi-character pieces go (last learned first) before any
    # character of the text: a word losing a piece still splits into smaller ones.
    over = len(vocabulary) + len(missing) - int(vocabulary_size)
    if over > 0:
        pieces = [k for k in range(len(leading), len(vocabulary)) if len(vocabulary[k].removeprefix("##")) > 1]
        dropped = set(pieces[::-1][:over])
        vocabulary = [t for k, t in enumerate(vocabulary) if k not in dropped]
    vocabulary = (vocabulary + missing)[: int(vocabulary_size)]
    if output_file is not None:
        write_vocabulary(vocabulary, output_file)
    return vocabulary
