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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tweet_sentiment.label_check.confident_learning import follows_correction


@dataclass(frozen=True)
class TeachingWeights:
    """Training-weight multipliers of the rows that teach (1: no up-weighting)."""

    correction: float = 2.0
    superseding: float = 2.0
    systematic: float = 3.0

    def __post_init__(self) -> None:
        if min(self.correction, self.superseding, self.systematic) < 1:
            raise ValueError(f"teaching weights are multipliers of at least 1: {self}")


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
