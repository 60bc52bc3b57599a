"""Rows that teach weigh more: a person's correction counts for more than a row that agrees with the model.

A batch row's training weight (``label_weight``, times recency and a continuation's new-row weight) is set by the
label check, once it has vetted the batch, to the largest multiplier that applies (TeachingWeights):

- ``correction``: the label differs from the suggestion the annotator was shown (the labelling page records it);
- ``superseding``: the row relabels a text stored earlier with another label (the newest label wins already; it
  also weighs more, so that the replayed older rows like it do not outvote it);
- ``systematic``: the row follows a systematic correction the check found (many people, same word, same direction:
  confident_learning.systematic_corrections).

A row the check holds is not in the store; a row it down-weights keeps the ``flagged_weight``: neither is ever
up-weighted. With the check off nothing is vetted and every row weighs 1. The multipliers were chosen on
``make quality SCENARIO=policy`` and held against ``SCENARIO=noisy`` (docs/quality.md, "Corrections count").

The other side of a correction: an *older* row it contradicts (holding the correction's term, labelled in a batch
before the team began it, with a label the team moves away from) taught the old rule, and the replay and the refit
keep drawing it; at training time it weighs ``outdated`` (below 1) times its stored weight
(:func:`outdated_weights`, over every correction the check ever found: label_check.known_corrections). It only ever
lowers a weight, so a held or down-weighted row is never up-weighted by it either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tweet_sentiment.label_check.confident_learning import follows_correction
from tweet_sentiment.model.terms import terms_of


@dataclass(frozen=True)
class TeachingWeights:
    """Training-weight multipliers of the rows that teach (1: no up-weighting)."""

    correction: float = 2.0
    superseding: float = 2.0
    systematic: float = 3.0
    outdated: float = 0.0  # an older row a systematic correction contradicts (0: left out; 1: as before)

    def __post_init__(self) -> None:
        if min(self.correction, self.superseding, self.systematic) < 1:
            raise ValueError(f"teaching weights are multipliers of at least 1: {self}")
        if not 0 <= self.outdated <= 1:
            raise ValueError(f"the weight of a row a correction contradicts is between 0 and 1: {self}")


def teaching_weights(batch: pd.DataFrame, earlier: pd.DataFrame, corrections: pd.DataFrame,
                     weights: TeachingWeights) -> np.ndarray:
    """Each row's multiplier (see the module doc). ``batch``: the rows (``text``, ``text_hash``, ``label``,
    ``suggested_label``); ``earlier``: the newest earlier row of each of its texts (``text_hash``, ``label``);
    ``corrections``: the systematic corrections (``word``, ``direction``)."""
    shown = batch["suggested_label"].astype(str)
    corrected = ((shown != "") & (shown != batch["label"].astype(str))).to_numpy()
    before = earlier.drop_duplicates("text_hash", keep="last").set_index("text_hash")["label"]
    previous = batch["text_hash"].map(before)
    superseding = (previous.notna() & (previous != batch["label"])).to_numpy()
    systematic = np.array([bool(c) for c in follows_correction(batch, corrections)], dtype=bool)
    out = np.ones(len(batch))
    for applies, weight in ((corrected, weights.correction), (superseding, weights.superseding),
                            (systematic, weights.systematic)):
        out = np.where(applies, np.maximum(out, weight), out)
    return out


def contradicted(rows: pd.DataFrame, corrections: Sequence[dict], ages: dict[str, int]) -> np.ndarray:
    """Which ``rows`` (``text``, ``label``, ``age``: batches since the row's batch, inf for a row older than any,
    NaN for one newer than any) one of ``corrections`` (records with ``word``, ``direction``, ``since``,
    ``moved_from``: label_check.known_corrections) contradicts: the text holds the term (as the check reads terms),
    the row is older than the correction's ``since`` batch (``ages``: each batch's age, 0 the newest), its label is
    one the team moves away from. A correction whose ``since`` batch the store no longer holds contradicts
    nothing."""
    out = np.zeros(len(rows), dtype=bool)
    if not len(corrections) or rows.empty:
        return out
    age, lower = rows["age"].to_numpy(dtype=float), rows["text"].str.lower()
    for c in corrections:
        since = ages.get(str(c.get("since")))
        if since is None:
            continue
        candidate = (age > since) & rows["label"].isin(list(c.get("moved_from") or [])).to_numpy()
        for word in str(c["word"]).split(" "):  # a cheap filter first: each word of the term as a substring
            candidate &= lower.str.contains(word, regex=False).to_numpy()
        out[[i for i in np.flatnonzero(candidate) if c["word"] in terms_of(rows["text"].iat[i])]] = True
    return out


def outdated_weights(rows: pd.DataFrame, corrections: Sequence[dict], ages: dict[str, int],
                     weight: float) -> np.ndarray:
    """Each training row's multiplier: ``weight`` for a row one of ``corrections`` contradicts
    (:func:`contradicted`), 1 for the others. ``rows``: ``text``, ``label``, ``batch_id`` (an unknown batch:
    never older); ``ages``: each batch's age (0: the newest)."""
    if not len(corrections) or rows.empty or weight == 1:
        return np.ones(len(rows))
    aged = rows.assign(age=rows["batch_id"].map(ages).astype(float))
    return np.where(contradicted(aged, corrections, ages), weight, 1.0)
