"""Entity tagging schemes: IOB2 (what the models train on) and BMES / BIOES, and back.

Chinese NER corpora (MSRA, OntoNotes, Weibo, Resume) tag characters in BMES: `B-X` begins
an entity of type X, `M-X` continues it, `E-X` ends it and `S-X` is a one-character
entity; BIOES spells `M-` as `I-`. The token classifiers here predict IOB2 (`B-X` begins,
`I-X` continues), which holds the same entities: `to_iob2` converts a sentence's tags,
`from_iob2` converts predictions back, and `entity_counts` counts entities by type.

A sentence that starts inside an entity (a corpus sentence split inside a name, as in six
MSRA sentences) starts that entity at its first tag, as conlleval reads a leading `I-X`.

Example:
>>> to_iob2(["B-PER", "M-PER", "E-PER", "O", "S-LOC"], "bmes")
['B-PER', 'I-PER', 'I-PER', 'O', 'B-LOC']
>>> from_iob2(['B-PER', 'I-PER', 'I-PER', 'O', 'B-LOC'], "bmes")
['B-PER', 'M-PER', 'E-PER', 'O', 'S-LOC']
>>> entity_counts([["B-ORG", "I-ORG", "O", "B-LOC"], ["B-LOC"]])
{'LOC': 2, 'ORG': 1}
"""

SCHEMES = {"iob2": ("B", "I"), "bmes": ("B", "M", "E", "S"), "bioes": ("B", "I", "E", "S")}


def check_tag(tag, scheme):
    """Whether `tag` is `O` or `<prefix>-<TYPE>` with a prefix of `scheme`."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r}; known: {sorted(SCHEMES)}.")
    return tag == "O" or (len(tag) > 2 and tag[1] == "-" and tag[0] in SCHEMES[scheme])


def to_iob2(tags, scheme):
    """A sentence's tags in `scheme` as IOB2 (`B-` at each entity's first tag).

    An inside tag (`M-`/`I-`/`E-`) that does not continue an open entity of its type
    begins one; `B-` and `S-` always do; `E-` and `S-` close the entity.

    Raises:
        ValueError: for a tag that is not `O` or a tag of `scheme`.
    """
    out, open_kind = [], None  # the type of the entity the previous tag left open
    for tag in tags:
        if not check_tag(tag, scheme):
            raise ValueError(f"tag {tag!r} is not a {scheme.upper()} tag (O, or "
                             f"{'/'.join(SCHEMES[scheme])}-TYPE).")
        if tag == "O":
            out.append(tag)
            open_kind = None
            continue
        prefix, kind = tag[0], tag[2:]
        continues = prefix in ("M", "I", "E") and open_kind == kind
        out.append(("I-" if continues else "B-") + kind)
        open_kind = kind if prefix in ("B", "M", "I") else None
    return out


def from_iob2(tags, scheme):
    """IOB2 tags (a model's predictions) in `scheme`: an entity of one tag is `S-`, of
    several `B-`, `M-`/`I-` ..., `E-`. A leading `I-X` begins an entity (conlleval)."""
    tags = to_iob2(tags, "iob2")  # every entity now starts with B-, every I- continues one
    if scheme == "iob2":
        return tags
    inside = "M" if scheme == "bmes" else "I"
    out = []
    for tag, nxt in zip(tags, tags[1:] + ["O"]):
        if tag == "O":
            out.append(tag)
            continue
        begins, ends = tag.startswith("B-"), not nxt.startswith("I-")
        out.append(f"{'S' if begins and ends else 'B' if begins else 'E' if ends else inside}-{tag[2:]}")
    return out


def entity_counts(tag_lists):
    """`{type: entities}` of IOB2-tagged sentences, types sorted."""
    counts = {}
    for tags in tag_lists:
        for tag in to_iob2(tags, "iob2"):
            if tag.startswith("B-"):
                counts[tag[2:]] = counts.get(tag[2:], 0) + 1
    return dict(sorted(counts.items()))
