"""Two claimers at once, re-run tasks, and a promotion racing another: no file or row is ingested twice, no
model version is overwritten, a promotion never overrides a champion that changed during its run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
from reliability_corpus import csv_text, good
from reliability_support import race_two_claimers
from support import local_registry

from tweet_sentiment.config import Settings
from tweet_sentiment.pipeline import retrain
from tweet_sentiment.pipeline.contracts import Evaluation
from tweet_sentiment.storage.labelled_store import LabelledStore

FILES, ROWS = 40, 20


def test_concurrent_claimers_never_ingest_a_file_twice(tmp_path: Path, tally):
    root = tmp_path / "data"
    (root / "inbox").mkdir(parents=True)
    for i in range(FILES):
        (root / "inbox" / f"f{i:02d}.csv").write_text(csv_text(*good(f"file{i}", ROWS)))
    with tally.fault("two claimers at once"):
        # spawn: delta-rs refuses a forked child of a process that used it (its tokio runtime), as this pytest
        # process has in earlier tests; they overlapped: the second waits on the claim lock
        done = race_two_claimers(str(root), "spawn")
        ledgers = [json.loads(p.read_text()) for p in (root / "ledger").glob("*.json")]
        live = [e for e in ledgers if "superseded_by" not in e]
        claimed = [f["file"] for e in live for f in e["files"]]
        assert sorted(claimed) == sorted(f"f{i:02d}.csv" for i in range(FILES))  # each file once
        assert sum(e["rows_in"] for e in live) == sum(e["rows_accepted"] for e in live) == FILES * ROWS
        store = LabelledStore(root / "labelled").read_all()
        assert len(store) == FILES * ROWS and store["text_hash"].is_unique
        assert not any((root / "inbox").iterdir())
        for _, _, _, entry in done:
            assert entry["rows_in"] == entry["rows_accepted"] + entry["rows_quarantined"]


def _booster(seed: int) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(100, 3))
    return lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(x, x[:, 0] > 0), 3)


def test_promotion_refuses_when_the_champion_changed_and_a_rerun_is_harmless(tmp_path: Path, tally):
    settings = dataclasses.replace(Settings.from_env(), data_root=str(tmp_path / "data"))
    registry = local_registry(tmp_path / "data" / "registry")
    first = registry.save(_booster(0), {"strategy": "refit"})
    registry.promote(first, "bootstrap", expected=registry.champion_version())
    challenger = registry.save(_booster(1), {"strategy": "continue"})  # trained while `first` was champion
    other = registry.save(_booster(2), {"strategy": "continue"})
    assert len({first, challenger, other}) == 3  # versions are never reused
    with tally.fault("champion changed during a run"):
        registry.promote(other, "another run promoted meanwhile", expected=registry.champion_version())
        evaluation = Evaluation(challenger, first, promote=True, reason="better")
        result = retrain.promote_challenger(settings, evaluation)
        assert not result.promoted and "champion changed during the run" in result.reason
        assert registry.champion_version() == other
        assert registry.card(challenger)["status"] == "rejected"
    with tally.fault("promote task re-run after it succeeded"):
        evaluation = Evaluation(other, first, promote=True, reason="better")
        assert retrain.promote_challenger(settings, evaluation).promoted
        assert registry.champion_version() == other and registry.card(other)["status"] == "champion"
        assert [e["version"] for e in registry.history()] == [first, other]
