"""The process is SIGKILLed at each step of a cycle (mid-write of the store, the ledger, the feature cache, the
model, its card and the champion pointer; while training; before archiving): afterwards the champion pointer
names a complete model, every file parses, and a re-run finishes the work with every row accounted for once."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from reliability_killed_run import POINTS
from reliability_support import (
    SMALL_BOOSTING,
    assert_consistent,
    champion_snapshot,
    kill_a_cycle,
    settings_for,
    write_train_rows,
)

from tweet_sentiment.pipeline import retrain
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.storage.labelled_store import LabelledStore

OPTIONS = RunOptions.from_params({"force_promote": True, **SMALL_BOOSTING})
# the points before the champion pointer is switched: the champion must be untouched
KILLED_BEFORE_PROMOTION = ("store-write", "cache-write", "training", "card-write", "promotion")


@pytest.mark.parametrize("point", list(POINTS))
def test_killed_at_any_step_leaves_a_complete_champion_and_a_rerun_finishes(
        point, pipeline_copy, infinity_url, small_dataset, feature_cache, tally):
    root = pipeline_copy
    # texts no other test embeds (the feature cache is the session's), so the killed run really writes the cache
    start = 1000 + 100 * list(POINTS).index(point)
    write_train_rows(small_dataset, root / "inbox" / "batch.csv", start, start + 100, text_suffix=f" #kill{point}")
    before = champion_snapshot(root)
    cards_before = card_versions(root)
    with tally.fault(f"SIGKILL at {point}"):
        kill_a_cycle(point, root, infinity_url, small_dataset, feature_cache)
        if point == "after-promotion":  # the pointer, its history and both statuses committed together
            assert champion_snapshot(root)["pointer"] != before["pointer"]
        assert_consistent(root, feature_cache)
        if point in KILLED_BEFORE_PROMOTION:
            assert champion_snapshot(root) == before
        cards_killed = card_versions(root)
        settings = settings_for(root, infinity_url, small_dataset, feature_cache)
        report = retrain.run_cycle(settings, "rerun", OPTIONS)
        assert report.decision.promoted
        assert_consistent(root, feature_cache)
        ledgers = {p.stem: json.loads(p.read_text()) for p in (root / "ledger").glob("*.json")}
        live = {b: e for b, e in ledgers.items() if "superseded_by" not in e}
        assert sorted(live) == ["boot", "rerun"]
        assert live["rerun"]["rows_in"] == 100
        store = LabelledStore(root / "labelled")
        assert store.batch_ids() == ["boot", "rerun"]
        accepted = sum(e["rows_accepted"] for e in live.values())
        assert len(store.read_all()) == accepted
        assert not any((root / "processing").iterdir())
        assert len(list((root / "archive").glob("*/rerun/batch.csv.gz"))) == 1
        # no version id repeats across the runs: each run's cards are kept as they were, the re-run's is new
        cards_rerun = card_versions(root)
        assert cards_before.items() <= cards_killed.items() <= cards_rerun.items()
        assert set(cards_rerun) - set(cards_killed) == {report.challenger.version}
        pd.testing.assert_series_equal(store.read_all()["text_hash"].drop_duplicates(),
                                       store.read_all()["text_hash"])


def card_versions(root: Path) -> dict[str, str]:
    """version → created_at of every complete version, as the card files say."""
    cards = (json.loads(p.read_text()) for p in (root / "registry" / "versions").glob("*/card.json"))
    return {c["version"]: c["created_at"] for c in cards}
