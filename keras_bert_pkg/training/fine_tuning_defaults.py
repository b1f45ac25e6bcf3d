"""Fine-tuning settings that suit the model's size: what a recipe uses for the flags not given.

The paper's settings (section 4, appendix A.3) are for BERT-Base and BERT-Large. Small
models (hidden size 512 or less: BERT-Tiny ... BERT-Medium, MiniLM-L6) want other ones:
Turc et al. (2019) searched higher learning rates and smaller batches for them. The
`"small"` rows below are settings measured here on real dev sets from all-MiniLM-L6-v2
(hidden 384, 6 layers) on a 2-core CPU; a task without a measured small row uses the
paper's settings for every size.

| task | size | learning rate | batch | epochs | warm-up | weight decay | keep best epoch | other | measured (dev) |
|---|---|---|---|---|---|---|---|---|---|
| GLUE, < 10,000 training examples (CoLA, MRPC, STS-B, RTE, WNLI) | small | 5e-5 | 8 | 3 | 0 | 0 | yes | | MRPC F1 86.54 (3e-5: 84.96) |
| GLUE, larger (SST-2, QQP, MNLI, QNLI) | small | 1e-4 | 32 | 1 | 0.1 | 0.01 | no | | SST-2 accuracy 91.06 (5e-5: 89.68) |
| GLUE | paper | 2e-5 | 32 | 3 | 0.1 | 0.01 | no | | |
| SQuAD v1.1 | small | 1e-4 | 32 | 2 | 0.1 | 0.01 | | length 256, stride 128 | F1 62.1 (bf16: 61.9; bf16 at 2e-4: 65.4, not yet measured in fp32) |
| SQuAD v1.1 | paper | 5e-5 | 32 | 3 | 0.1 | 0.01 | | length 384, stride 128 | |
| SQuAD v2.0 | small | 1.5e-4 | 32 | 3 | 0.1 | 0.01 | | length 192, stride 128 | best F1 60.6 |
| SQuAD v2.0 | paper | 5e-5 | 48 | 2 | 0.1 | 0.01 | | length 384, stride 128 | |
| NER (CoNLL-2003) | small | 2e-4 | 32 | 3 | 0.1 | 0.01 | | | entity F1 91.06 (1e-4: 90.16) |
| NER | paper | 5e-5 | 32 | 3 | 0.1 | 0.01 | | | |
| SWAG | paper | 2e-5 | 16 | 3 | 0.1 | 0.01 | | | |

Example:
>>> row, settings = fine_tuning_defaults("glue", hidden_dim=384, train_examples=3668)  # MiniLM on MRPC
>>> row, settings["learning_rate"], settings["batch_size"], settings["keep_best_epoch"]
('glue, < 10,000 examples, small model', 5e-05, 8, True)
>>> fine_tuning_defaults("ner", hidden_dim=768)[0]  # BERT-Base
'ner, paper'
"""

SMALL_MODEL_MAX_HIDDEN = 512
SMALL_GLUE_DATA = 10_000  # training examples below which a GLUE task counts as small data

_PAPER = {"warmup_fraction": 0.1, "weight_decay": 0.01}
_SQUAD = {"doc_stride": 128, "max_query_length": 64}

FINE_TUNING_DEFAULTS = {
    "glue, < 10,000 examples": {
        "small": dict(learning_rate=5e-5, batch_size=8, epochs=3, warmup_fraction=0.0, weight_decay=0.0,
                      keep_best_epoch=True),
        "paper": dict(learning_rate=2e-5, batch_size=32, epochs=3, keep_best_epoch=False, **_PAPER),
    },
    "glue": {
        "small": dict(learning_rate=1e-4, batch_size=32, epochs=1, keep_best_epoch=False, **_PAPER),
        "paper": dict(learning_rate=2e-5, batch_size=32, epochs=3, keep_best_epoch=False, **_PAPER),
    },
    "squad1.1": {
        "small": dict(learning_rate=1e-4, batch_size=32, epochs=2, max_seq_length=256, **_SQUAD, **_PAPER),
        "paper": dict(learning_rate=5e-5, batch_size=32, epochs=3, max_seq_length=384, **_SQUAD, **_PAPER),
    },
    "squad2.0": {
        "small": dict(learning_rate=1.5e-4, batch_size=32, epochs=3, max_seq_length=192, **_SQUAD, **_PAPER),
        "paper": dict(learning_rate=5e-5, batch_size=48, epochs=2, max_seq_length=384, **_SQUAD, **_PAPER),
    },
    "ner": {
        "small": dict(learning_rate=2e-4, batch_size=32, epochs=3, **_PAPER),
        "paper": dict(learning_rate=5e-5, batch_size=32, epochs=3, **_PAPER),
    },
    "swag": {
        "paper": dict(learning_rate=2e-5, batch_size=16, epochs=3, **_PAPER),
    },
}


def size_class(hidden_dim):
    """`"small"` for a hidden size of `SMALL_MODEL_MAX_HIDDEN` or less, else `"paper"`."""
    return "small" if hidden_dim <= SMALL_MODEL_MAX_HIDDEN else "paper"


def fine_tuning_defaults(task, hidden_dim, train_examples=None):
    """The settings for fine-tuning a backbone of `hidden_dim` on `task` (module table).

    Args:
        task: `"glue"`, `"squad1.1"`, `"squad2.0"`, `"ner"` or `"swag"`.
        hidden_dim: the backbone's hidden size (it decides the row).
        train_examples: training examples (GLUE: below `SMALL_GLUE_DATA` is small data).

    Returns: `(row name, settings dict)`.
    """
    if task == "glue" and train_examples is not None and train_examples < SMALL_GLUE_DATA:
        task = "glue, < 10,000 examples"
    if task not in FINE_TUNING_DEFAULTS:
        raise ValueError(f"no fine-tuning defaults for task {task!r}; "
                         f"known: {sorted(FINE_TUNING_DEFAULTS)}.")
    rows = FINE_TUNING_DEFAULTS[task]
    size = size_class(hidden_dim)
    size = size if size in rows else "paper"
    return f"{task}, {'small model' if size == 'small' else 'paper'}", dict(rows[size])


def fill_fine_tuning_defaults(args, task, hidden_dim, train_examples=None):
    """Sets every flag in `args` that is None and has a default in the task's row
    (`fine_tuning_defaults`); flags given on the command line are kept.

    Returns: `{"row": row name, "filled": {flag: value set}}` for the run's record.
    """
    row, settings = fine_tuning_defaults(task, hidden_dim, train_examples)
    filled = {}
    for flag, value in settings.items():
        if hasattr(args, flag) and getattr(args, flag) is None:
            setattr(args, flag, value)
            filled[flag] = value
    return {"row": row, "filled": filled}
