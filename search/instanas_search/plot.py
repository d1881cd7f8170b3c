"""Training curves of a run (log.jsonl) as one PNG."""
from __future__ import annotations

import json
from pathlib import Path


def plot_log(log_path: Path, out_path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")  # headless: no display on servers and CI
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{log_path}: no epochs logged")
    x = [r["global_epoch"] for r in rows]
    panels = [("loss", ["loss"]), ("accuracy", ["train_acc", "val_acc"]), ("reward", ["reward", "greedy_reward"]),
              ("latency (table units)", ["val_latency", "train_latency", "ub", "lb"]), ("unique paths (val)", ["val_paths"])]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    for ax, (title, keys) in zip(axes, panels):
        for k in keys:
            pts = [(xi, r[k]) for xi, r in zip(x, rows) if k in r]
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=3, label=k)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
