"""Agreement figures for the Labels page: between annotators who answered the same tweets, and of each annotator
with the model's suggestion.

Agreement is quadratic-weighted Cohen's kappa (scikit-learn's ``cohen_kappa_score``) on the five classes in
their order (Extremely Negative ... Extremely Positive): ordinal, so Negative vs Extremely Negative costs less
than Negative vs Positive. ``Unsure`` answers are counted but not in the kappa (they are no class). Kappa is
None where it is undefined (fewer than two tweets, or both sides gave one and the same class throughout).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable

from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import cohen_kappa_score

from tweet_sentiment.labelling.answers import UNSURE
from tweet_sentiment.schema import LABELS

ONE_KEY_SHARE = 0.8  # an annotator giving one class to this share of their answers ...
ONE_KEY_MIN_ANSWERS = 10  # ... of at least this many is flagged on the page


def weighted_kappa(first: list[str], second: list[str], counts: list[int] | None = None) -> float | None:
    """Quadratic-weighted Cohen's kappa of two raters' classes for the same tweets (``counts``: how many tweets
    each pair of classes stands for, one each by default); None where undefined."""
    weights = counts or [1] * len(first)
    if sum(weights) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # no spread: reported as None
        kappa = cohen_kappa_score(first, second, labels=list(LABELS), weights="quadratic", sample_weight=weights)
    return None if math.isnan(kappa) else round(float(kappa), 4)


def _agreement(cells: list[tuple[str, str, int]]) -> dict:
    """Tweets, exact agreement and weighted kappa of counted answer pairs (classes only)."""
    tweets = sum(n for _, _, n in cells)
    return {"tweets": tweets, "exact": round(sum(n for a, b, n in cells if a == b) / tweets, 4) if tweets else None,
            "kappa": weighted_kappa([a for a, _, _ in cells], [b for _, b, _ in cells], [n for _, _, n in cells])
            if cells else None}


def pair_agreement(cells: Iterable[tuple[str, str, str, str, int]]) -> list[dict]:
    """For each two annotators who answered the same tweets (``cells``: first, second, first's answer, second's,
    tweets; state.pair_cells): agreement and the confusion (rows: the first)."""
    shared: dict[tuple[str, str], list[tuple[str, str, int]]] = {}
    for a, b, x, y, n in cells:
        shared.setdefault((a, b), []).append((x, y, n))
    pairs = []
    for (a, b), answers in sorted(shared.items()):
        classes = [(x, y, n) for x, y, n in answers if UNSURE not in (x, y)]
        matrix = [[0] * len(LABELS) for _ in LABELS]
        for x, y, n in classes:
            matrix[LABELS.index(x)][LABELS.index(y)] += n
        pairs.append({"annotators": [a, b], **_agreement(classes),
                      "unsure": sum(n for *_, n in answers) - sum(n for *_, n in classes), "confusion": matrix})
    return pairs


def annotator_figures(cells: Iterable[tuple[str, str, str, int]], skips: dict[str, int]) -> list[dict]:
    """Per annotator (``cells``: annotator, answer, the model's suggestion, tweets; state.answer_cells): their
    answers' distribution (classes and Unsure), skips, agreement with the model's suggestion, and ``one_key``
    (the class they give to most of their answers, when it is suspiciously most)."""
    answers: dict[str, list[tuple[str, str, int]]] = {}
    for name, label, suggested, n in cells:
        answers.setdefault(name, []).append((label, suggested, n))
    figures = []
    for name in sorted(set(answers) | set(skips)):
        given = answers.get(name, [])
        counts: Counter[str] = Counter()
        for label, _, n in given:
            counts[label] += n
        total = sum(counts.values())
        top, top_count = max(((label, counts[label]) for label in LABELS), key=lambda t: t[1])
        one_key = top if total >= ONE_KEY_MIN_ANSWERS and top_count >= ONE_KEY_SHARE * total else None
        figures.append({"annotator": name, "answers": total, "skipped": skips.get(name, 0),
                        "distribution": {label: counts[label] for label in (*LABELS, UNSURE)},
                        "with_model": _agreement([c for c in given if c[0] != UNSURE]), "one_key": one_key})
    return figures
