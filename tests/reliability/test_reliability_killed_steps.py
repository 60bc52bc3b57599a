"""The process is SIGKILLed after (or in the middle of) every step of a cycle that writes: the claim, the ingest
(its store, its ledger), the label check (its flagged rows, its ledger update, its record), the archiving (its
marker, half of its moves) and the run report. The next runs then finish the work and the books balance against
the files that went in: every row stored, held for review or quarantined, once; each file archived once."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from reliability_killed_run import STEP_POINTS
from reliability_support import SMALL_BOOSTING, assert_consistent, kill_a_cycle, settings_for, write_train_rows

from tweet_sentiment.label_check.review import held_rows
from tweet_sentiment.pipeline import retrain
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.labelled_store import LabelledStore

OPTIONS = RunOptions.from_params({"force_promote": True, **SMALL_BOOSTING})
FILES = {"a.csv": 60, "b.csv": 40}  # two files: a death in the middle of archiving them can be tried


def sent_texts(inbox: Path) -> set[str]:
    texts = set()
    for name in FILES:
        rows = list(csv.DictReader(io.StringIO((inbox / name).read_bytes().decode("utf-8"), newline="")))
        texts |= {r["OriginalTweet"] for r in rows}
    return texts


def live_ledgers(root: Path) -> dict[str, dict]:
    entries = {p.stem: json.loads(p.read_text()) for p in (root / "ledger").glob("*.json")}
    return {b: e for b, e in entries.items() if "superseded_by" not in e and b != "boot"}


def run_until_done(root: Path, settings) -> int:
    """Cycles until no file waits in the inbox or a dead run's folder (a take-over may send half a batch back)."""
    for n in range(5):
        waiting = [p for p in (root / "inbox").iterdir() if not p.name.startswith(".")]
        left = [p for p in (root / "processing").iterdir() if not p.name.startswith(".")]
        if not waiting and not left:
            return n
        retrain.run_cycle(settings, f"rerun{n}", OPTIONS)
    raise AssertionError("work left after 5 runs")


@pytest.mark.parametrize("point", list(STEP_POINTS))
def test_killed_after_any_writing_step_the_next_runs_books_balance(
        point, pipeline_copy, infinity_url, small_dataset, feature_cache, tally):
    root = pipeline_copy
    start = 2000 + 100 * list(STEP_POINTS).index(point)  # the small slice holds 3,000 tweets
    for name, rows in FILES.items():
        write_train_rows(small_dataset, root / "inbox" / name, start, start + rows, text_suffix=f" #step-{point}")
        start += rows
    sent = sent_texts(root / "inbox")
    with tally.fault(f"SIGKILL at {point}"):
        kill_a_cycle(point, root, infinity_url, small_dataset, feature_cache)
        assert_consistent(root, feature_cache)
        run_until_done(root, settings_for(root, infinity_url, small_dataset, feature_cache))
        assert_consistent(root, feature_cache)

        live = live_ledgers(root)
        assert sum(e["rows_in"] for e in live.values()) == len(sent) == sum(FILES.values())
        stored = LabelledStore(root / "labelled").read_all()
        stored = stored[stored["batch_id"].isin(live)]
        held = held_rows(DataLayout(root))
        held = held[held["batch_id"].isin(live)]
        quarantined = sum(e["rows_quarantined"] for e in live.values())
        assert len(stored) + len(held) + quarantined == len(sent)  # each row once: stored, held or quarantined
        assert set(stored["raw_text"]) | set(held["raw_text"]) <= sent
        assert held_rows(DataLayout(root))["batch_id"].isin([*live, "boot"]).all()  # none of a dead batch waits
        archived = [p.name.removesuffix(".gz") for p in (root / "archive").glob("*/*/*.csv.gz")
                    if p.parent.name != "boot"]
        assert sorted(archived) == sorted(FILES)
        # no batch, no marker, no count of failed runs left behind (only a killed write's dot-temporary, never read)
        left = [p for p in (root / "processing").rglob("*") if p.is_file() and not p.name.endswith(".tmp")]
        assert left == [] and not [p for p in (root / "processing").iterdir() if not p.name.startswith(".")]
