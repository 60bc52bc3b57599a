"""The lab's pictures: the learning curve of a stream and a confusion matrix (matplotlib, Agg), drawn into the
reports folder the Model page shows."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from upath import UPath

from tweet_sentiment.model.charts import save_figure
from tweet_sentiment.schema import LABELS

LEARNING_CURVE_PNG = "learning_curve.png"


CONFUSION_PNG = "confusion_matrix.png"


def learning_curve_png(cycles: Sequence[dict], path: UPath, title: str) -> UPath:
    """Holdout macro-F1 per cycle for each strategy: the champion (line), that cycle's challenger (cross) and the
    promotions (filled dots). Each cycle holds ``rows_seen`` and, per strategy, ``<s>_f1``,
    ``<s>_challenger_f1`` and ``<s>_promoted``."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    rows = [c["rows_seen"] for c in cycles]
    values: list[float] = []
    for key, colour, style, label in (("continue", "tab:blue", "-", "continued"),
                                      ("refit", "tab:orange", "--", "full refit")):
        champion = [c[f"{key}_f1"] for c in cycles]
        challenger = [(r, c[f"{key}_challenger_f1"]) for r, c in zip(rows, cycles, strict=True)
                      if c[f"{key}_challenger_f1"] is not None]
        promoted = [(r, f) for r, f, c in zip(rows, champion, cycles, strict=True) if c[f"{key}_promoted"]]
        ax.plot(rows, champion, style, color=colour, label=f"{label}: champion")
        if challenger:
            ax.plot(*zip(*challenger, strict=True), "x" if key == "continue" else "+", color=colour,
                    markersize=7, label=f"{label}: challenger")
        if promoted:
            ax.plot(*zip(*promoted, strict=True), "o", color=colour, markersize=7, label=f"{label}: promoted")
        values += champion + [f for _, f in challenger]
    pad = max(0.002, 0.1 * (max(values) - min(values)))
    ax.set_ylim(min(values) - pad, max(values) + pad)
    ax.set_xlabel("labelled rows streamed (bootstrap, then batches)")
    ax.set_ylabel("holdout macro-F1")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, ncols=2)
    return save_figure(fig, path)


def confusion_png(confusion: Sequence[Sequence[int]], path: UPath, title: str) -> UPath:
    """The confusion matrix (rows: true label, columns: predicted), counts and row shares in each cell."""
    counts = np.asarray(confusion)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    short = [label.replace("Extremely ", "Ext. ") for label in LABELS]
    ax.set_xticks(range(len(LABELS)), short, rotation=30, ha="right")
    ax.set_yticks(range(len(LABELS)), short)
    for i in range(len(LABELS)):
        for j in range(len(LABELS)):
            ax.text(j, i, f"{counts[i, j]}\n{shares[i, j]:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if shares[i, j] > 0.6 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return save_figure(fig, path)
