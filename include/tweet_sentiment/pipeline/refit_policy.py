"""When a refit pays, beside the cycle's continued challenger (the off-cycle refit of pipeline/refit.py trains it).

A continuation learns a new rule only as fast as a few boosting rounds on one batch allow; a refit learns it from
every row, weighted by recency. It pays:

- as soon as the label check first finds a systematic correction (label_check.known_corrections: found in the
  newest batch, never before): a refit learns the rule from all its rows at once, the older rows it contradicts
  weighed down (label_check.teaching), where a continuation adds a few rounds per batch;
- when the champion keeps making an error pattern: the label check of the newest batch found a systematic
  correction (people override suggestions the same way on a word), and the champion still gets at least
  ``PATTERN_ERROR_RATE`` of the recent window's rows with that word wrong (at least ``PATTERN_MIN_ROWS`` of them);
- or every ``refit_every_batches`` batches (TWEET_SENTIMENT_REFIT_EVERY_BATCHES; 0: never) since the newest fresh
  fit among the champion and the refits already judged.

At most one such refit per (champion, newest batch). Two challengers (the continued one and the refit) judged for the
same batch split the gate's significance (Bonferroni): each is tested at ``significance / 2``, so the chance that
either is promoted by noise stays below the significance of one test, as with one challenger per batch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tweet_sentiment.config import Settings
from tweet_sentiment.label_check.known_corrections import first_found_in
from tweet_sentiment.model.features import feature_matrix
from tweet_sentiment.model.gate import predict_ids
from tweet_sentiment.model.registry import Champion, ModelRegistry
from tweet_sentiment.model.terms import terms_of
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.resources import holdouts, infinity_client
from tweet_sentiment.storage.fs import read_json
from tweet_sentiment.storage.labelled_store import LabelledStore

PATTERN_MIN_ROWS = 5  # recent-window rows holding a corrected word, at least
PATTERN_ERROR_RATE = 0.2  # ... of which the champion gets at least this share wrong (a word it knows: ~3 %)


@dataclass(frozen=True)
class RefitPays:
    """Whether a refit pays now, and why in words."""

    pays: bool
    reason: str


def corrected_words(settings: Settings, batch_id: str) -> list[str]:
    """The words of the systematic corrections the label check of ``batch_id`` found (none: no check record)."""
    record = settings.layout().labels / "checks" / f"{batch_id}.json"
    found = read_json(record).get("systematic_corrections", []) if record.exists() else []
    return sorted({c["word"] for c in found})


def pattern_errors(settings: Settings, champion: Champion, words: list[str]) -> tuple[int, float]:
    """How many recent-window rows hold one of ``words`` (or phrases), and the share of them the champion gets wrong."""
    window = holdouts(settings)["recent"]
    corrected = set(words)  # words or phrases, read as the label check reads them (hashtags split, plurals folded)
    rows = [i for i, text in enumerate(window.texts) if terms_of(text) & corrected]
    if not rows:
        return 0, 0.0
    with infinity_client(settings) as client:
        features = feature_matrix([window.texts[i] for i in rows], champion.schema, client,
                                  settings.layout().embeddings)
    predicted = predict_ids(champion.booster, features)[0]
    return len(rows), float(np.mean(predicted != window.labels[rows]))


def _batches_since_fresh_fit(registry: ModelRegistry, order: list[str], champion: str) -> int:
    """Batches accepted after the newest fresh fit (the champion if it is one, or a refit judged since)."""
    fits = [registry.card(champion)] + [registry.card(r["version"]) for r in
                                        registry.index_rows(strategy="refit", newest_first=True, limit=1)]
    positions = [order.index(c["batch_id"]) for c in fits
                 if c.get("strategy") == "refit" and c.get("batch_id") in order]
    return len(order) - 1 - max(positions) if positions else len(order)


def refit_pays(settings: Settings) -> RefitPays:
    """Whether a refit pays for the newest batch (see the module doc)."""
    order = LabelledStore(settings.layout().labelled).batch_order()
    registry = ModelRegistry.of(settings)
    version = registry.champion_version()
    if not order or version is None:
        return RefitPays(False, "no champion or no labelled rows yet")
    tried = registry.index_rows(strategy="refit", newest_first=True, limit=1)
    last = registry.card(tried[0]["version"]) if tried else {}
    if (last.get("champion_at_training"), last.get("batch_id")) == (version, order[-1]):
        return RefitPays(False, f"refit {tried[0]['version']} was judged against {version} for {order[-1]}")
    every = settings.refit_every_batches
    since = _batches_since_fresh_fit(registry, order, version)
    if every and since >= every:
        return RefitPays(True, f"{since} batches since the last fresh fit (every {every})")
    new = first_found_in(settings.layout(), order[-1])
    if new:
        names = ", ".join(f"{c['word']} ({c['direction']})" for c in new[:5])
        return RefitPays(True, f"a systematic correction first found in {order[-1]}: {names}")
    words = corrected_words(settings, order[-1])
    if not words:
        return RefitPays(False, f"no systematic correction in {order[-1]}; {since} batches since a fresh fit")
    rows, error = pattern_errors(settings, registry.champion(), words)
    pays = rows >= PATTERN_MIN_ROWS and error >= PATTERN_ERROR_RATE
    return RefitPays(pays, f"champion {version} wrong on {error:.0%} of the {rows} recent-window rows with "
                           f"{', '.join(words[:5])} (pays from {PATTERN_ERROR_RATE:.0%} of {PATTERN_MIN_ROWS})")


def gate_options(settings: Settings, version: str | None, options: RunOptions) -> RunOptions:
    """The options to judge challenger ``version`` by: the significance halved when it shares its batch with
    another challenger (a refit that pays, or the cycle's challenger of a batch for which a refit pays)."""
    card = ModelRegistry.of(settings).card(version) if version else {}
    if card.get("strategy") == "refit":
        shared = bool(card.get("shares_batch"))
    else:
        shared = bool(version) and refit_pays(settings).pays
    return dataclasses.replace(options, significance=options.significance / 2) if shared else options
