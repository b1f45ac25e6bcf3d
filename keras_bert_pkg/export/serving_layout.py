"""TF Serving's directory layout: `<export_dir>/<name>/<version>/`, written atomically.

TF Serving watches `<base_path>` (here `<export_dir>/<name>`) and serves the integer
sub-directories as versions (by default the highest). A version must appear whole: the
server may look at any moment. So a version is written into a hidden temporary
directory beside the versions (same file system; TF Serving ignores names that are not
integers) and renamed into place in one `rename(2)`; an existing version is never
overwritten.
"""

import os
import shutil
import tempfile

_TMP_PREFIX = ".tmp-export-"


def list_versions(base_dir):
    """The integer versions present under `base_dir`, sorted (empty when it is absent)."""
    if not os.path.isdir(base_dir):
        return []
    return sorted(int(d) for d in os.listdir(base_dir) if d.isdigit() and
                  os.path.isdir(os.path.join(base_dir, d)))


def next_version(*base_dirs):
    """One more than the highest version found under any of `base_dirs` (1 when none)."""
    return max((v for d in base_dirs for v in list_versions(d)), default=0) + 1


def _check_version(version):
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"A version must be a positive integer, got {version!r}.")


def write_version(base_dir, write_fn, version=None):
    """Writes one version of a model under `base_dir`, atomically, never overwriting.

    Args:
        base_dir: the model's directory (`<export_dir>/<name>`); created if missing.
        write_fn: called with the path of an empty temporary directory; writes the
            whole SavedModel there.
        version: the integer version to write; None for one more than the highest
            existing one.

    Returns:
        `(version, path)` of the written version.

    Raises:
        FileExistsError: `version` was given and already exists.

    Example:
    >>> import tempfile
    >>> base = os.path.join(tempfile.mkdtemp(), "sst2")
    >>> write_version(base, lambda tmp: open(os.path.join(tmp, "saved_model.pb"), "wb").close())
    (1, '.../sst2/1')
    """
    if version is not None:
        _check_version(version)
    os.makedirs(base_dir, exist_ok=True)
    if version is not None and os.path.exists(os.path.join(base_dir, str(version))):
        raise FileExistsError(
            f"Version {version} of {base_dir!r} already exists; versions are never "
            "overwritten (pass another version, or None for the next one)."
        )
    tmp = tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=base_dir)
    try:
        write_fn(tmp)
        return _rename_into_place(tmp, base_dir, version)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def _rename_into_place(tmp, base_dir, version):
    for _ in range(100):  # only another exporter racing for the same number retries
        chosen = version if version is not None else next_version(base_dir)
        final = os.path.join(base_dir, str(chosen))
        if os.path.exists(final):
            if version is not None:
                raise FileExistsError(f"Version {version} of {base_dir!r} already exists.")
            continue
        try:
            os.rename(tmp, final)
        except OSError:
            if version is not None or not os.path.exists(final):
                raise
            continue
        return chosen, final
    raise RuntimeError(f"Could not find a free version number under {base_dir!r}.")
