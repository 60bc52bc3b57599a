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
from itertools import combinations

from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from tweet_sentiment.labelling.answers import UNSURE
from tweet_sentiment.schema import LABELS

ONE_KEY_SHARE = 0.8  # an annotator giving one class to this share of their answers ...
ONE_KEY_MIN_ANSWERS = 10  # ... of at least this many is flagged on the page


def weighted_kappa(first: list[str], second: list[str]) -> float | None:
    """Quadratic-weighted Cohen's kappa of two raters' classes for the same tweets; None where undefined."""
    if len(first) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # no spread: reported as None
        kappa = cohen_kappa_score(first, second, labels=list(LABELS), weights="quadratic")
    return None if math.isnan(kappa) else round(float(kappa), 4)


def _agreement(first: list[str], second: list[str]) -> dict:
    """Tweets, exact agreement and weighted kappa of two answer lists (classes only)."""
    return {"tweets": len(first), "exact": round(sum(a == b for a, b in zip(first, second, strict=True))
                                                  / len(first), 4) if first else None,
            "kappa": weighted_kappa(first, second)}


def pair_agreement(records: list[dict]) -> list[dict]:
    """For each two annotators who answered the same tweets: agreement and the confusion (rows: the first)."""
    shared: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for record in records:
        for a, b in combinations(sorted(record["answers"]), 2):
            shared.setdefault((a, b), []).append((record["answers"][a], record["answers"][b]))
    pairs = []
    for (a, b), answers in sorted(shared.items()):
        classes = [(x, y) for x, y in answers if UNSURE not in (x, y)]
        first, second = [x for x, _ in classes], [y for _, y in classes]
        matrix = confusion_matrix(first, second, labels=list(LABELS)).tolist() if classes else [
            [0] * len(LABELS) for _ in LABELS]
        pairs.append({"annotators": [a, b], **_agreement(first, second), "unsure": len(answers) - len(classes),
                      "confusion": matrix})
    return pairs


def annotator_figures(records: list[dict]) -> list[dict]:
    """Per annotator: their answers' distribution (classes and Unsure), skips, agreement with the model's
    suggestion, and ``one_key`` (the class they give to most of their answers, when it is suspiciously most)."""
    answers: dict[str, list[tuple[str, str]]] = {}
    skips: Counter[str] = Counter()
    for record in records:
        for name, label in record["answers"].items():
            answers.setdefault(name, []).append((label, record["suggested"]))
        skips.update(record.get("skipped_by", []))
    figures = []
    for name in sorted(set(answers) | set(skips)):
        given = answers.get(name, [])
        counts = Counter(label for label, _ in given)
        classes = [(label, suggested) for label, suggested in given if label != UNSURE]
        top, top_count = max(((label, counts[label]) for label in LABELS), key=lambda t: t[1])
        one_key = top if len(given) >= ONE_KEY_MIN_ANSWERS and top_count >= ONE_KEY_SHARE * len(given) else None
        figures.append({"annotator": name, "answers": len(given), "skipped": skips[name],
                        "distribution": {label: counts[label] for label in (*LABELS, UNSURE)},
                        "with_model": _agreement([x for x, _ in classes], [y for _, y in classes]),
                        "one_key": one_key})
    return figures
