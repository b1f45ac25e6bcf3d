"""What every training run leaves behind: `metrics.json`, a PNG of its training curves, and
the CPU time it took.

Example:
>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> os.path.basename(write_metrics(folder, {"accuracy": 0.9}))
'metrics.json'
>>> os.path.basename(plot_history({"loss": [0.7, 0.5], "val_loss": [0.8, 0.6]},
...                               os.path.join(folder, "curve.png")))
'curve.png'
"""

import json
import os
import resource

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

from keras_bert_pkg.atomic_files import atomic_path, atomic_write  # noqa: E402

_NOT_SERIES = ("step", "epoch", "learning_rate")


def write_metrics(output_dir, metrics, filename="metrics.json"):
    """Writes `metrics` (a JSON-serialisable dict) to `output_dir/filename` atomically."""
    path = os.path.join(output_dir, filename)
    with atomic_write(path) as f:
        json.dump(metrics, f, indent=2, sort_keys=True, default=float)
    return path


def process_cpu_seconds():
    """User + system CPU seconds of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _series(history):
    """`{name: (xs, ys)}` of a dict of value lists (x = 1, 2, ...) or of a list of log
    dicts with a `"step"` (x = the step)."""
    if isinstance(history, dict):
        return {name: (list(range(1, len(values) + 1)), list(values))
                for name, values in history.items()}
    series = {}
    for entry in history:
        for name, value in entry.items():
            if name not in _NOT_SERIES:
                xs, ys = series.setdefault(name, ([], []))
                xs.append(entry["step"])
                ys.append(value)
    return series


def plot_history(history, path, title=None):
    """Plots training curves to a PNG, one panel per quantity.

    Args:
        history: a dict name → list of values (Keras's `History.history`, one point per
            epoch or log step), or a list of log dicts with a `"step"` (`resumable_fit`'s
            history, plotted against the step). A `val_<name>` series shares the panel
            of `<name>`.
        path: the PNG to write.
        title: the figure's title.

    Returns: the path written.
    """
    series = _series(history)
    names = [name for name in series if not name.startswith("val_") and name not in _NOT_SERIES]
    x_label = "epoch / log step" if isinstance(history, dict) else "step"
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(4 * max(len(names), 1), 3.2),
                             squeeze=False)
    for ax, name in zip(axes[0], names):
        for key, style in ((name, "-"), ("val_" + name, "--")):
            if key in series:
                ax.plot(*series[key], style, marker=".", label=key)
        ax.set_title(name)
        ax.set_xlabel(x_label)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
    return path
