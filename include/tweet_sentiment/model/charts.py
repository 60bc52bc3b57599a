"""PNG charts for the pages: the live registry's two-holdout curve and the mood (matplotlib, Agg)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import PercentFormatter
from upath import UPath

from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.fs import write_bytes_atomic

MOOD_PNG = "mood.png"
# Extremely Negative … Extremely Positive: red through grey to green
CLASS_COLOURS = ("#b2182b", "#ef8a62", "#bababa", "#67a9cf", "#2166ac")


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def save_figure(fig: plt.Figure, path: UPath) -> UPath:
    write_bytes_atomic(path, _png(fig))
    return path


def holdouts_curve_png(cards: Sequence[dict], champions: set[str]) -> bytes:
    """Macro-F1 of every version (oldest first) on the fixed and the recent holdout, from the cards' ``metrics``
    and ``recent_metrics``: the versions that were champion joined by a line, the other challengers as crosses."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for key, colour, name in (("metrics", "tab:blue", "fixed"), ("recent_metrics", "tab:orange", "recent")):
        points = [(i, c[key]["macro_f1"], c["version"] in champions) for i, c in enumerate(cards) if c.get(key)]
        reign = [(i, f) for i, f, was_champion in points if was_champion]
        others = [(i, f) for i, f, was_champion in points if not was_champion]
        if reign:
            ax.plot(*zip(*reign, strict=True), "o-", color=colour, label=f"{name} holdout: champions")
        if others:
            ax.plot(*zip(*others, strict=True), "x", color=colour, markersize=8, label=f"{name} holdout: challengers")
    ax.set_xticks(range(len(cards)), [c["version"][:16] for c in cards], rotation=30, ha="right", fontsize=7)
    ax.set_xlabel("model version (oldest first)")
    ax.set_ylabel("macro-F1")
    ax.set_title("Champion and challengers on both holdouts")
    ax.grid(alpha=0.3)
    if ax.lines:  # beside the axes: a point at the lower right must not hide under it
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return _png(fig)


def _stack(ax: plt.Axes, x: np.ndarray, shares: np.ndarray, labels: bool) -> None:
    """Shares as a stacked area, each period a flat band one position wide (periods are categories)."""
    edges = np.column_stack([x - 0.5, x + 0.5]).ravel()
    ax.stackplot(edges, np.repeat(shares, 2, axis=0).T, colors=CLASS_COLOURS, labels=LABELS if labels else (),
                 alpha=0.9)
    ax.set_ylim(0, 1)
    ax.set_xlim(edges[0], edges[-1])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))


def _alert_marks(ax, alerts: Sequence[dict], n_points: int) -> None:
    """Each alert a red triangle on the chart's top edge, labelled with its class and words."""
    for i, alert in enumerate(alerts):
        ax.plot([alert["x"]], [1.0], marker="v", color="red", markersize=9, clip_on=False, zorder=5)
        ax.text(alert["x"], 0.9 - 0.07 * (i % 3), f" {alert['label']}: {', '.join(alert['words'])} ", fontsize=7,
                color="darkred", va="top", ha="right" if alert["x"] > n_points / 2 else "left",
                bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0})


def mood_png(points: Sequence[dict], marks: Sequence[dict], path: UPath, title: str,
             alerts: Sequence[dict] = ()) -> UPath:
    """The five classes' shares over time as a stacked area (one position per period, day or hour), the mean
    confidence as a line, the champion changes as dashed lines, the mood alerts as red triangles above their
    period with their class and first words; the annotated shares below where there are any."""
    annotated = [p for p in points if p.get("annotated")]
    fig, axes = plt.subplots(2 if annotated else 1, 1, figsize=(10, 6.5 if annotated else 4.5), squeeze=False,
                             sharex=True)
    ax = axes[0][0]
    x = np.arange(max(len(points), 1), dtype=float)
    shares = np.array([[p["shares"][label] for label in LABELS] for p in points]) if points else np.zeros((1, 5))
    _stack(ax, x, shares, labels=True)
    if points:
        ax.plot(x, [p["mean_confidence"] for p in points], color="black", linewidth=1.5, marker=".",
                label="mean confidence")
    for i, mark in enumerate(marks):
        ax.axvline(mark["x"], color="black", linestyle="--", linewidth=1)
        right = mark["x"] > len(points) / 2
        ax.text(mark["x"], 0.98 - 0.08 * (i % 4), f" {mark['action']} {mark['version']} ", fontsize=7,
                va="top", ha="right" if right else "left", bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0})
    _alert_marks(ax, alerts, len(points))
    ax.set_ylabel("predicted share")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    if annotated:
        ann = np.array([[(p.get("annotated") or {"shares": {}})["shares"].get(label, 0) for label in LABELS]
                        for p in points])
        _stack(axes[1][0], x, ann, labels=False)
        axes[1][0].set_ylabel("annotated share")
    bottom = axes[-1][0]
    step = max(1, len(points) // 16)
    bottom.set_xticks(x[::step], [p["period"] for p in points][::step] if points else [""], rotation=30,
                      ha="right", fontsize=8)
    return save_figure(fig, path)
