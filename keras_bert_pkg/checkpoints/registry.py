"""Published BERT checkpoints by name, downloaded once into a local cache.

The table lists the archives Google released with the paper and after it (Base and
Large, cased and uncased, Chinese, multilingual, whole-word masking, and the 24 small
BERTs of Turc et al., 2019), all in the original TF1 format, at their official
`storage.googleapis.com/bert_models/...` addresses.

`fetch(name)` returns the unpacked checkpoint directory:

- warm cache (`<cache>/<name>/` unpacked earlier): no network at all;
- otherwise the archive is downloaded to `<cache>/downloads/`, its size and sha256 are
  checked where the table knows them (Google published no checksums, so for the official
  archives they are **not known**: the values measured on first download are recorded in
  `<cache>/<name>/.download.json` and a warning says they were not verified), unpacked,
  and the archive deleted;
- offline (`KERAS_BERT_OFFLINE=1` or `offline=True`) with a cold cache: an error says
  which URL to download and where to put the archive (or its unpacked contents).

The cache is `~/.cache/keras_bert_pkg`, or `$KERAS_BERT_CACHE`. `$KERAS_BERT_MIRROR`
replaces the `https://storage.googleapis.com/bert_models` prefix (a local mirror).

Example:
>>> "bert_base_uncased" in list_checkpoints()
True
>>> get_entry("bert-base-uncased").url
'https://storage.googleapis.com/bert_models/2018_10_18/uncased_L-12_H-768_A-12.zip'
"""

import hashlib
import json
import os
import shutil
import sys
import tarfile
import urllib.request
import warnings
import zipfile

from keras_bert_pkg.broken_files import BrokenFileError, truncated_file_hint
from keras_bert_pkg.checkpoints.formats import detect_format
from keras_bert_pkg.checkpoints.load_report import caller_stacklevel

GOOGLE = "https://storage.googleapis.com/bert_models"
MARKER = ".download.json"


class CheckpointEntry:
    """One published checkpoint.

    Args:
        name: the registry name.
        url: the archive's address.
        description: what it is.
        lowercase: whether its vocabulary expects lowercased input.
        sha256: the archive's sha256, or None where no checksum was published.
        size: the archive's size in bytes, or None where unknown.
    """

    def __init__(self, name, url, description, lowercase, sha256=None, size=None):
        self.name = name
        self.url = url
        self.description = description
        self.lowercase = lowercase
        self.sha256 = sha256
        self.size = size

    def __repr__(self):
        return f"CheckpointEntry({self.name!r}, {self.url!r})"


_ENTRIES = {}
_ALIASES = {}


def _key(name):
    return str(name).strip().lower().replace("-", "_").replace("/", "_")


def is_known(name):
    """Whether `name` (or an alias such as `bert-base-uncased`) is in the registry."""
    return _key(name) in _ALIASES


def register_checkpoint(name, url, description="", lowercase=True, sha256=None, size=None, aliases=()):
    """Adds (or replaces) a named checkpoint, e.g. an in-house mirror or a fine-tuned model."""
    entry = CheckpointEntry(name, url, description, lowercase, sha256, size)
    _ENTRIES[name] = entry
    for alias in (name, *aliases):
        _ALIASES[_key(alias)] = name
    return entry


def _google(name, path, description, lowercase, aliases=()):
    # The archive's own stem is an alias too, unless an earlier release already has it:
    # "uncased_L-12_H-768_A-12" is the 2018 BERT-Base, not its 2020 re-training.
    stem = os.path.basename(path)[: -len(".zip")]
    stems = () if is_known(stem) else (stem,)
    register_checkpoint(name, f"{GOOGLE}/{path}", description, lowercase, aliases=(*stems, *aliases))


_google("bert_base_uncased", "2018_10_18/uncased_L-12_H-768_A-12.zip", "BERT-Base, Uncased: L12 H768 A12, 110M", True)
_google("bert_large_uncased", "2018_10_18/uncased_L-24_H-1024_A-16.zip", "BERT-Large, Uncased: L24 H1024 A16, 340M", True)
_google("bert_base_cased", "2018_10_18/cased_L-12_H-768_A-12.zip", "BERT-Base, Cased: L12 H768 A12, 110M", False)
_google("bert_large_cased", "2018_10_18/cased_L-24_H-1024_A-16.zip", "BERT-Large, Cased: L24 H1024 A16, 340M", False)
_google("bert_large_uncased_wwm", "2019_05_30/wwm_uncased_L-24_H-1024_A-16.zip",
        "BERT-Large, Uncased, Whole Word Masking", True, aliases=("bert_large_uncased_whole_word_masking",))
_google("bert_large_cased_wwm", "2019_05_30/wwm_cased_L-24_H-1024_A-16.zip",
        "BERT-Large, Cased, Whole Word Masking", False, aliases=("bert_large_cased_whole_word_masking",))
_google("bert_base_multilingual_cased", "2018_11_23/multi_cased_L-12_H-768_A-12.zip",
        "BERT-Base, Multilingual Cased: 104 languages (recommended multilingual model)", False)
_google("bert_base_multilingual_uncased", "2018_11_03/multilingual_L-12_H-768_A-12.zip",
        "BERT-Base, Multilingual Uncased: 102 languages (original; not recommended)", True)
_google("bert_base_chinese", "2018_11_03/chinese_L-12_H-768_A-12.zip",
        "BERT-Base, Chinese: Simplified and Traditional", True)
_SMALL_NAMES = {(2, 128): "tiny", (4, 256): "mini", (4, 512): "small", (8, 512): "medium"}
for _layers in (2, 4, 6, 8, 10, 12):
    for _hidden in (128, 256, 512, 768):
        _heads = _hidden // 64
        _nickname = _SMALL_NAMES.get((_layers, _hidden))
        _google(
            f"bert_uncased_L-{_layers}_H-{_hidden}_A-{_heads}",
            f"2020_02_20/uncased_L-{_layers}_H-{_hidden}_A-{_heads}.zip",
            f"Small BERT (Turc et al., 2019), uncased: L{_layers} H{_hidden} A{_heads}",
            True,
            aliases=(f"bert_{_nickname}_uncased",) if _nickname else (),
        )


def list_checkpoints():
    """The registry names, sorted."""
    return sorted(_ENTRIES)


def get_entry(name):
    """The `CheckpointEntry` for a name or alias.

    Raises:
        KeyError: listing the known names.
    """
    if not is_known(name):
        raise KeyError(f"Unknown checkpoint name {name!r}. Known names: {', '.join(list_checkpoints())}.")
    return _ENTRIES[_ALIASES[_key(name)]]


def cache_dir():
    """The cache directory: `$KERAS_BERT_CACHE` or `~/.cache/keras_bert_pkg`."""
    return os.environ.get("KERAS_BERT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "keras_bert_pkg")


def _url(entry):
    mirror = os.environ.get("KERAS_BERT_MIRROR")
    if mirror and entry.url.startswith(GOOGLE + "/"):
        return mirror.rstrip("/") + entry.url[len(GOOGLE):]
    return entry.url


def _archive_name(entry):
    return os.path.basename(entry.url.split("?")[0])


def _checkpoint_root(directory):
    """The folder inside an unpacked archive that holds the checkpoint (top or one level down)."""
    candidates = [directory] + sorted(
        os.path.join(directory, d) for d in os.listdir(directory)
        if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")
    )
    for candidate in candidates:
        try:
            detect_format(candidate)
            return candidate
        except (FileNotFoundError, ValueError):
            continue
    return None


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url, destination, timeout):
    partial = destination + ".part"
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    print(f"keras_bert_pkg: downloading {url} to {destination}", file=sys.stderr)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as f:
            shutil.copyfileobj(response, f, length=1 << 20)
    except BaseException:
        _remove(partial)
        raise
    os.replace(partial, destination)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _unpack(archive, target):
    """Unpacks a .zip or .tar(.gz) archive into `target`.

    Raises `BrokenFileError` naming the archive and the member for a member that would land
    outside `target` (an absolute path, `..`) or is a link, before anything is unpacked;
    and for an archive that is neither zip nor tar or is cut short.
    """
    os.makedirs(target, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                for info in z.infolist():
                    _check_member(archive, target, info.filename, (info.external_attr >> 16) & 0o170000 == 0o120000)
                z.extractall(target)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                for info in t.getmembers():
                    _check_member(archive, target, info.name, info.issym() or info.islnk())
                t.extractall(target, filter="data")
        else:
            raise BrokenFileError(f"{archive}: not a zip or tar archive." + truncated_file_hint(archive))
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as e:
        raise BrokenFileError(f"{archive}: the archive cannot be unpacked ({e})." + truncated_file_hint(archive)) from None


def _check_member(archive, target, name, is_link):
    root = os.path.realpath(target)
    if is_link or os.path.isabs(name) or not os.path.realpath(os.path.join(target, name)).startswith(root + os.sep):
        kind = "a link" if is_link else "an absolute path or '..'"
        raise BrokenFileError(f"{archive}: member {name!r} would be written outside {target} ({kind}); "
                              "the archive was refused and nothing was kept.")


def fetch(name, offline=None, timeout=60):
    """Returns the local checkpoint directory of a published checkpoint, downloading once.

    Args:
        name: a registry name or alias (`list_checkpoints()`).
        offline: never use the network; default from `$KERAS_BERT_OFFLINE`.
        timeout: seconds for the connection / each read.

    Raises:
        FileNotFoundError: offline with a cold cache (says what to download, and where
            to put it), or the download failed (same advice).
        ValueError: the download's size or sha256 differs from the table's.
        BrokenFileError: the archive is cut short, not an archive, or holds members that
            would land outside the cache (absolute paths, `..`, links). The cache keeps
            no part of a refused archive: it unpacks into a staging folder, renamed at
            the end, and downloads go to a `.part` file, renamed when complete.
    """
    entry = get_entry(name)
    if offline is None:
        offline = os.environ.get("KERAS_BERT_OFFLINE", "").lower() in ("1", "true", "yes")
    target = os.path.join(cache_dir(), entry.name)
    if os.path.isdir(target):
        root = _checkpoint_root(target)
        if root:
            return root
    archive = os.path.join(cache_dir(), "downloads", _archive_name(entry))
    url = _url(entry)
    advice = (
        f"Download {url} and put the archive at {archive} (it is checked and unpacked on the "
        f"next call), or unpack it into {target}/."
    )
    if not os.path.isfile(archive):
        if offline:
            raise FileNotFoundError(f"Checkpoint {entry.name!r} is not in the cache and offline mode is on. {advice}")
        try:
            _download(url, archive, timeout)
        except OSError as e:  # URLError, HTTPError and socket timeouts are OSErrors
            raise FileNotFoundError(f"Could not download checkpoint {entry.name!r} from {url}: {e}. {advice}") from e
    size, sha256 = os.path.getsize(archive), _sha256(archive)
    problems = []
    if entry.size is not None and size != entry.size:
        problems.append(f"size {size} bytes, expected {entry.size}")
    if entry.sha256 is not None and sha256 != entry.sha256:
        problems.append(f"sha256 {sha256}, expected {entry.sha256}")
    if problems:
        os.remove(archive)
        raise ValueError(f"{archive} (from {url}) is not the published archive: {'; '.join(problems)}. It was deleted.")
    if entry.sha256 is None:
        warnings.warn(
            f"No published checksum for {entry.name!r}: the archive's size ({size} bytes) and sha256 "
            f"({sha256}) were not verified; they are recorded in {target}/{MARKER}.",
            stacklevel=caller_stacklevel(),
        )
    staging = target + ".unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _unpack(archive, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if _checkpoint_root(staging) is None:
        shutil.rmtree(staging, ignore_errors=True)
        raise FileNotFoundError(f"{archive} (from {url}) holds no BERT checkpoint; nothing was kept in {target}.")
    with open(os.path.join(staging, MARKER), "w") as f:
        json.dump({"name": entry.name, "url": url, "size": size, "sha256": sha256,
                   "verified": entry.sha256 is not None}, f, indent=2)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    os.remove(archive)
    return _checkpoint_root(target)
