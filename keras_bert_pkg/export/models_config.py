"""An example TF Serving `models.config` (a `ModelServerConfig` in protobuf text format).

`tensorflow_model_server --model_config_file=models.config` serves several models at
once; each entry names a model, the directory holding its integer versions, which
versions to serve (all listed ones here, instead of only the newest) and optional
version labels (`stable`, `canary`) that requests may name instead of a number.
"""

import os

from keras_bert_pkg.export.serving_layout import list_versions


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def models_config_text(models):
    """The text of a `models.config`.

    Args:
        models: a list of dicts: `name`, `base_path`, optional `versions` (a list of
            ints: serve exactly these; default: the latest only) and `version_labels`
            ({label: version}).

    Example:
    >>> print(models_config_text([{"name": "sst2", "base_path": "/models/sst2",
    ...                            "versions": [1]}]))
    model_config_list {
      config {
        name: "sst2"
        base_path: "/models/sst2"
        model_platform: "tensorflow"
        model_version_policy {
          specific {
            versions: 1
          }
        }
      }
    }
    <BLANKLINE>
    """
    lines = ["model_config_list {"]
    for model in models:
        lines += ["  config {", f"    name: {_quote(model['name'])}",
                  f"    base_path: {_quote(model['base_path'])}",
                  '    model_platform: "tensorflow"']
        versions = model.get("versions")
        if versions:
            lines += ["    model_version_policy {", "      specific {"]
            lines += [f"        versions: {int(v)}" for v in versions]
            lines += ["      }", "    }"]
        for label, version in sorted((model.get("version_labels") or {}).items()):
            lines += ["    version_labels {", f"      key: {_quote(label)}",
                      f"      value: {int(version)}", "    }"]
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_models_config(export_dir, path=None, base_path=None):
    """Writes a `models.config` serving every model and version under `export_dir`.

    Args:
        export_dir: the `savedmodels/` directory (`<name>/<version>/` below it).
        path: where to write (default `<export_dir>/models.config`).
        base_path: the directory the server sees `export_dir` as (default the
            absolute `export_dir`; `/models` when it is mounted there in docker).

    Returns:
        The written path. Every version found is served; with several, the newest is
        labelled `canary` and the one before it `stable`, so clients can address a
        version by label.
    """
    base_path = base_path or os.path.abspath(export_dir)
    models = []
    for name in sorted(os.listdir(export_dir)):
        versions = list_versions(os.path.join(export_dir, name))
        if not versions:
            continue
        entry = {"name": name, "base_path": f"{base_path.rstrip('/')}/{name}",
                 "versions": versions}
        if len(versions) > 1:
            entry["version_labels"] = {"canary": versions[-1], "stable": versions[-2]}
        models.append(entry)
    if not models:
        raise ValueError(f"No model versions found under {export_dir!r}.")
    path = path or os.path.join(export_dir, "models.config")
    with open(path, "w", encoding="utf-8") as f:
        f.write(models_config_text(models))
    return path
