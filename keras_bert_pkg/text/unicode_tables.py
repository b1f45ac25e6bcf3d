"""Unicode tables of the original BERT tokenizer, one entry per code point.

The original `BasicTokenizer` decides what to do with each character from Python's
`unicodedata` (its category, `str.lower()`, NFD). Here those answers are computed once
per process (about 0.2 s) for every code point and stored as lookup tables: bytes for the
pure-Python tokenizer (`python_tokenizer`) and int32 arrays that the graph tokenizer
(`graph_tokenizer`) gathers from. Both tokenizers therefore follow the same rules, and
they follow the Unicode version of the running Python, as the original does.

Example:
>>> classes = class_table()
>>> classes[ord("a")] == OTHER, classes[ord("!")] == PUNCT, classes[ord("中")] == CJK
(True, True, True)
"""

import functools
import re
import unicodedata

import numpy as np

# ---------------------------------------------------------------------------------------
# Every code point gets one class. The classes follow the order in which the original
# `BasicTokenizer` looks at a character:
#   REMOVE  NUL, U+FFFD and control and format characters (categories Cc and Cf, except
#            \t \n \r): dropped, as the original's `_clean_text` drops them. Unassigned
#            (Cn), private-use (Co) and surrogate (Cs) code points are NOT dropped: the
#            original keeps them as ordinary characters (so a word holding one is [UNK]);
#            which code points are unassigned follows the running Python's Unicode version;
#   SPACE   " ", \t, \n, \r, category Zs, and anything else `str.split()` splits on
#            (U+2028, U+2029): ends a word;
#   CJK     the CJK ranges of the original `_is_chinese_char`: a word on its own;
#   PUNCT   ASCII 33-47, 58-64, 91-96, 123-126 and category P*: a word on its own;
#   OTHER   everything else: part of a word.
# ---------------------------------------------------------------------------------------
OTHER, REMOVE, SPACE, PUNCT, CJK = 0, 1, 2, 3, 4

CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
_ASCII_PUNCT_RANGES = ((33, 47), (58, 64), (91, 96), (123, 126))

# Code points scanned with `unicodedata`. Outside them every code point is unassigned
# (Cn) or private use (Co), hence an ordinary character (OTHER, no case, no
# decomposition); a test checks this against the running Python.
SCANNED_RANGES = ((0, 0x40000), (0xE0000, 0xE1000))
MAX_CODE_POINT = 0x110000
# Blocks holding only ideographs (category Lo) or unassigned code points: no case,
# no canonical decomposition, neither cased nor case-ignorable. Planes 2 and 3 are all
# ideographs; only the compatibility ideographs (U+2F800-U+2FA1F) decompose.
_PLAIN_IDEOGRAPH_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0x20000, 0x2F7FF),
    (0x2FA20, 0x3FFFF),
)

CAPITAL_SIGMA, SMALL_SIGMA, FINAL_SIGMA = 0x3A3, 0x3C3, 0x3C2
# How `str.lower()` sees a character next to a capital sigma (see `lowercase_tables`).
SIGMA_IGNORABLE, SIGMA_CASED = 1, 2

# The graph looks up one int32 per code point: bits 0-2 the class, bit 3 case-ignorable,
# bit 4 cased, bits 5+ one plus the row of the code point in the lower-casing table.
INFO_CLASS_MASK = 7
INFO_IGNORABLE = 8
INFO_CASED = 16
INFO_MAP_SHIFT = 5
# The per-code-point table is stored in two levels: pages of 256 code points, equal
# pages stored once.
PAGE_BITS = 8


def _scanned_code_points(skip=()):
    cps = []
    for lo, hi in SCANNED_RANGES:
        cursor = lo
        for skip_lo, skip_hi in sorted(skip):
            if skip_hi < cursor or skip_lo >= hi:
                continue
            cps.extend(range(cursor, skip_lo))
            cursor = skip_hi + 1
        cps.extend(range(cursor, hi))
    return cps


@functools.lru_cache(maxsize=None)
def class_table():
    """The class of every code point, as `bytes` indexed by code point."""
    cps = _scanned_code_points()
    chars = list(map(chr, cps))
    cats = list(map(unicodedata.category, chars))
    code = {}
    for cat in set(cats):
        if cat in ("Cc", "Cf"):
            code[cat] = REMOVE
        elif cat == "Zs":
            code[cat] = SPACE
        elif cat.startswith("P"):
            code[cat] = PUNCT
        else:
            code[cat] = OTHER
    table = bytearray([OTHER]) * MAX_CODE_POINT
    offset = 0
    for lo, hi in SCANNED_RANGES:
        table[lo:hi] = bytes(map(code.__getitem__, cats[offset : offset + hi - lo]))
        offset += hi - lo
    for lo, hi in _ASCII_PUNCT_RANGES:
        table[lo : hi + 1] = bytes([PUNCT]) * (hi + 1 - lo)
    for lo, hi in CJK_RANGES:
        for cp in range(lo, hi + 1):
            table[cp] = CJK  # by range, as `_is_chinese_char`: unassigned ones too
    # `str.split()` also splits on U+2028 and U+2029 (categories Zl, Zp).
    for match in re.finditer(r"\s", "".join(chars)):
        cp = cps[match.start()]
        if table[cp] != REMOVE:
            table[cp] = SPACE
    for cp in (ord("\t"), ord("\n"), ord("\r"), ord(" ")):
        table[cp] = SPACE
    table[0] = table[0xFFFD] = REMOVE
    return bytes(table)


@functools.lru_cache(maxsize=None)
def lowercase_tables():
    """Tables for lower casing and accent stripping.

    Returns `(mapping, sigma)`. `mapping` is a dict from each code point whose
    `lower()`, NFD and removal of Mn characters is not itself, to the tuple of resulting
    code points (empty for Mn characters). `sigma` (bytes, one per code point) tells how
    `str.lower()` treats a character next to a capital sigma, which becomes a final
    sigma when a cased letter precedes it and none follows, skipping case-ignorable
    characters (`SIGMA_IGNORABLE`, `SIGMA_CASED`); it is found by asking `str.lower()`
    itself, since Python does not expose these properties.
    """
    classes = class_table()
    cps = [
        cp
        for cp in _scanned_code_points(skip=_PLAIN_IDEOGRAPH_RANGES)
        if classes[cp] != REMOVE
    ]
    chars = list(map(chr, cps))
    mn = {cp: None for cp, ch in zip(cps, chars) if unicodedata.category(ch) == "Mn"}
    # `lower()` and NFD work character by character (apart from the final sigma,
    # handled below, and the reordering of combining marks, which only matters for
    # several non-Mn combining marks in a row); NUL separators keep the characters apart.
    lowered = unicodedata.normalize("NFD", "\0".join(chars).lower())
    pieces = lowered.translate(mn).split("\0")
    if len(pieces) != len(chars):  # pragma: no cover
        raise RuntimeError("BertTokenizer: could not build the lower-casing table.")
    mapping = {}
    for cp, ch, piece in zip(cps, chars, pieces):
        if piece != ch:
            mapping[cp] = tuple(map(ord, piece))

    # For a character c: c + capital sigma lowers to a final sigma iff c is cased and
    # not case-ignorable; "A" + c + capital sigma does iff c is case-ignorable or cased.
    # "1" (neither cased nor case-ignorable) separates the probes.
    probes = [ch for ch in chars if ch not in ("1", "\u03a3", "\u03c3", "\u03c2")]
    first = "1".join([ch + "\u03a3" for ch in probes]).lower().split("1")
    second = "1".join(["A" + ch + "\u03a3" for ch in probes]).lower().split("1")
    sigma = bytearray(MAX_CODE_POINT)
    final = chr(FINAL_SIGMA)
    for ch, a, b in zip(probes, first, second):
        if a[-1] == final:
            sigma[ord(ch)] = SIGMA_CASED
        elif b[-1] == final:
            sigma[ord(ch)] = SIGMA_IGNORABLE
    for cp in (CAPITAL_SIGMA, SMALL_SIGMA, FINAL_SIGMA):
        sigma[cp] = SIGMA_CASED
    return mapping, bytes(sigma)


def _two_level(values):
    """Splits a per-code-point int32 array into (page → offset, pages)."""
    pages = values.reshape([-1, 1 << PAGE_BITS])
    seen = {}
    page_offset = np.empty([pages.shape[0]], dtype=np.int32)
    stored = []
    for i, page in enumerate(pages):
        key = page.tobytes()
        if key not in seen:
            seen[key] = len(stored) << PAGE_BITS
            stored.append(page)
        page_offset[i] = seen[key]
    return page_offset, np.concatenate(stored).astype(np.int32)


@functools.lru_cache(maxsize=None)
def graph_tables(lowercase):
    """Numpy tables for the graph: the per-code-point info in two levels and, when
    lower casing, the mapped code points (rows `row_splits[k]:row_splits[k + 1]` of
    `mapped` and `mapped_classes`)."""
    classes = np.frombuffer(class_table(), dtype=np.uint8)
    info = classes.astype(np.int32)
    tables = {}
    if lowercase:
        mapping, sigma = lowercase_tables()
        sigma = np.frombuffer(sigma, dtype=np.uint8).astype(np.int32)
        info |= np.where(sigma == SIGMA_IGNORABLE, INFO_IGNORABLE, 0).astype(np.int32)
        info |= np.where(sigma == SIGMA_CASED, INFO_CASED, 0).astype(np.int32)
        keys = sorted(mapping)
        info[keys] |= (np.arange(1, len(keys) + 1, dtype=np.int32) << INFO_MAP_SHIFT)
        lengths = [len(mapping[k]) for k in keys]
        mapped = [cp for k in keys for cp in mapping[k]]
        tables["row_splits"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tables["mapped"] = np.array(mapped, dtype=np.int32)
        tables["mapped_classes"] = classes[mapped].astype(np.int32)
    tables["page_offset"], tables["pages"] = _two_level(info)
    return tables
