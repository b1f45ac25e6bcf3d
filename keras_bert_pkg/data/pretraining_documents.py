"""Raw text → documents of tokenized sentences, the input of BERT's pre-training data.

BERT's next-sentence task needs two things from the text: sentence boundaries (segments
A and B are made of whole "sentences") and document boundaries (the "random next"
segment must come from another document). Three input formats give them:

- `"lines"`: the original BERT format (google-research/bert `create_pretraining_data.py`):
  one sentence per line, a blank line between documents.
- `"paragraphs"`: one paragraph per line, split into sentences here, a blank line between
  documents.
- `"wikitext"`: the WikiText layout: a ` = Title = ` heading starts a document,
  ` = = Section = = ` headings are dropped, every other non-blank line is a paragraph
  (split into sentences). WikiText's tokenised number joiners (`1 @,@ 000`, `0 @.@ 5`,
  `well @-@ known`) are joined back (`1,000`, `0.5`, `well-known`), and its `<unk>`
  placeholder becomes the tokenizer's `[UNK]` id (not the three pieces `<`, `unk`, `>`).

`"auto"` picks `"wikitext"` when the file has a ` = Title = ` line, else `"lines"`.

As in the original, each line is stripped, empty sentences (nothing left after
tokenization) are dropped and so are empty documents.
"""

import re

import tensorflow as tf

from keras_bert_pkg.atomic_files import atomic_write
from keras_bert_pkg.broken_files import BrokenFileError, text_lines

INPUT_FORMATS = ("auto", "lines", "paragraphs", "wikitext")

_WIKITEXT_TITLE = re.compile(r"^ ?= [^=].* = ?$")
_WIKITEXT_SECTION = re.compile(r"^ ?(= ){2,}.*( =){2,} ?$")
_WIKITEXT_JOINERS = ((" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."))
WIKITEXT_UNKNOWN = "<unk>"

# A sentence ends at ., ! or ? (then any closing quotes or brackets), followed by
# whitespace and something that starts a sentence (optional opening quote or bracket,
# then a capital letter or a digit).
_SENTENCE_END = re.compile(r"([.!?]+[\"'\u201d\u2019)\]]*)\s+(?=[\"'\u201c\u2018(\[]*\s?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st jr sr vs etc no nos mt lt col gen gov sgt capt cpt cmdr adm
    rev hon fig figs vol vols ed eds inc ltd co corp bros dept est approx ca cf al op pp
    jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)


def split_sentences(text):
    """Splits a paragraph into sentences with a small rule-based splitter.

    A sentence ends at `.`, `!` or `?` (plus closing quotes/brackets) followed by
    whitespace and a capital letter or digit. A period glued to a known abbreviation
    (`Mr.`, `Dr.`, `St.`, `Jan.`, ...), to a single letter (an initial: `H. americanus`,
    `J. R. R. Tolkien`) or to a word with an inner period (`U.S.`, `e.g.`) does not end
    a sentence. Works on plain and on space-tokenised text (WikiText's `Sea . It`).

    Args:
        text: one paragraph (a `str`).

    Returns: a list of stripped, non-empty sentences.

    Example:
    >>> split_sentences("Dr. Smith went to Washington. He met the U.S. president.")
    ['Dr. Smith went to Washington.', 'He met the U.S. president.']
    """
    sentences = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        punct_start = match.start(1)
        if text[match.start(1)] == "." and punct_start > start and not text[punct_start - 1].isspace():
            words = text[start:punct_start].split()
            word = words[-1] if words else ""
            if _is_abbreviation(word):
                continue
        sentence = text[start:match.end(1)].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _is_abbreviation(word):
    word = word.lstrip("\"'(\u201c\u2018[")
    if not word:
        return False
    if len(word) == 1 and word.isalpha():  # an initial
        return True
    if "." in word:  # U.S, e.g, Ph.D
        return True
    return word.lower() in _ABBREVIATIONS


def detect_input_format(path):
    """`"wikitext"` when `path` has a ` = Title = ` heading line, else `"lines"`."""
    for _, line in text_lines(path):
        if _WIKITEXT_TITLE.match(line) and not _WIKITEXT_SECTION.match(line):
            return "wikitext"
    return "lines"


def _clean_wikitext(line):
    for joined, plain in _WIKITEXT_JOINERS:
        line = line.replace(joined, plain)
    return line


def read_text_documents(path, input_format="auto"):
    """Reads one text file as documents of sentence strings.

    Args:
        path: a local or `tf.io.gfile` path (UTF-8 text).
        input_format: `"auto"`, `"lines"`, `"paragraphs"` or `"wikitext"` (module doc).

    Returns: a list of documents, each a list of sentence strings (WikiText `<unk>`
    placeholders are kept in the strings; `tokenize_documents` maps them to `[UNK]`).
    Empty documents are dropped.

    Raises:
        FileNotFoundError: naming the file; ValueError for an unknown format;
        BrokenFileError (a ValueError) for a line that is not valid UTF-8 (naming the
        file and line number) or a file without text.
    """
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"Unknown input_format {input_format!r}; expected one of {INPUT_FORMATS}.")
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"Pre-training text file not found: {path!r}")
    if input_format == "auto":
        input_format = detect_input_format(path)
    documents = [[]]
    for _, line in text_lines(path, keep_ends=True):
        if input_format == "wikitext":
            stripped = line.strip()
            if not stripped:
                continue  # a paragraph break, not a document break
            bare = line.rstrip("\r\n")
            if _WIKITEXT_SECTION.match(bare):
                continue
            if _WIKITEXT_TITLE.match(bare):
                documents.append([])
                continue
            documents[-1].extend(split_sentences(_clean_wikitext(line).strip()))
        else:
            stripped = line.strip()
            if not stripped:
                documents.append([])
            elif input_format == "paragraphs":
                documents[-1].extend(split_sentences(stripped))
            else:
                documents[-1].append(stripped)
    documents = [doc for doc in documents if doc]
    if not documents:
        raise BrokenFileError(f"{path}: holds no text (expected {input_format} documents).")
    return documents


def tokenize_sentence(tokenizer, sentence, unknown_marker=WIKITEXT_UNKNOWN):
    """Token ids of one sentence; each `unknown_marker` becomes `tokenizer.unk_token_id`."""
    if unknown_marker and unknown_marker in sentence:
        ids = []
        for k, piece in enumerate(sentence.split(unknown_marker)):
            if k:
                ids.append(tokenizer.unk_token_id)
            ids.extend(tokenizer.encode(piece))
        return ids
    return tokenizer.encode(sentence)


def tokenize_documents(documents, tokenizer, unknown_marker=WIKITEXT_UNKNOWN):
    """Tokenizes documents of sentence strings into documents of token-id lists.

    Sentences that tokenize to nothing and documents left empty are dropped, as in the
    original tool.

    Args:
        documents: a list of documents, each a list of sentence strings.
        tokenizer: a `BertTokenizer` (its Python `encode` is used).
        unknown_marker: a placeholder in the text that stands for `[UNK]`
            (WikiText's `<unk>`); None to tokenize the text as it is.

    Returns: a list of documents, each a list of sentences, each a list of int ids.
    """
    out = []
    for document in documents:
        doc = [ids for ids in (tokenize_sentence(tokenizer, s, unknown_marker) for s in document) if ids]
        if doc:
            out.append(doc)
    return out


def read_documents(paths, tokenizer, input_format="auto", document_range=None):
    """Reads and tokenizes text files into BERT pre-training documents.

    Args:
        paths: a path or a list of paths, read in order.
        tokenizer: a `BertTokenizer`.
        input_format: `"auto"`, `"lines"`, `"paragraphs"` or `"wikitext"`.
        document_range: optional `slice` over the documents (in file order, before any
            shuffling), e.g. `slice(None, 54)` for a training part and `slice(54, None)`
            for a held-out part.

    Returns: a list of documents, each a list of sentences (lists of token ids).

    Example:
    >>> tokenizer = BertTokenizer(vocab_file)
    >>> docs = read_documents(text_file, tokenizer)
    >>> len(docs), tokenizer.decode(docs[0][0])
    (3, 'the cat sat on the mat .')
    """
    if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
        paths = [paths]
    documents = []
    for path in paths:
        documents.extend(read_text_documents(str(path), input_format))
    if document_range is not None:
        documents = documents[document_range]
    return tokenize_documents(documents, tokenizer)


def word_joiner(word_lists):
    """How the words of tagged sentences join back into their text: `""` when every word
    is one character (Chinese NER files: a character a line), else `" "`.

    >>> word_joiner([["任", "正", "非"]]), word_joiner([["EU", "rejects"]])
    ('', ' ')
    """
    return "" if all(len(word) == 1 for words in word_lists for word in words) else " "


def tagged_text_documents(word_lists, sentences_per_document, joiner=None):
    """The text of tagged sentences (an NER corpus) as pre-training documents.

    The sentences keep their file order; every `sentences_per_document` consecutive ones
    make a document (corpora such as MSRA keep no article boundaries, and next-sentence
    prediction needs some: its "random next" segment comes from another document).

    Args:
        word_lists: one list of words (or characters) per sentence.
        sentences_per_document: sentences in each document (the last may have fewer).
        joiner: the string between words; None: `word_joiner(word_lists)`.

    Returns: a list of documents, each a list of sentence strings; empty sentences dropped.

    >>> tagged_text_documents([["华", "为"], ["在", "深", "圳"], ["好"]], 2)
    [['华为', '在深圳'], ['好']]
    """
    if sentences_per_document < 1:
        raise ValueError(f"sentences_per_document must be >= 1, got {sentences_per_document}.")
    joiner = word_joiner(word_lists) if joiner is None else joiner
    sentences = [s for s in (joiner.join(words).strip() for words in word_lists) if s]
    return [sentences[i:i + sentences_per_document] for i in range(0, len(sentences), sentences_per_document)]


def write_text_documents(path, documents):
    """Writes documents in the `"lines"` format (a sentence a line, a blank line between
    documents), whole or not at all; `read_text_documents(path, "lines")` reads them back.

    Raises:
        ValueError: for a sentence with a line break in it (it would read back as two).
    """
    for d, document in enumerate(documents):
        for sentence in document:
            if "\n" in sentence or "\r" in sentence or not sentence.strip():
                raise ValueError(f"document {d}: sentence {sentence!r} is empty or holds a line break.")
    with atomic_write(path) as f:
        f.write("\n\n".join("\n".join(document) for document in documents) + "\n")


def parse_document_range(text):
    """Parses `"START:END"` (either side optional, negative allowed) into a `slice`.

    >>> parse_document_range(":54"), parse_document_range("54:")
    (slice(None, 54, None), slice(54, None, None))
    """
    if text is None or text == "":
        return None
    if ":" not in text:
        raise ValueError(f"document range must look like START:END, got {text!r}.")
    start, end = text.split(":", 1)
    try:
        return slice(int(start) if start.strip() else None, int(end) if end.strip() else None)
    except ValueError:
        raise ValueError(f"document range must look like START:END with integers, got {text!r}.") from None
