"""`python -m benchmarks.scale` (make bench-scale) in its small mode: two tiny histories built by the product's
writers, a real cycle on each through the task functions, the JSON's shape, and the history actually built; the
prediction API's figures on a small bootstrap champion (a real api-server answering 512 new texts; a champion
continued through 5 batches)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from support import ROOT

from tweet_sentiment.config import Settings
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.vector_cache import VectorCache

STEPS = ("claim_and_ingest", "embed", "check_labels", "train", "evaluate", "decide", "archive")
HEADLINE = ("cycle_steps_ratio_1m", "task_peak_rss_mb_1m", "disk_bytes_per_labelled", "build_1m_s", "refit_1m_s",
            "refit_peak_rss_mb_1m")


def _bench(root: Path, sizes: str, predictions: int = 0, batches: int = 0) -> dict:
    result = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--sizes", sizes, "--runs", "1",
                             "--root", str(root), "--stream-sizes", "0", "--api-predictions", str(predictions),
                             "--continued-batches", str(batches)], capture_output=True, text=True,
                            timeout=1800, cwd=ROOT, env={**os.environ, "TWEET_SENTIMENT_BOOTSTRAP_ROWS": "1000"})
    assert result.returncode == 0, result.stderr[-4000:]
    assert "batch 4/4 written" in result.stderr or "cached" in result.stderr  # progress while it builds
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_scale_bench_builds_histories_and_times_a_real_cycle_on_each(dataset_dir: Path, tmp_path: Path) -> None:
    figures = _bench(tmp_path, "4000,8000", predictions=512, batches=5)

    assert figures["sizes"] == [4000, 8000] and all(figures[key] > 0 for key in HEADLINE)
    small, large = figures["per_n"]["4000"], figures["per_n"]["8000"]
    for size in (small, large):
        assert tuple(size["steps_s"]) == STEPS and min(size["steps_s"].values()) >= 0
        assert all(size["steps_s"][step] > 0 for step in STEPS[:5])  # decide and archive may take under a ms
        assert all(mb > 100 for mb in size["steps_peak_rss_mb"].values())  # a Python process with the product
        assert size["outcome"]["rows_in"] == 2000 and size["outcome"]["strategy"] == "continue"
    assert figures["task_peak_rss_mb_1m"] == max(large["steps_peak_rss_mb"].values())
    assert figures["cycle_steps_ratio_1m"] == round(large["cycle_steps_s"] / small["cycle_steps_s"], 2)
    for part in ("labelled", "archive", "vectors", "lexicon"):  # twice the rows, more bytes
        assert large["disk_bytes"][part] > small["disk_bytes"][part] > 0
    assert not large["build_cached"] and large["batches"] == 4
    registry = figures["registry"]  # the Model page at 500 versions, each promoted in turn
    assert registry["versions"] == registry["history_entries"] == 500
    assert figures["model_page_p95_ms"] == registry["model_page_p95_ms"] >= registry["model_page_p50_ms"] > 0
    assert registry["champion_read_p50_ms"] > 0 and not (tmp_path / "registry").exists()

    data, cache = tmp_path / "n-8000" / "data", tmp_path / "n-8000" / "cache"
    rows = LabelledStore(data / "labelled").read_all()
    assert len(rows) == 8000 and rows["batch_id"].nunique() == 4
    relabelled = rows[rows["text_hash"].duplicated()]
    assert 300 <= len(relabelled) < 320  # 5 % of the three later batches (plus any chance repeat)
    assert 0.12 < rows["recent_holdout"].mean() < 0.18
    vectors = VectorCache(cache, Settings.from_env().embedding_model)
    assert vectors.missing(rows["text_hash"].tolist()) == []
    assert str(vectors.dataset().schema.field("vector").type) == "fixed_size_list<item: halffloat>[384]"
    index = vectors.dataset().stats.index_stats("hash_idx")  # as the housekeeping leaves it: one of each
    assert len(vectors.dataset().get_fragments()) == 1 and index["num_indices"] == 1
    assert index["num_unindexed_rows"] == 0
    assert len(list((data / "archive").rglob("*.csv.gz"))) == 4 and len(list((data / "ledger").glob("*.json"))) == 4
    assert not (tmp_path / "run").exists()  # the cycle's copy is removed
    refit = figures["refit"]["refit_runs"][0]  # a refit of the largest history, on a copy removed after
    assert refit["result"]["strategy"] == "refit" and refit["result"]["rows_trained"] > 0.8 * 8000 * 0.85
    assert figures["refit_peak_rss_mb_1m"] == refit["peak_rss_mb"] > 100 and not (tmp_path / "refit-run").exists()
    assert 0 < refit["num_trees"] <= figures["max_champion_trees"] / 2  # a compacting refit within the bound
    # the labelling figures, at as many answers as the largest history's rows (built once, kept)
    assert figures["labelling_answers"] == 8000 and (tmp_path / "labelling" / "n-8000" / "built").exists()
    assert 0 < figures["label_click_ms_p50"] <= figures["label_click_ms_p95"]
    assert 0 < figures["labels_page_p50_ms"] <= figures["labels_page_p95_ms"]

    # the prediction API (prediction.py): 512 new texts through the real api-server, in requests of 256
    assert figures["api_predictions"] == 512 and figures["api_request_texts"] == 256
    assert figures["api_rss_mb_before"] > 100 and figures["api_rss_mb_peak"] >= figures["api_rss_mb_after"] > 100
    assert figures["api_rss_growth_mb"] == round(figures["api_rss_mb_after"] - figures["api_rss_mb_before"], 1)
    trees, p50 = figures["predict_trees"], figures["predict_p50_ms"]
    added = figures["trees_per_continuation"]  # 5 real continuations (early stopping: 0 to 150 trees each)
    assert figures["continued_batches"] == 5 and len(added) == 5 and all(0 <= n <= 150 and n % 5 == 0 for n in added)
    assert trees["bootstrap"] > 0 and trees["v500"] == trees["bootstrap"] + sum(added)
    # the bound is passed by one continuation at most (the largest measured)
    assert trees["bounded"] == min(trees["v500"], max(figures["max_champion_trees"], trees["bootstrap"]) + max(added))
    assert min(p50.values()) > 0 and figures["predict_p50_ratio_v500"] == round(p50["bounded"] / p50["bootstrap"], 2)
    assert figures["predict_p50_ratio_v500_unbounded"] == round(p50["v500"] / p50["bootstrap"], 2)
    assert not (tmp_path / "prediction").exists()

    again = _bench(tmp_path, "4000")
    assert again["build_cached"] and again["build_1m_s"] == small["build_s"]
    assert all(again["per_n"]["4000"]["steps_s"][step] > 0 for step in STEPS[:5])
