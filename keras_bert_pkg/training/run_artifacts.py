"""What every training recipe leaves behind: `metrics.json` and a PNG training curve."""

import json
import os


def write_metrics(output_dir, metrics, filename="metrics.json"):
    """Writes `metrics` (a JSON-serialisable dict) to `output_dir/filename` atomically."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, filename)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True, default=float)
    os.replace(tmp, path)
    return path


def plot_history(history, path, title=None):
    """Plots every series of a Keras `History.history` dict (loss, accuracies, ...) to PNG.

    Series with a `val_` twin share a panel with it. Returns the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(4 * max(len(names), 1), 3.2))
    axes = axes if hasattr(axes, "__len__") else [axes]
    for ax, name in zip(axes, names):
        ax.plot(range(1, len(history[name]) + 1), history[name], label=name, marker=".")
        if "val_" + name in history:
            ax.plot(range(1, len(history["val_" + name]) + 1), history["val_" + name],
                    label="val_" + name, marker=".")
        ax.set_title(name)
        ax.set_xlabel("epoch / log step")
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
