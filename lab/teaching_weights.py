"""``python -m lab.teaching_weights``: how much more a row that teaches should weigh (issue 28, part 1), offline.

The stream of lab.word_features (bootstrap 8,000 rows, batches of 2,000, a policy's rule from its start batch, the
lexicon features and today's 4,096 hashed unigrams), continued batch by batch the pipeline's way (new rows ×2, a
uniform replay of 2,000 earlier rows, recency weights, early stopping on the hash-chosen slice). In the policy
streams a row the rule relabelled is both a correction (its label differs from the suggestion shown) and, from
the rule's first batch on, a row following a systematic correction (the label check finds every policy there:
tests/unit/test_systematic_phrases.py), so the largest of the correction and systematic multipliers is its weight,
in the new rows and in the replay (as the stored ``label_weight``). For each multiplier, the continued model after
``--horizon`` batches of the rule is scored on the policy's annotators' holdout (macro-F1), on its rows the rule
relabelled (accuracy) and on the rows the rule does not match (macro-F1, fixed holdout). A weighting marked
``refit`` replaces the continuation at the rule's first batch by a fresh fit on every row so far (recency-weighted,
the same multipliers; what the refit DAG trains when a correction is first found, taken as promoted), continued
after it. Last line: one JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from dataclasses import dataclass

import numpy as np

from lab.scenarios import POLICIES, Policy
from lab.word_features import BOOTSTRAP, REPLAY, VARIANTS, Features, lexicon_of, relabelled_stream
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows
from tweet_sentiment.model.boosting import (
    BoostingParams,
    continue_boosting,
    recency_weights,
    train_fresh,
    validation_mask,
)
from tweet_sentiment.model.gate import evaluate
from tweet_sentiment.schema import LABEL_COLUMN, LABEL_TO_ID, LABELS, TEXT_COLUMN
from tweet_sentiment.text import clean_tweet, in_hash_slice, text_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Weighting:
    """How the rows that teach weigh: ``multiplier`` on the rows the rule relabelled; ``outdated`` on the rows
    before the rule's start that it would have relabelled (the old rule on the same topic), once the rule began;
    ``refit``: a fresh fit at the rule's first batch instead of a continuation."""

    multiplier: float
    outdated: float = 1.0
    refit: bool = False

    @classmethod
    def parse(cls, text: str) -> Weighting:
        """``multiplier[:outdated[:refit]]``."""
        parts = text.split(":")
        return cls(float(parts[0]), float(parts[1]) if len(parts) > 1 else 1.0, parts[2:] == ["refit"])


WEIGHTINGS = "1,3,3:0.3,3:0.1,3:0,3:1:refit,3:0.3:refit,3:0:refit"  # the weightings measured by default


def _continued(feats: Features, labels: np.ndarray, batch: np.ndarray, masks: tuple[np.ndarray, np.ndarray, np.ndarray],
               start: int, last: int, weighting: Weighting, params: BoostingParams) -> object:
    """The bootstrap model continued to batch ``last``; ``masks``: the validation slice, the rows the rule
    relabelled, the rows before ``start`` it would have relabelled."""
    valid, taught, outdated = masks
    rng = np.random.default_rng(13)
    first = np.flatnonzero(batch == 0)
    booster = train_fresh(feats.of(first), labels[first], params, valid[first]).booster
    for k in range(1, last + 1):
        new, earlier = np.flatnonzero(batch == k), np.flatnonzero(batch < k)
        rows = np.concatenate([new, rng.choice(earlier, min(REPLAY, len(earlier)), replace=False)])
        refit = weighting.refit and k == start
        if refit:  # every row so far, as challenger.refit trains (no replay draw, no new-row weight)
            rows = np.flatnonzero(batch <= k)
        weights = recency_weights(k - batch[rows], 1.0) * np.where(taught[rows], weighting.multiplier, 1.0)
        if k >= start:
            weights *= np.where(outdated[rows], weighting.outdated, 1.0)
        if refit:
            booster = train_fresh(feats.of(rows), labels[rows], params, valid[rows], weights).booster
            continue
        weights[: len(new)] *= params.new_row_weight
        booster = continue_boosting(booster, feats.of(rows), labels[rows], params, valid[rows], weights).booster
    return booster


def measure(settings: Settings, policy: Policy, horizon: int, weightings: list[Weighting]) -> list[dict]:
    """Per weighting: the continued model's figures ``horizon`` batches into the rule."""
    texts, labels, batch, taught = relabelled_stream(settings, policy)
    header, fixed_rows = chronological_rows(settings.holdout_file)
    text, label = header.index(TEXT_COLUMN), header.index(LABEL_COLUMN)
    fixed_texts = [clean_tweet(r[text]) for r in fixed_rows]
    old = np.array([LABEL_TO_ID[r[label]] for r in fixed_rows])
    new = np.array([LABEL_TO_ID[r[label]] for r in policy.apply(header, [list(r) for r in fixed_rows])[0]])
    matching = np.array([policy.matches(t) for t in fixed_texts])
    last = min(policy.start_batch + horizon - 1, int(batch.max()))
    # the recent holdout's rows (15 % by the pipeline's salted hash) are never trained on
    keep = (batch <= last) & ~in_hash_slice([text_hash(t) for t in texts], 0.15, "recent-holdout-v1")
    texts, labels, batch, taught = [t for t, k in zip(texts, keep, strict=True) if k], labels[keep], batch[keep], \
        taught[keep]
    feats = Features(VARIANTS[0], texts + fixed_texts, lexicon_of(settings, texts + fixed_texts))
    valid = np.concatenate([validation_mask([text_hash(t) for t in texts], 0.1), np.zeros(len(fixed_texts), bool)])
    n, params, out = len(texts), BoostingParams(), []
    fixed = feats.of(np.arange(n, n + len(fixed_texts)))
    touched = new != old
    outdated = np.concatenate([(batch < policy.start_batch) & np.array(
        [policy.relabel.get(LABELS[y], LABELS[y]) != LABELS[y] and policy.matches(t) for t, y in zip(texts, labels,
                                                                                                  strict=True)]),
        np.zeros(len(fixed_texts), bool)])
    masks = (valid, np.concatenate([taught, np.zeros(len(fixed_texts), bool)]), outdated)
    for weighting in weightings:
        booster = _continued(feats, labels, batch, masks, policy.start_batch, last, weighting, params)
        predicted = booster.predict(fixed, raw_score=True).argmax(axis=1)
        out.append({"policy": policy.name, **dataclasses.asdict(weighting),
                    "batches_of_rule": last - policy.start_batch + 1,
                    "annotators_macro_f1": evaluate(booster, fixed, new)["macro_f1"],
                    "touched_accuracy": round(float(np.mean(predicted[touched] == new[touched])), 4),
                    "unaffected_macro_f1": evaluate(booster, fixed[~matching], old[~matching])["macro_f1"]})
        log.info("%s", json.dumps(out[-1]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.teaching_weights", description=__doc__.splitlines()[0])
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--horizon", type=int, default=3, help="batches of the rule before scoring")
    parser.add_argument("--weightings", default=WEIGHTINGS,
                        help="multiplier[:outdated weight[:refit]], comma-separated")
    args = parser.parse_args(argv)
    weightings = [Weighting.parse(w) for w in args.weightings.split(",")]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    results = [r for name in args.policies.split(",")
               for r in measure(settings, POLICIES[name], args.horizon, weightings)]
    print(json.dumps({"bootstrap_rows": BOOTSTRAP, "horizon": args.horizon, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
