"""`python -m benchmarks.scale --stream-only` (make bench-scale's scored stream) in a small mode: two streams built
in bulk by the product's writers, a measured scoring run and a champion change on each, the JSON's shape, and the
stream actually built (counts for every tweet, texts only for the retained batches, a hash for every tweet)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from support import ROOT

from tweet_sentiment.storage.scored_stream import ScoredStream

HEADLINE = ("score_run_ratio_10m", "mood_drift_s_10m", "score_peak_rss_mb_10m", "first_new_scored_after_change_s",
            "disk_bytes_per_scored_after_retention", "build_10m_s")
STEPS = ("claim_and_ingest", "score", "mood", "drift")


def _bench(root: Path) -> dict:
    result = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--sizes", "4000", "--runs", "1", "--root",
                             str(root), "--stream-only", "--stream-sizes", "8000,200000"], capture_output=True,
                            text=True, timeout=1800, cwd=ROOT, env=os.environ)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "stream S=200000: 100/100 batches written" in result.stderr  # progress while it builds
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_stream_bench_builds_streams_and_times_a_scoring_run_and_a_champion_change(dataset_dir: Path,
                                                                                  tmp_path: Path) -> None:
    figures = _bench(tmp_path)
    assert figures["stream_sizes"] == [8000, 200000] and all(figures[key] > 0 for key in HEADLINE)
    small, large = figures["per_s"]["8000"], figures["per_s"]["200000"]
    for size in (small, large):
        assert tuple(size["steps_s"]) == STEPS and all(size["steps_s"][s] > 0 for s in STEPS)
        assert all(mb > 100 for mb in size["steps_peak_rss_mb"].values())
        assert size["rescored_after_change"]["rescored_rows"] > 0
    assert figures["score_run_ratio_10m"] == round(large["run_s"] / small["run_s"], 2)
    assert figures["disk_bytes_per_scored_after_retention"] == large["disk_bytes_per_scored_after_retention"]
    tables = ScoredStream(tmp_path / "stream" / "s-200000" / "data" / "stream")
    live = tables.live_batches()
    assert len(live) == large["kept_rows"] // 2000 and 1 < len(live) < 100  # the first and the retained ones
    counted = tables.query("SELECT sum(n)::BIGINT AS n FROM counts", ["counts"])["n"].iloc[0]
    hashes = tables.query("SELECT count(DISTINCT (hi, lo)) AS n FROM seen", ["seen"])["n"].iloc[0]
    assert counted == hashes == 200_000
    assert tables.query("SELECT count(*) AS n FROM rows", ["rows"])["n"].iloc[0] == large["kept_rows"]
    for name in ("seen", "counts", "words", "batches", "scored"):  # left as the housekeeping leaves them
        assert list((tables.root / name / "_delta_log").glob("*.checkpoint.parquet")), name
        assert len(tables.tables[name].files()) == 1, name  # compacted
    assert not (tmp_path / "stream-run").exists()  # the runs' copies are removed
