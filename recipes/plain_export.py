"""A stand-in SavedModel export for the NER and SWAG recipes.

`keras_bert_pkg.export` will provide the serving signatures (raw text in; for NER,
words with tags and entity spans out); until then these recipes write a plain
SavedModel of the token-id model with this one function, which that work replaces.
"""

import json
import os


def export_savedmodel(model, export_dir, name, extra_files=None):
    """Writes `model` as a SavedModel to `<export_dir>/<name>/<next integer version>/`.

    Never overwrites: the version is one more than the highest existing one (1 first).
    `extra_files` ({file name: JSON-able value}) are written to `assets.extra/`, the
    TF Serving place for side files (e.g. the tag list). Returns the version path.
    """
    base = os.path.join(export_dir, name)
    os.makedirs(base, exist_ok=True)
    versions = [int(d) for d in os.listdir(base) if d.isdigit()]
    path = os.path.join(base, str(max(versions, default=0) + 1))
    model.export(path, format="tf_saved_model", verbose=False)
    if extra_files:
        os.makedirs(os.path.join(path, "assets.extra"), exist_ok=True)
        for filename, content in extra_files.items():
            with open(os.path.join(path, "assets.extra", filename), "w", encoding="utf-8") as f:
                json.dump(content, f, ensure_ascii=False, indent=1)
    return path
