"""Calls exported SavedModels in a process that has neither Keras models nor our package.

Run as a script by the export tests:

    python savedmodel_runner.py JOBS.json OUT.npz [--no-text]

It imports only `tensorflow` (and `tensorflow_text`, unless `--no-text`), loads each
SavedModel of JOBS.json, calls the named signature on the given inputs and saves every
output to OUT.npz as `<job index>/<output name>` (strings decoded to unicode arrays).
A job with `"expect_failure": true` only loads the model and records the error text as
`<job index>/error`. `__modules__` lists the imported modules that must not be there
(keras_bert_pkg, keras_hub; tensorflow_text with `--no-text`).
"""

import base64
import json
import sys

import numpy as np
import tensorflow as tf

NO_TEXT = "--no-text" in sys.argv
if not NO_TEXT:
    import tensorflow_text  # noqa: F401  (registers the WordPiece op)


def _tensor(spec):
    value = spec["value"]
    if spec["dtype"] == "string":
        encode = np.vectorize(lambda s: s.encode("utf-8"), otypes=[object])
        return tf.constant(encode(np.array(value, dtype=object)))
    if spec["dtype"] == "base64":
        decode = np.vectorize(base64.b64decode, otypes=[object])
        return tf.constant(decode(np.array(value, dtype=object)))
    return tf.constant(np.array(value, dtype=spec["dtype"]))


def _numpy(tensor):
    value = tensor.numpy()
    if value.dtype == object:
        return np.vectorize(lambda b: b.decode("utf-8"), otypes=[str])(value) if value.size \
            else value.astype(str)
    return value


def main():
    jobs_path, out_path = sys.argv[1], sys.argv[2]
    with open(jobs_path, encoding="utf-8") as f:
        jobs = json.load(f)
    loaded = {}
    out = {}
    for i, job in enumerate(jobs):
        if job.get("expect_failure"):
            try:
                tf.saved_model.load(job["path"])
                out[f"{i}/error"] = np.array("")
            except Exception as e:  # noqa: BLE001 (the error text is what is checked)
                out[f"{i}/error"] = np.array(str(e)[:2000])
            continue
        if job["path"] not in loaded:
            loaded[job["path"]] = tf.saved_model.load(job["path"])
        signature = loaded[job["path"]].signatures[job["signature"]]
        outputs = signature(**{k: _tensor(v) for k, v in job["inputs"].items()})
        for name, tensor in outputs.items():
            out[f"{i}/{name}"] = _numpy(tensor)
    # `import tensorflow` itself imports parts of Keras; our package and keras-hub (the
    # code that built the models) must not be needed.
    forbidden = ("keras_bert_pkg", "keras_hub")
    bad = [m for m in sys.modules if m.startswith(forbidden)]
    if NO_TEXT:
        bad += [m for m in sys.modules if m.startswith("tensorflow_text")]
    out["__modules__"] = np.array(sorted(bad) or [""])
    np.savez(out_path, **out)


if __name__ == "__main__":
    main()
