"""Helpers of the mood-alert tests (plain functions): synthetic days of tweets with their class probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tweet_sentiment.schema import LABELS

VOCABULARY = [f"word{i:03d}" for i in range(300)]
SHARES = np.array([0.13, 0.24, 0.19, 0.27, 0.17])  # the training file's class mix, roughly
FIRST_DAY = pd.Timestamp("2020-03-01", tz="UTC")


def synthetic_day(rng: np.random.Generator, n: int) -> tuple[list[str], np.ndarray]:
    """``n`` tweets of 8 words from a Zipf-like vocabulary, with class probabilities drawn around SHARES."""
    weights = 1 / np.arange(1, len(VOCABULARY) + 1)
    words = rng.choice(VOCABULARY, size=(n, 8), p=weights / weights.sum())
    labels = rng.choice(len(LABELS), size=n, p=SHARES)
    probabilities = np.full((n, len(LABELS)), 0.05)
    probabilities[np.arange(n), labels] = 0.8
    return [" ".join(w) for w in words], probabilities
