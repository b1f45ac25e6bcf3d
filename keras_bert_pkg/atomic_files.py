"""Output files that appear whole or not at all.

Everything a run leaves behind (metrics, predictions, submissions, curves, saved models)
is written to a temporary name beside its final path and renamed into place when
complete. A run killed mid-write leaves the previous file (or none); a write that fails,
a full disk for instance, raises an `OSError` that names the file and says the previous
one is unchanged, and removes the partial temporary file.

Example:
>>> import tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "predictions.json")
>>> with atomic_write(path) as f:
...     _ = f.write('{"q1": "Denver Broncos"}')
>>> open(path).read()
'{"q1": "Denver Broncos"}'
>>> with atomic_path(path.replace(".json", ".tsv")) as tmp:  # for writers that take a path
...     with open(tmp, "w") as f:
...         _ = f.write("index,prediction")
>>> sorted(os.listdir(os.path.dirname(path)))
['predictions.json', 'predictions.tsv']
"""

import contextlib
import os
import shutil

_TMP_MARK = ".partial-"


def _temporary_name(path):
    folder, name = os.path.split(os.path.abspath(path))
    stem, dot, suffix = name.partition(".")
    # keep the whole suffix: some writers choose the format from it (.keras, .png, .weights.h5)
    return os.path.join(folder, f"{stem}{_TMP_MARK}{os.getpid()}{dot}{suffix}" if dot else f"{name}{_TMP_MARK}{os.getpid()}")


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; renames it to `path` when the block ends
    without an error, removes it otherwise. (A URL such as `gs://...` is yielded as it
    is: object stores publish an object only when its upload completes.)

    Raises:
        OSError: naming `path` when the write or the rename fails; the previous file at
            `path` is unchanged.
    """
    path = os.fspath(path)
    if "://" in path:  # gs://, s3://: an object appears whole when its upload completes
        yield path
        return
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = _temporary_name(path)
    _remove(tmp)
    try:
        yield tmp
        if not os.path.lexists(tmp):
            raise FileNotFoundError(f"the writer left no file at {tmp}")
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        reason = e.strerror or str(e)
        raise OSError(e.errno, f"{path}: not written ({reason}); the previous file, if any, is unchanged.") from e
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path, mode="w", encoding="utf-8"):
    """`open(path, mode)` for writing, through `atomic_path`: the file appears whole
    when the block ends, or not at all."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": encoding})) as f:
            yield f
