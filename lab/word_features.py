"""``python -m lab.word_features``: which word features carry a team's policy (issue 28, part 5), measured offline.

The chronological training stream (bootstrap 8,000 rows, batches of 2,000), the policy scenario's rule from its
start batch on, cut ``HORIZON`` batches after the start. For each word-feature variant (hashed unigrams, word
pairs, more buckets, TF-IDF-style scaling with the IDF frozen on the rows a model was first fitted on) beside the
lexicon features (the embedding left out: +0.0003 on these labels, docs/quality.md), two models:

- ``continued``: fitted on the bootstrap, then continued batch by batch the pipeline's way (new rows ×2, a uniform
  replay of 2,000 earlier rows, recency weights, early stopping on the hash-chosen slice);
- ``refit``: fitted on every row up to the cut, recency-weighted;

scored on the recent rows after the start (15 % of each batch by text hash, never trained on; current labels),
on those of them the rule touches (accuracy), on the fixed holdout as shipped and relabelled by the rule (the
annotators' holdout), and the plain stream's refit on the whole file (the plain figure). Last line: one JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from lab.scenarios import POLICIES, Policy
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows
from tweet_sentiment.model.boosting import (
    BoostingParams,
    continue_boosting,
    recency_weights,
    train_fresh,
    validation_mask,
)
from tweet_sentiment.model.features import (
    LEXICON_CACHE_DTYPE,
    LEXICON_FEATURES,
    hashed_words,
    lexicon_features,
    lexicon_namespace,
)
from tweet_sentiment.model.gate import evaluate
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.schema import LABEL_COLUMN, LABEL_TO_ID, TEXT_COLUMN, FeatureSchema
from tweet_sentiment.storage.vector_cache import vector_cache
from tweet_sentiment.text import clean_tweet, in_hash_slice, text_hash

log = logging.getLogger(__name__)
HORIZON = 3
BATCH, BOOTSTRAP, REPLAY = 2000, 8000, 2000


@dataclass(frozen=True)
class Variant:
    name: str
    buckets: int
    ngrams: int
    idf: bool = False


VARIANTS = (Variant("unigrams 4096 (today)", 4096, 1), Variant("uni+bigrams 4096", 4096, 2),
            Variant("unigrams 16384", 16384, 1), Variant("uni+bigrams 16384", 16384, 2),
            Variant("unigrams 4096 tf-idf", 4096, 1, idf=True), Variant("uni+bigrams 16384 tf-idf", 16384, 2, True))


def _idf(words: sparse.csr_matrix) -> np.ndarray:
    """Smoothed inverse document frequency of each column (frozen where a model was first fitted)."""
    df = np.asarray((words > 0).sum(axis=0)).ravel()
    return (np.log((1 + words.shape[0]) / (1 + df)) + 1).astype(np.float32)


class Features:
    """A variant's feature matrix of any rows: lexicon columns, then the hashed words (scaled by a frozen IDF)."""

    def __init__(self, variant: Variant, texts: list[str], lexicon: np.ndarray) -> None:
        self.variant, self.lexicon = variant, lexicon
        self.words = hashed_words(texts, variant.buckets, variant.ngrams)
        self.idf: np.ndarray | None = None

    def freeze_idf(self, rows: np.ndarray) -> None:
        self.idf = _idf(self.words[rows]) if self.variant.idf else None

    def of(self, rows: np.ndarray) -> sparse.csr_matrix:
        words = self.words[rows]
        if self.idf is not None:
            words = words.multiply(self.idf[None, :]).tocsr()
        return sparse.hstack([sparse.csr_matrix(self.lexicon[rows]), words], format="csr", dtype=np.float32)


def relabelled_stream(settings: Settings, policy: Policy | None) -> tuple[list[str], np.ndarray, np.ndarray,
                                                                          np.ndarray]:
    """Cleaned texts, label ids (the rule applied from its start batch), each row's batch number, and which rows
    the rule relabelled."""
    header, rows = chronological_rows(settings.train_file)
    text, label = header.index(TEXT_COLUMN), header.index(LABEL_COLUMN)
    batch = np.array([0 if i < BOOTSTRAP else 1 + (i - BOOTSTRAP) // BATCH for i in range(len(rows))])
    before = [r[label] for r in rows]
    if policy:
        later = [r for r, b in zip(rows, batch, strict=True) if b >= policy.start_batch]
        rows = rows[:len(rows) - len(later)] + policy.apply(header, later)[0]
    texts = [clean_tweet(r[text]) for r in rows]
    keep = np.array([bool(t) and r[label] in LABEL_TO_ID for t, r in zip(texts, rows, strict=True)])
    labels = np.array([LABEL_TO_ID.get(r[label], -1) for r in rows])
    relabelled = np.array([r[label] != b for r, b in zip(rows, before, strict=True)])
    return [t for t, k in zip(texts, keep, strict=True) if k], labels[keep], batch[keep], relabelled[keep]


def lexicon_of(settings: Settings, texts: list[str]) -> np.ndarray:
    """The pipeline's lexicon features, from its feature cache (the same namespace)."""
    namespace = lexicon_namespace(FeatureSchema("", 0, LEXICON_FEATURES))
    cache = vector_cache(settings.layout().embeddings, namespace, False, LEXICON_CACHE_DTYPE)
    return cache.get_or_compute(texts, lambda todo: lexicon_features(todo, LEXICON_FEATURES)).astype(np.float32)


def _continued(feats: Features, labels: np.ndarray, batch: np.ndarray, train: np.ndarray, valid: np.ndarray,
               last: int, options: RunOptions) -> object:
    rng = np.random.default_rng(13)
    first = np.flatnonzero(train & (batch == 0))
    feats.freeze_idf(first)
    booster = train_fresh(feats.of(first), labels[first], options.boosting, valid[first]).booster
    for k in range(1, last + 1):
        new = np.flatnonzero(train & (batch == k))
        earlier = np.flatnonzero(train & (batch < k))
        rows = np.concatenate([new, rng.choice(earlier, min(REPLAY, len(earlier)), replace=False)])
        weights = recency_weights(k - batch[rows], options.recency_half_life)
        weights[: len(new)] *= options.boosting.new_row_weight
        booster = continue_boosting(booster, feats.of(rows), labels[rows], options.boosting, valid[rows],
                                    weights).booster
    return booster


def _refit(feats: Features, labels: np.ndarray, batch: np.ndarray, rows: np.ndarray, valid: np.ndarray,
           options: RunOptions) -> object:
    feats.freeze_idf(rows)
    weights = recency_weights(batch[rows].max() - batch[rows], options.recency_half_life)
    return train_fresh(feats.of(rows), labels[rows], options.boosting, valid[rows], weights).booster


def _scores(booster, feats: Features, sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    out = {}
    for name, (rows, labels) in sets.items():
        metrics = evaluate(booster, feats.of(rows), labels)
        out[name] = metrics["accuracy"] if name.endswith("_touched") else metrics["macro_f1"]
    return out


def measure(settings: Settings, variant: Variant, policy: Policy) -> dict:
    """One variant's figures on the policy stream and the plain stream."""
    options = RunOptions(boosting=BoostingParams())
    texts, labels, batch, _ = relabelled_stream(settings, policy)
    header, fixed_rows = chronological_rows(settings.holdout_file)
    fixed_new = policy.apply(header, [list(r) for r in fixed_rows])[0]
    t_col, l_col = header.index(TEXT_COLUMN), header.index(LABEL_COLUMN)
    fixed_texts = [clean_tweet(r[t_col]) for r in fixed_rows]
    all_texts = texts + fixed_texts
    feats = Features(variant, all_texts, lexicon_of(settings, all_texts))
    n = len(texts)
    fixed = np.arange(n, n + len(fixed_texts))
    hashes = [text_hash(t) for t in texts]
    recent, valid = in_hash_slice(hashes, 0.15, "recent-holdout-v1"), validation_mask(hashes, 0.1)
    valid = np.concatenate([valid, np.zeros(len(fixed), dtype=bool)])
    last = policy.start_batch + HORIZON - 1
    window = np.flatnonzero(recent & (batch >= policy.start_batch) & (batch <= last))
    touched = np.array([policy.matches(texts[i]) for i in window])
    fixed_touched = np.array([policy.matches(t) for t in fixed_texts])
    sets = {"window": (window, labels[window]), "window_touched": (window[touched], labels[window[touched]]),
            "fixed_old_labels": (fixed, np.array([LABEL_TO_ID[r[l_col]] for r in fixed_rows])),
            "annotators_holdout": (fixed, np.array([LABEL_TO_ID[r[l_col]] for r in fixed_new])),
            "unaffected": (fixed[~fixed_touched],
                           np.array([LABEL_TO_ID[r[l_col]] for r in fixed_rows])[~fixed_touched])}
    train = np.concatenate([~recent & (batch <= last), np.zeros(len(fixed), dtype=bool)])
    labels_all = np.concatenate([labels, np.zeros(len(fixed), dtype=int)])
    batch_all = np.concatenate([batch, np.full(len(fixed), 10**6)])
    start = time.process_time()
    continued = _continued(feats, labels_all, batch_all, train, valid, last, options)
    continue_cpu = time.process_time() - start
    start = time.process_time()
    refit = _refit(feats, labels_all, batch_all, np.flatnonzero(train), valid, options)
    refit_cpu = time.process_time() - start
    return {"variant": variant.name, "continued": _scores(continued, feats, sets),
            "refit": _scores(refit, feats, sets), "continue_cpu_s": round(continue_cpu, 1),
            "refit_cpu_s": round(refit_cpu, 1), "window_rows": len(window),
            "window_touched_rows": int(touched.sum()),
            "plain_refit_fixed_macro_f1": _plain(settings, variant, options)}


def _plain(settings: Settings, variant: Variant, options: RunOptions) -> float:
    """The plain stream's refit on the whole training file, on the fixed holdout as shipped."""
    texts, labels, batch, _ = relabelled_stream(settings, None)
    header, fixed_rows = chronological_rows(settings.holdout_file)
    fixed_texts = [clean_tweet(r[header.index(TEXT_COLUMN)]) for r in fixed_rows]
    feats = Features(variant, texts + fixed_texts, lexicon_of(settings, texts + fixed_texts))
    n = len(texts)
    valid = np.concatenate([validation_mask([text_hash(t) for t in texts], 0.1), np.zeros(len(fixed_texts), bool)])
    booster = _refit(feats, np.concatenate([labels, np.zeros(len(fixed_texts), int)]),
                     np.concatenate([batch, np.zeros(len(fixed_texts), int)]), np.arange(n), valid, options)
    fixed_labels = np.array([LABEL_TO_ID[r[header.index(LABEL_COLUMN)]] for r in fixed_rows])
    return evaluate(booster, feats.of(np.arange(n, n + len(fixed_texts))), fixed_labels)["macro_f1"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.word_features", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="policy", choices=list(POLICIES))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings, results = Settings.from_env(), []
    for variant in VARIANTS:
        results.append(measure(settings, variant, POLICIES[args.scenario]))
        log.info("%s", json.dumps(results[-1]))
    print(json.dumps({"scenario": args.scenario, "horizon": HORIZON, "variants": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
