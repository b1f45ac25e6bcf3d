"""Shared pieces of the export tests: real inputs, tiny models, the fresh-process runner."""

import base64
import json
import os
import subprocess
import sys

import numpy as np

from keras_bert_pkg.data.conll import read_conll
from tests.test_case import SHARED_DATA

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "savedmodel_runner.py")


def sst2_sentences(n=3):
    rows = (SHARED_DATA / "glue" / "SST-2" / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [r.split("\t")[0].strip() for r in rows[:n]]


def mrpc_pairs(n=3, start=0):
    rows = (SHARED_DATA / "glue" / "MRPC" / "dev.tsv").read_text(encoding="utf-8-sig").splitlines()[1:]
    pairs = [r.split("\t") for r in rows[start:start + n]]
    return [p[3] for p in pairs], [p[4] for p in pairs]


def conll_sentences(n=3):
    """The first `n` CoNLL-2003 validation sentences with an entity, words joined by spaces."""
    sentences = read_conll(str(SHARED_DATA / "ner" / "conll2003" / "valid.txt"))
    picked = [s for s in sentences if any(t != "O" for t in s.tags) and len(s.words) > 4][:n]
    return [" ".join(s.words) for s in picked], sentences


def squad_pairs(n=3):
    """(questions, contexts) of the first SQuAD v1.1 dev questions (one per paragraph)."""
    data = json.loads((SHARED_DATA / "squad" / "v1.1" / "dev.json").read_text(encoding="utf-8"))
    questions, contexts = [], []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            questions.append(paragraph["qas"][0]["question"])
            contexts.append(paragraph["context"])
            if len(questions) == n:
                return questions, contexts
    return questions, contexts


def string_input(values):
    """A string tensor for the runner; bytes (serialized protos) travel as base64."""
    values = np.asarray(values, dtype=object)
    if values.size and isinstance(values.reshape([-1])[0], bytes):
        encoded = np.vectorize(lambda b: base64.b64encode(b).decode("ascii"), otypes=[object])
        return {"dtype": "base64", "value": encoded(values).tolist()}
    return {"dtype": "string", "value": values.tolist()}


def int_input(values):
    return {"dtype": "int32", "value": np.asarray(values, np.int32).tolist()}


def run_savedmodels(jobs, workdir, no_text=False):
    """Runs `jobs` in a fresh Python process (see savedmodel_runner.py); returns the
    outputs as `[{output name: array}, ...]` (one dict per job) and the forbidden
    modules that process had imported."""
    tag = "no_text" if no_text else "text"
    jobs_path = os.path.join(workdir, f"jobs_{tag}.json")
    out_path = os.path.join(workdir, f"out_{tag}.npz")
    with open(jobs_path, "w", encoding="utf-8") as f:
        json.dump(jobs, f)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    command = [sys.executable, RUNNER, jobs_path, out_path] + (["--no-text"] if no_text else [])
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)
    if result.returncode != 0:
        raise AssertionError(f"savedmodel_runner failed:\n{result.stderr[-4000:]}")
    data = np.load(out_path)
    outputs = [{} for _ in jobs]
    for key in data.files:
        if key == "__modules__":
            continue
        index, name = key.split("/", 1)
        outputs[int(index)][name] = data[key]
    modules = [m for m in data["__modules__"].tolist() if m]
    return outputs, modules
