"""Readers for CoNLL-style column files and BIO files (named-entity recognition).

A CoNLL-2003 file has one token a line with space-separated columns (`word POS chunk
NER`), a blank line between sentences and `-DOCSTART-` lines between documents. A BIO
file is the same with two columns (`word tag`); a Chinese character-per-line BIO file
has one character a line (`任 B-PER`). Tags in IOB1 (the original CoNLL-2003 files,
where `I-` may start an entity) are converted to IOB2 (`B-` starts every entity).
"""

import dataclasses

from keras_bert_pkg.atomic_files import atomic_write
from keras_bert_pkg.broken_files import BrokenFileError, text_lines
from keras_bert_pkg.data.tagging_schemes import SCHEMES, check_tag, to_iob2


@dataclasses.dataclass
class TaggedSentence:
    """One sentence of a tagged file.

    Attributes:
        words: the tokens (words, or characters in a character-per-line file).
        tags: one IOB2 tag per word (`O`, `B-TYPE`, `I-TYPE`).
        document: index of the document (counted by `-DOCSTART-` lines) it is in.
        line: 1-based line number of its first word in the file.
    """

    words: list
    tags: list
    document: int = 0
    line: int = 0


def iob1_to_iob2(tags):
    """Converts IOB1 tags to IOB2: an `I-X` that does not continue an `X` entity becomes
    `B-X`. Valid IOB2 comes back unchanged, so the conversion is safe on either.

    Example:
    >>> iob1_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"])
    ['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC', 'B-ORG']
    """
    return to_iob2(tags, "iob2")


def _check_tag(tag, path, line_number, scheme):
    if check_tag(tag, scheme):
        return
    prefixes = ", ".join(f"'{p}-TYPE'" for p in SCHEMES[scheme])
    raise BrokenFileError(
        f"{path}:{line_number}: tag {tag!r} is not a {'BIO' if scheme == 'iob2' else scheme.upper()} "
        f"tag (expected 'O', {prefixes})."
    )


def read_conll(path, word_column=0, tag_column=-1, convert_iob1=True, encoding="utf-8", scheme="iob2"):
    """Reads a CoNLL-style column file (or a BIO file) into `TaggedSentence`s.

    Blank lines end sentences; `-DOCSTART-` lines end documents (and sentences). Columns
    are split on whitespace (spaces or tabs); every non-blank line must have the same
    number of columns as the first one.

    Args:
        path: the file.
        word_column: column of the word (0 in CoNLL-2003).
        tag_column: column of the tag (-1, the last, in CoNLL-2003 and BIO files).
        convert_iob1: convert IOB1 tags to IOB2 (a no-op on IOB2 files).
        encoding: the file's text encoding.
        scheme: the file's tags: `"iob2"` (or IOB1), `"bmes"` or `"bioes"`
            (`data.tagging_schemes`); the sentences' tags are IOB2 in every case.

    Returns:
        A list of `TaggedSentence`.

    Raises:
        BrokenFileError (a ValueError) naming the file and line for a line with a
        different number of columns, a tag that is not `O`/`B-X`/`I-X` or a line that
        does not decode; naming the file when it holds no sentence.

    Example:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "valid.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("-DOCSTART- -X- -X- O\\n\\nEU NNP B-NP B-ORG\\nrejects VBZ B-VP O\\n"
    ...                 "German JJ B-NP B-MISC\\ncall NN I-NP O\\n. . O O\\n")
    >>> sentences = read_conll(path)
    >>> sentences[0].words, sentences[0].tags
    (['EU', 'rejects', 'German', 'call', '.'], ['B-ORG', 'O', 'B-MISC', 'O', 'O'])
    """
    path = str(path)
    sentences = []
    words, tags = [], []
    document = -1
    first_line = 0
    num_columns = None
    checked = set()  # tags already found valid

    def flush():
        nonlocal words, tags
        if words:
            fixed = to_iob2(tags, scheme) if scheme != "iob2" or convert_iob1 else tags
            sentences.append(TaggedSentence(words, fixed, max(document, 0), first_line))
        words, tags = [], []

    for line_number, line in text_lines(path, encoding):
        if not line.strip():
            flush()
            continue
        if line.startswith("-DOCSTART-"):
            flush()
            document += 1
            continue
        columns = line.split()
        if num_columns is None:
            num_columns = len(columns)
            if num_columns < 2:
                raise BrokenFileError(
                    f"{path}:{line_number}: expected at least two columns (word and "
                    f"tag), got {line!r}."
                )
        elif len(columns) != num_columns:
            raise BrokenFileError(
                f"{path}:{line_number}: expected {num_columns} columns like the "
                f"first line, got {len(columns)}: {line!r}."
            )
        try:
            word, tag = columns[word_column], columns[tag_column]
        except IndexError:
            raise BrokenFileError(
                f"{path}:{line_number}: no column {word_column} / {tag_column} in "
                f"{line!r}."
            ) from None
        if tag not in checked:
            _check_tag(tag, path, line_number, scheme)
            checked.add(tag)
        if not words:
            first_line = line_number
        words.append(word)
        tags.append(tag)
    flush()
    if not sentences:
        raise BrokenFileError(f"{path}: holds no tagged sentence (expected lines of word and tag columns).")
    return sentences


def read_bio(path, convert_iob1=True, encoding="utf-8", scheme="iob2"):
    """Reads a two-column tagged file (`word tag` per line; a character per line for
    Chinese), blank lines between sentences, tags in BIO (IOB2 or IOB1), or BMES / BIOES
    with `scheme` (MSRA NER is BMES). See `read_conll`.

    Example:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "train.bio")
    >>> with open(path, "w", encoding="utf-8") as f:
    ...     _ = f.write("任 B-PER\\n正 I-PER\\n非 I-PER\\n是 O\\n華 B-ORG\\n為 I-ORG\\n")
    >>> sentence = read_bio(path)[0]
    >>> "".join(sentence.words), sentence.tags[:4]
    ('任正非是華為', ['B-PER', 'I-PER', 'I-PER', 'O'])
    """
    return read_conll(path, word_column=0, tag_column=-1, convert_iob1=convert_iob1,
                      encoding=encoding, scheme=scheme)


TAGGED_FORMATS = ("conll", "bio", "bmes", "bioes")


def read_tagged(path, file_format):
    """Reads a tagged file of one of `TAGGED_FORMATS`: `"conll"` (`read_conll`: word ...
    tag columns, IOB1 or IOB2), `"bio"` (`read_bio`: two columns), `"bmes"` / `"bioes"`
    (two columns with those tags). Tags come back in IOB2 whatever the file's scheme.
    """
    if file_format not in TAGGED_FORMATS:
        raise ValueError(f"unknown tagged-file format {file_format!r}; expected one of {TAGGED_FORMATS}.")
    if file_format == "conll":
        return read_conll(path)
    return read_bio(path, scheme="iob2" if file_format == "bio" else file_format)


def write_bio(path, sentences, encoding="utf-8"):
    """Writes `(words, tags)` pairs (or `TaggedSentence`s) as a two-column BIO file."""
    with atomic_write(path, encoding=encoding) as f:
        for sentence in sentences:
            words, tags = (sentence.words, sentence.tags) if isinstance(
                sentence, TaggedSentence) else sentence
            if len(words) != len(tags):
                raise ValueError(
                    f"write_bio: {len(words)} words but {len(tags)} tags in {words!r}."
                )
            for word, tag in zip(words, tags):
                if not word or any(c.isspace() for c in word):
                    raise BrokenFileError(f"write_bio: word {word!r} is empty or has a space.")
                f.write(f"{word} {tag}\n")
            f.write("\n")


def split_off_last(sentences, fraction):
    """`(first, last)`: the last `fraction` of the sentences (at least one) carved off as a
    dev split, for a corpus that has none (MSRA). Sentences keep their file order, so no
    sentence is on both sides and the training part's text can be used for pre-training.

    >>> split_off_last(list("abcdefghij"), 0.2)
    (['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], ['i', 'j'])
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}.")
    cut = len(sentences) - max(1, round(fraction * len(sentences)))
    return sentences[:cut], sentences[cut:]


def tag_list(sentences):
    """The sorted tag set of `sentences`, `O` first, with both `B-X` and `I-X` for each
    entity type seen (so a label set built from a training subset covers every tag).

    Example:
    >>> tag_list([TaggedSentence(["Paris"], ["B-LOC"])])
    ['O', 'B-LOC', 'I-LOC']
    """
    types = set()
    for sentence in sentences:
        for tag in sentence.tags:
            if tag != "O":
                types.add(tag[2:])
    out = ["O"]
    for kind in sorted(types):
        out += ["B-" + kind, "I-" + kind]
    return out
