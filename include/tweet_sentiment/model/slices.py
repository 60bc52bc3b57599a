"""The gate's look where the change is: champion and challenger on the holdout rows a systematic correction touches.

A team's correction ("tweets about sanitizer are bad news") touches a dozen rows of a 900-row recent window, so a
challenger that learnt it is not significantly better on the whole window. On the touched rows alone (a *slice*)
it is: each slice is tested by an exact one-sided sign test on the rows where only one model is right (McNemar's
exact test: under "the challenger is no better" each such row is the challenger's with probability 1/2 at most).

The false-promotion rate is kept as it is without slices: the whole-window test and every slice test form one
family whose p-values are adjusted by Holm's step-down method (valid under any dependence: the slices are part of
the window), so the chance that any of them calls a no-better challenger better stays at most the gate's
significance. The fixed holdout's own test is left as it was (it answers another question: the old labels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (in the given order): reject the i-th hypothesis at level ``alpha``
    exactly when its adjusted p-value is below ``alpha``; the family-wise error rate is then at most ``alpha``."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()


def sign_test(labels: np.ndarray, champion: np.ndarray, challenger: np.ndarray) -> tuple[float, float, int, int]:
    """Challenger minus champion accuracy on the rows, the exact one-sided p-value that the challenger is no
    better, and the discordant counts (rows only the challenger gets right, rows only the champion gets right)."""
    champion_ok, challenger_ok = champion == labels, challenger == labels
    wins, losses = int(np.sum(challenger_ok & ~champion_ok)), int(np.sum(champion_ok & ~challenger_ok))
    p_value = float(binom.sf(wins - 1, wins + losses, 0.5)) if wins + losses else 1.0
    gain = (wins - losses) / len(labels) if len(labels) else 0.0
    return gain, p_value, wins, losses


@dataclass(frozen=True)
class SliceComparison:
    """One correction's slice of a holdout: its rows, the accuracy gain, the discordant rows, the sign test's
    p-value and the Holm-adjusted one (the gate reads the adjusted one)."""

    correction: str
    holdout: str
    rows: int
    gain: float
    wins: int
    losses: int
    p_value: float
    adjusted_p: float

    def to_dict(self) -> dict:
        return {"correction": self.correction, "holdout": self.holdout, "rows": self.rows,
                "gain": round(self.gain, 5), "wins": self.wins, "losses": self.losses,
                "p_value": round(self.p_value, 6), "adjusted_p": round(self.adjusted_p, 6)}


SliceTest = tuple[str, float, float, int, int, int]  # correction, gain, p-value, rows, wins, losses


def compare_slices(labels: np.ndarray, champion: np.ndarray, challenger: np.ndarray,
                   masks: dict[str, np.ndarray]) -> list[SliceTest]:
    """The sign test on each non-empty slice (``masks``: correction → rows of the holdout it touches):
    (correction, gain, p-value, rows, wins, losses)."""
    out = []
    for name, mask in masks.items():
        if mask.any():
            gain, p_value, wins, losses = sign_test(labels[mask], champion[mask], challenger[mask])
            out.append((name, gain, p_value, int(mask.sum()), wins, losses))
    return out


def adjusted_family(window_p: float, slice_tests: list[SliceTest],
                    holdout: str = "recent") -> tuple[float, list[SliceComparison]]:
    """The whole-window test's and the slices' Holm-adjusted p-values (one family)."""
    adjusted = holm([window_p, *(t[2] for t in slice_tests)])
    slices = [SliceComparison(name, holdout, rows, gain, wins, losses, p_value, adj)
              for (name, gain, p_value, rows, wins, losses), adj in zip(slice_tests, adjusted[1:], strict=True)]
    return adjusted[0], slices
