"""Likely label errors by confident learning, and the systematic corrections that are exempt from it.

Confident learning (Northcutt, Jiang & Chuang, 2021), written with numpy / scikit-learn / LightGBM (no cleanlab):
out-of-fold predicted probabilities ``p`` for every row; each class's threshold ``t_j`` is the mean ``p_j`` over
the rows labelled ``j`` (how sure the model is of a class when the label is right, on average); a row's confident
class is the most probable class whose probability reaches its threshold; a row is a likely error when its
confident class differs from its label *and* the model's top class does too (cleanlab's "both" rule: the
confident-joint cell and the argmax agree). The five classes are ordinal: a neighbouring class (Negative vs
Extremely Negative) must also beat the given label by ``neighbour_margin``, since the border between intensities
is where honest labels differ.

A systematic correction is people overriding the model the same way on the same topic: the suggested label moved
in one direction of the ordinal scale (towards negative, or towards positive) on rows holding a term ``w`` (a word
or a phrase of two neighbouring words; hashtags split, plurals folded), by at least ``min_annotators`` people on at
least ``min_rows`` rows, and on at least ``min_share`` of the rows with ``w`` that had a suggestion people moved
that way, since the batch where that correction first appears (the recent batches and this one). A term whose
corrected rows are ``ride_along`` another found term's (a word inside a phrase, a word of the topic's tweets) is
not a correction of its own: the finder names what people correct, not everything their tweets say. A flagged
row that makes such a correction is not a likely error: it is the feedback loop at work (the newest human label
wins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from tweet_sentiment.model.boosting import Features
from tweet_sentiment.model.terms import terms_of
from tweet_sentiment.schema import LABEL_TO_ID

TOWARDS_NEGATIVE, TOWARDS_POSITIVE = "towards negative", "towards positive"


@dataclass(frozen=True)
class LabelCheckParams:
    """The check's model (small and fast: it is trained ``folds`` times per batch) and its rules."""

    folds: int = 4
    rounds: int = 60
    learning_rate: float = 0.15
    num_leaves: int = 15
    min_data_in_leaf: int = 20
    replay_rows: int = 2000  # labelled rows from the store beside the batch (its labels are the model's context)
    neighbour_margin: float = 0.2  # a neighbouring class must beat the given label's probability by this much
    min_rows: int = 10  # a systematic correction: at least this many rows ...
    min_annotators: int = 3  # ... by at least this many people ...
    min_share: float = 0.5  # ... on at least this share of the rows with the word that had that suggestion
    ride_along: float = 0.9  # a word whose corrected rows hold a corrected phrase this often is the phrase's
    recent_batches: int = 3  # earlier batches whose corrections count beside the batch's own
    seed: int = 13

    def lgb_params(self, n_classes: int) -> dict:
        return {"objective": "multiclass", "num_class": n_classes, "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_data_in_leaf, "lambda_l2": 1.0,
                "num_threads": 1, "seed": self.seed, "deterministic": True, "force_col_wise": True,
                "verbose": -1}


def out_of_fold_probabilities(features: Features, labels: np.ndarray, n_classes: int,
                              params: LabelCheckParams) -> np.ndarray:
    """Each row's class probabilities from a model that never saw it: ``params.folds``-fold cross-validation
    (stratified when every class has enough rows), float ``(rows, n_classes)``."""
    counts = np.bincount(labels, minlength=n_classes)
    present = counts[counts > 0]
    splitter = (StratifiedKFold(params.folds, shuffle=True, random_state=params.seed)
                if present.min() >= params.folds else KFold(params.folds, shuffle=True, random_state=params.seed))
    probabilities = np.zeros((len(labels), n_classes))
    for train, held_out in splitter.split(np.zeros(len(labels)), labels):
        booster = lgb.train(params.lgb_params(n_classes), lgb.Dataset(features[train], labels[train]),
                            num_boost_round=params.rounds)
        probabilities[held_out] = booster.predict(features[held_out])
    return probabilities


def class_thresholds(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``t_j``: the mean predicted probability of class j over the rows labelled j (1.0 for an absent class, so
    nothing is ever moved into a class the data never shows)."""
    n_classes = probabilities.shape[1]
    return np.array([probabilities[labels == j, j].mean() if (labels == j).any() else 1.0
                     for j in range(n_classes)])


@dataclass(frozen=True)
class Flags:
    """Per row: a likely error, the class the model is confident of instead, and that class's probability."""

    flagged: np.ndarray
    suggested: np.ndarray
    confidence: np.ndarray
    thresholds: np.ndarray


def likely_errors(probabilities: np.ndarray, labels: np.ndarray, params: LabelCheckParams,
                  thresholds: np.ndarray | None = None) -> Flags:
    """Confident learning's flags (see the module doc); ``thresholds`` default to :func:`class_thresholds`."""
    t = class_thresholds(probabilities, labels) if thresholds is None else thresholds
    rows = np.arange(len(labels))
    above = probabilities >= t
    confident = np.where(above, probabilities, -1.0).argmax(axis=1)
    given_p = probabilities[rows, labels]
    beats = probabilities[rows, confident] - given_p
    neighbour = np.abs(confident - labels) == 1
    flagged = (above.any(axis=1) & (confident != labels) & (probabilities.argmax(axis=1) == confident)
               & (~neighbour | (beats >= params.neighbour_margin)))
    return Flags(flagged, np.where(flagged, confident, labels), probabilities[rows, confident], t)


def _direction(suggested: pd.Series, label: pd.Series) -> np.ndarray:
    """Where a person moved the suggested label on the ordinal scale: towards negative / positive ("" if not)."""
    step = label.map(LABEL_TO_ID).fillna(-1).to_numpy() - suggested.map(LABEL_TO_ID).fillna(-1).to_numpy()
    return np.select([step < 0, step > 0], [TOWARDS_NEGATIVE, TOWARDS_POSITIVE], "")


def systematic_corrections(rows: pd.DataFrame, params: LabelCheckParams) -> pd.DataFrame:
    """The (term, direction) corrections many people made the same way (see the module doc), from rows oldest
    first with ``text``, ``label``, ``suggested_label`` ("" where none was shown), ``annotator`` and ``batch_id``.
    A term is a word or a phrase of two (:func:`terms_of`). A correction's share counts the rows with its term
    since the first batch it appears in (the rows before it are the old rule) whose suggestion was one the people
    moved (a rule "staying home is good news" cannot move a tweet already suggested positive); a term riding along
    with a more specific one is left out (:func:`_most_specific`). Columns ``word`` (the term), ``direction``,
    ``rows``, ``annotators``, ``share``, ``since`` (that first batch's id) and ``moved_from``: the labels the team
    moves away from (the suggestions at least ``min_share`` of whose rows with the term since then were moved that
    way; an older row with the term and one of these labels is one the correction contradicts)."""
    columns = ["word", "direction", "rows", "annotators", "share", "since", "moved_from"]
    shown = rows[rows["suggested_label"].astype(str) != ""]
    order, batch_ids = pd.factorize(shown["batch_id"])
    shown = shown.assign(row=np.arange(len(shown)), order=order, suggested=shown["suggested_label"].astype(str),
                         direction=_direction(shown["suggested_label"], shown["label"]),
                         word=[sorted(terms_of(t)) for t in shown["text"]]).explode("word").dropna(subset=["word"])
    changed = shown[shown["direction"] != ""]
    if changed.empty:
        return pd.DataFrame(columns=columns)
    key = ["word", "direction"]
    found = changed.groupby(key).agg(rows=("text", "size"), annotators=("annotator", "nunique"),
                                     first=("order", "min")).reset_index()
    found = found[(found["rows"] >= params.min_rows) & (found["annotators"] >= params.min_annotators)]
    moved_from = changed[["word", "direction", "suggested"]].drop_duplicates()
    base = shown.groupby(["word", "order", "suggested"]).size().rename("base").reset_index()
    since = found.merge(moved_from, on=key).merge(base, on=["word", "suggested"])
    per_label = since[since["order"] >= since["first"]].groupby([*key, "suggested"])["base"].sum()
    found = found.join(per_label.groupby(level=key).sum(), on=key)
    found["share"] = found["rows"] / found["base"]
    found = found.join(_moved_away(changed, per_label, params.min_share), on=key)
    found["since"] = [str(batch_ids[k]) for k in found["first"]]
    found = found[found["share"] >= params.min_share]
    return _most_specific(found, changed, params.ride_along).loc[:, columns].reset_index(drop=True)


def _moved_away(changed: pd.DataFrame, per_label: pd.Series, min_share: float) -> pd.Series:
    """Per (term, direction): the suggested labels at least ``min_share`` of whose rows (``per_label``: the rows
    with the term and that suggestion since the correction began) people moved that way, sorted. The overall share
    is the average of these shares weighted by their rows, so a correction that reaches it has at least one."""
    moved = changed.groupby(["word", "direction", "suggested"]).size()
    shares = (moved / per_label).dropna()
    away = shares[shares >= min_share].reset_index()
    return away.groupby(["word", "direction"])["suggested"].agg(sorted).rename("moved_from")


def _most_specific(found: pd.DataFrame, changed: pd.DataFrame, ride_along: float) -> pd.DataFrame:
    """The corrections without those that only ride along with others of the same direction (``ride_along`` of a
    term's corrected rows being theirs): first every word whose corrected rows hold found phrases containing it
    (the phrase is what people correct: "stay" in "stay home"); then, the fewest rows first, each term whose
    corrected rows the terms still kept hold (the words of the topic's tweets: "lockdown" beside "stay home",
    "hand sanitizer" beside "sanitizer")."""
    rows_of = changed.groupby(["word", "direction"])["row"].agg(set).to_dict()
    terms = list(found.sort_values(["rows", "share"])[["word", "direction"]].itertuples(index=False, name=None))

    def rides(term: tuple[str, str], others: list[tuple[str, str]]) -> bool:
        covered = set().union(*(rows_of[o] for o in others if o[1] == term[1] and o != term))
        return len(covered & rows_of[term]) >= ride_along * len(rows_of[term])

    def phrases_with(word: str) -> list[tuple[str, str]]:
        return [t for t in terms if " " in t[0] and word in t[0].split(" ")]

    kept = [t for t in terms if " " in t[0] or not rides(t, phrases_with(t[0]))]
    for term in list(kept):
        if rides(term, kept):
            kept.remove(term)
    return found[np.array([t in kept for t in found[["word", "direction"]].itertuples(index=False, name=None)],
                          dtype=bool)]


def follows_correction(rows: pd.DataFrame, corrections: pd.DataFrame) -> list[str]:
    """For each row (``text``, ``suggested_label``, ``label``), the systematic correction it makes
    ("sanitizer: towards negative (Positive → Negative)"), or "" if none."""
    if corrections.empty or rows.empty:
        return [""] * len(rows)
    by_direction: dict[str, set[str]] = {}
    for word, direction in corrections[["word", "direction"]].itertuples(index=False):
        by_direction.setdefault(direction, set()).add(word)
    out = []
    directions = _direction(rows["suggested_label"], rows["label"])
    for text, suggested, label, direction in zip(rows["text"], rows["suggested_label"], rows["label"], directions,
                                                 strict=True):
        shared = sorted(terms_of(text) & by_direction.get(direction, set()))
        out.append(f"{shared[0]}: {direction} ({suggested} → {label})" if shared else "")
    return out


MAX_SLICES = 5  # the gate tests at most this many corrections' words (the most rows first)


def rows_touched(texts: Sequence[str], corrections: Sequence[dict], limit: int = MAX_SLICES) -> dict[str, np.ndarray]:
    """For each word of the systematic ``corrections`` (records with ``word``, ``direction``, ``rows``; the most
    rows first, at most ``limit`` words): which of ``texts`` hold it (hashtags split, plurals folded), keyed
    "word (direction)", whatever their labels or age."""
    words = [terms_of(t) for t in texts]
    return {name: np.array([word in w for w in words], dtype=bool) for name, (word, _) in _by_word(corrections, limit)}


def _by_word(corrections: Sequence[dict], limit: int) -> list[tuple[str, tuple[str, str]]]:
    """(name, (word, the earliest batch id it was corrected since)) of the ``limit`` words with the most rows."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    for c in sorted(corrections, key=lambda c: -int(c.get("rows", 0))):
        ways, since = found.setdefault(str(c["word"]), ([], []))
        ways.append(str(c["direction"]))
        since.append(str(c.get("since") or ""))
    return [(f"{word} ({', '.join(sorted(set(ways)))})", (word, min(since)))
            for word, (ways, since) in list(found.items())[:limit]]


def rows_corrected(texts: Sequence[str], batch_ranks: Sequence[int], corrections: Sequence[dict],
                   rank_of: dict[str, int], limit: int = MAX_SLICES) -> dict[str, np.ndarray]:
    """Like :func:`rows_touched`, but only the rows of batches since the correction began (``batch_ranks``: each
    text's batch's place in the order batches were accepted; ``rank_of``: a batch id's place): the rows labelled
    by the team's new rule, not the old rows of the same word."""
    words = [terms_of(t) for t in texts]
    ranks = np.asarray(batch_ranks)
    return {name: np.array([word in w for w in words], dtype=bool) & (ranks >= rank_of.get(since, -1))
            for name, (word, since) in _by_word(corrections, limit)}
