"""SquadExample and the reader of the official SQuAD v1.1 / v2.0 JSON files."""

import dataclasses
import os

from keras_bert_pkg.broken_files import BrokenFileError, read_json


@dataclasses.dataclass
class SquadExample:
    """One SQuAD question about one context paragraph.

    Attributes:
        qas_id: the question id.
        question_text: the question.
        context_text: the paragraph, exactly as in the file.
        answer_text: the first gold answer (training label), None when unanswerable
            or when the file has no answers (test data).
        answer_start: its character offset in `context_text` (None as above).
        is_impossible: v2.0 unanswerable question.
        answers: every gold answer, as `{"text", "answer_start"}` dicts.
        title: the article title.
    """

    qas_id: str
    question_text: str
    context_text: str
    answer_text: object = None
    answer_start: object = None
    is_impossible: bool = False
    answers: list = dataclasses.field(default_factory=list)
    title: str = ""

    @property
    def answer_end(self):
        """Exclusive character end of the training answer (None without one)."""
        if self.answer_start is None:
            return None
        return self.answer_start + len(self.answer_text)


def load_squad_json(source):
    """Returns the parsed official JSON (`{"version", "data"}`) of a path or dict."""
    if isinstance(source, dict):
        return source
    path = os.fspath(source)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"SQuAD file not found: {path}")
    data = read_json(path, expected='the SQuAD object {"version": ..., "data": [...]}')
    if not isinstance(data.get("data"), list):
        raise BrokenFileError(f"{path}: no top-level 'data' list (not the official SQuAD layout).")
    return data


def read_squad_examples(source, is_training=False, version_2_with_negative=None):
    """Reads the official SQuAD JSON into a list of `SquadExample`.

    Args:
        source: path of a SQuAD JSON file, or the parsed dict.
        is_training: require a usable training answer for each answerable question:
            a text whose `answer_start` points at exactly that text in the context.
        version_2_with_negative: allow unanswerable questions (`is_impossible`); by
            default taken from the file's `"version"` (True for "v2.0"/"2.0").

    Returns: a list of `SquadExample`, in file order.

    Raises:
        ValueError: naming the file, article, paragraph and question of any malformed
            entry (missing field, empty context, answer offset that does not match the
            answer text, an impossible question in a v1.1 file, ...).

    Example:
    >>> data = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{
    ...     "context": "The novel was written by George Orwell.",
    ...     "qas": [{"id": "q1", "question": "Who wrote it?",
    ...              "answers": [{"text": "George Orwell", "answer_start": 25}]}]}]}]}
    >>> examples = read_squad_examples(data, is_training=True)
    >>> examples[0].context_text[examples[0].answer_start:examples[0].answer_end]
    'George Orwell'
    """
    name = "<dict>" if isinstance(source, dict) else os.fspath(source)
    data = load_squad_json(source)
    if version_2_with_negative is None:
        version_2_with_negative = str(data.get("version", "")).lstrip("v").startswith("2")
    examples = []
    for a, article in enumerate(data["data"]):
        title = article.get("title", "")
        paragraphs = article.get("paragraphs")
        if not isinstance(paragraphs, list):
            raise BrokenFileError(f"{name}: article {a} ({title!r}) has no 'paragraphs' list.")
        for p, paragraph in enumerate(paragraphs):
            where = f"{name}: article {a} ({title!r}), paragraph {p}"
            context = paragraph.get("context")
            if not isinstance(context, str) or not context.strip():
                raise BrokenFileError(f"{where}: missing or empty 'context'.")
            for q, qa in enumerate(paragraph.get("qas", [])):
                qwhere = f"{where}, question {q} (id {qa.get('id')!r})"
                for field in ("id", "question"):
                    if field not in qa:
                        raise BrokenFileError(f"{qwhere}: missing {field!r}.")
                is_impossible = bool(qa.get("is_impossible", False))
                if is_impossible and not version_2_with_negative:
                    raise BrokenFileError(
                        f"{qwhere}: 'is_impossible' question in a file read as SQuAD v1.1 "
                        "(pass version_2_with_negative=True)."
                    )
                answers = qa.get("answers", []) or []
                answer_text = answer_start = None
                if not is_impossible and answers:
                    first = answers[0]
                    answer_text, answer_start = first.get("text"), first.get("answer_start")
                    if is_training:
                        if not isinstance(answer_text, str) or not answer_text:
                            raise BrokenFileError(f"{qwhere}: empty answer text.")
                        if not isinstance(answer_start, int) or answer_start < 0:
                            raise BrokenFileError(f"{qwhere}: bad answer_start {answer_start!r}.")
                        found = context[answer_start:answer_start + len(answer_text)]
                        if found != answer_text:
                            raise BrokenFileError(
                                f"{qwhere}: answer_start {answer_start} gives {found!r}, "
                                f"not the answer text {answer_text!r}."
                            )
                elif is_training and not is_impossible:
                    raise BrokenFileError(f"{qwhere}: answerable training question without answers.")
                examples.append(
                    SquadExample(
                        qas_id=str(qa["id"]),
                        question_text=qa["question"],
                        context_text=context,
                        answer_text=answer_text,
                        answer_start=answer_start,
                        is_impossible=is_impossible,
                        answers=list(answers),
                        title=title,
                    )
                )
    return examples
