"""Pytest set-up for the doctests of `keras_bert_pkg/` (the tests' own is `tests/conftest.py`).

The docstring examples run against small files made here once per session (no download,
no shared data): `checkpoint_dir`, a 2-layer BERT in Hugging Face layout with a
110-token uncased vocabulary; `keras_file`, the same backbone as a `.keras` file; `pretrainer_file`, a `BertPretrainer`
on it (`.keras`, heads included);
`vocab_file` and `text_file` (a few documents of pre-training text); `export_dir`, an
empty folder. Every public name of `keras_bert_pkg` is in scope too, and `kb`, `np`,
`tf`, `keras`, `os`.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras_bert_pkg as kb  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_bert_pkg.checkpoints.vocabulary_file import write_vocabulary  # noqa: E402

WORDS = ("the a an of to in on and is was he she it they who what where when why how there "
         "here this that cat dog sat mat cloud flew down up film movie good bad fine great "
         "gripping tedious dull long short hello world george london paris orwell wrote "
         "novel book lived born city year man woman canoe water paddle kneels beside pushes "
         "eats paints clouds folds day night story about people , . ? ! ' - ##s ##ed ##ing "
         "##ly one two three four five six seven eight nine ten red blue green big small new "
         "old first last time yes no").split()
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
TEXT = ("the cat sat on the mat .\nthe dog was on the mat .\nhe lived in london .\n\n"
        "george wrote a novel .\nthe novel was about a man .\nthe man lived in paris .\n\n"
        "she was born in london .\nthe film was good .\nit was a long story .\n")


@pytest.fixture(scope="session")
def doctest_files(tmp_path_factory):
    assert len(VOCABULARY) == 110, len(VOCABULARY)
    folder = tmp_path_factory.mktemp("doctest_files")
    vocab_file = str(folder / "vocab.txt")
    write_vocabulary(VOCABULARY, vocab_file)
    text_file = str(folder / "text.txt")
    with open(text_file, "w", encoding="utf-8") as f:
        f.write(TEXT)
    keras.utils.set_random_seed(0)
    backbone = kb.BertBackbone(vocabulary_size=len(VOCABULARY), num_layers=2, num_heads=2,
                               hidden_dim=16, intermediate_dim=32, max_sequence_length=64,
                               hidden_activation="gelu")
    checkpoint_dir = str(folder / "tiny_bert")
    kb.save_checkpoint(backbone, checkpoint_dir, "hf", vocabulary=VOCABULARY)
    keras_file = str(folder / "tiny_bert.keras")
    backbone.save(keras_file)
    pretrainer_file = str(folder / "tiny_pretrainer.keras")
    kb.BertPretrainer(backbone).save(pretrainer_file)
    export_dir = str(folder / "savedmodels")
    return {"checkpoint_dir": checkpoint_dir, "keras_file": keras_file,
            "pretrainer_file": pretrainer_file, "vocab_file": vocab_file,
            "text_file": text_file, "export_dir": export_dir}


@pytest.fixture(scope="session", autouse=True)
def _doctest_names(doctest_namespace, doctest_files):
    doctest_namespace.update({name: getattr(kb, name) for name in kb.__all__})
    doctest_namespace.update(kb=kb, keras=keras, np=np, tf=tf, os=os, **doctest_files)
