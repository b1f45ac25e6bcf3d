"""Whether a saved record of a run's settings names the same run as this one.

Checkpoints of fine-tuning (`fine_tune_resumably`), hyperparameter searches and the
pre-train-then-tag chain record the settings of their run, and a run started again
resumes only from its own record. A record written before a flag existed does not
name it; the flag then matches while this run leaves it off (a false value: None,
False, 0, "" or empty), the behaviour the run had before the flag was added, so a
package upgrade that adds a flag does not strand a half-done run (and a flag since
removed matches while the record has it off).

Two forms of a record: a dict of settings (`changed_settings`) and the run-key string
`recipe_flags.run_key` writes, `name=repr(value)` items joined by spaces (`same_run`
reads it back into a dict, so both forms follow the one rule).

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

import ast
import re

_ITEM_START = re.compile(r"(?:^| )(\w+)=")


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
    the same settings but for names one side lacks and the other leaves off. A key that
    is not of that form matches only itself."""
    if saved == key:
        return True
    saved_settings, settings = read_run_key(saved), read_run_key(key)
    if saved_settings is None or settings is None:
        return False
    return not changed_settings(saved_settings, settings)


def read_run_key(key):
    """The `{name: value}` of a run key, or None when `key` is not one. Items are cut at
    the ` name=` marks whose value before them reads as one Python literal, so a mark
    inside a quoted value (a path holding " x=None") stays in its value."""
    if not isinstance(key, str):
        return None
    marks = list(_ITEM_START.finditer(key))
    if not marks or marks[0].start() != 0:
        return None
    settings, current = {}, marks[0]
    for mark in marks[1:] + [None]:
        text = key[current.end():mark.start() if mark is not None else len(key)]
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            if mark is None:
                return None
            continue  # `mark` lies inside this value
        settings[current.group(1)] = value
        current = mark
    return settings
