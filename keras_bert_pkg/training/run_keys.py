"""Whether a saved record of a run's settings names the same run as this one.

Checkpoints of fine-tuning (`fine_tune_resumably`), hyperparameter searches and the
pre-train-then-tag chain record the settings of their run, and a run started again
resumes only from its own record. A record written before a flag existed does not
name it; the flag then matches while this run leaves it off (None, False, 0, ""),
which is the behaviour the run had before the flag was added, so a package upgrade
that adds a flag does not strand a half-done run.

Two forms of a record: a dict of settings (`changed_settings`) and the run-key string
`recipe_flags.run_key` writes, `name=repr(value)` items joined by spaces (`same_run`).

Example:
>>> same_run("epochs=3 seed=0", "entity_replacement=False epochs=3 seed=0")
True
>>> same_run("epochs=3 seed=0", "entity_replacement=True epochs=3 seed=0")
False
>>> same_run("epochs=3 old_flag=None seed=0", "epochs=3 seed=0")  # a flag since removed
True
>>> changed_settings({"epochs": 3}, {"epochs": 4, "dropout": None})
['epochs']
"""

import re

_NAMES = re.compile(r"(?:^| )(\w+)=")
_OFF_ITEM = re.compile(r"(?:^| )(\w+)=(?:None|False|0|0\.0|''|\[\]|\(\))(?= |$)")


def changed_settings(saved, current, ignore=()):
    """The sorted names whose values differ between two settings dicts; a name one side
    lacks matches while the other side leaves it off (module doc). `ignore`: names
    that do not count."""
    def unnamed_and_off(k):
        return (k not in saved and not current[k]) or (k not in current and not saved[k])

    names = (set(saved) | set(current)) - set(ignore)
    return sorted(k for k in names if saved.get(k) != current.get(k) and not unnamed_and_off(k))


def same_run(saved, key):
    """Whether a saved run key (`recipe_flags.run_key`'s string) names the run of `key`:
    equal once each side's items that are off and that the other side does not name are
    left out."""
    if saved == key:
        return True
    if not isinstance(saved, str) or not isinstance(key, str):
        return False
    return _without_unshared_off(saved, key) == _without_unshared_off(key, saved)


def _without_unshared_off(key, other):
    named = set(_NAMES.findall(other))
    return _OFF_ITEM.sub(lambda m: m.group(0) if m.group(1) in named else "", key).strip()
