"""Measured scoring runs on a copy of a built stream (``stream.py``), and the stream's figures of `make
bench-scale`.

A run is the scoring DAG's tasks on 2,000 new tweets (claim and ingest, score, mood, drift; the labelling queue's
re-annotation does not depend on the stream), each in a fresh process (``stream_step.py``): seconds (the wait for
the embedding stand-in left out) and peak RSS. Then a champion change: a new version is promoted, 2,000 more
tweets arrive, and claim + score run again: ``first_new_scored_after_change_s`` is the claim's seconds plus the
score task's seconds until its first chunk of new tweets was committed (the asset event's scheduling by Airflow,
a few seconds, is not in it); the score task then re-scores one bounded chunk of the history, newest first.

Headline keys (the largest S over the smallest): ``score_run_ratio_10m``, ``mood_drift_s_10m``,
``score_peak_rss_mb_10m``, ``first_new_scored_after_change_s``, ``disk_bytes_per_scored_after_retention`` (the
bytes of the tables a scored tweet leaves once its retention has passed, per tweet: hashes, counts, word counts,
manifests), ``build_10m_s``.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from benchmarks.options import PROJECT_ROOT, median
from benchmarks.processes import run_json_process
from benchmarks.scale.cycle import link_or_copy
from benchmarks.scale.options import ScaleOptions
from benchmarks.scale.standin import standin_server
from benchmarks.scale.stream import (
    BASE_BATCHES,
    FIRST_TWEET,
    SPAN,
    Base,
    ensure_stream,
    stream_folder,
    stream_settings,
)
from benchmarks.scale.synthetic import Corpus, SyntheticHistory
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import write_rows
from tweet_sentiment.storage.scored_stream import ScoredStream

log = logging.getLogger(__name__)
RUN_STEPS = ("claim_and_ingest", "score", "mood", "drift")
AFTER_RETENTION = ("seen", "counts", "words", "batches", "scored", "expired")


def _copy(folder: Path, scratch: Path) -> None:
    """The built data root into ``scratch``: data files hard-linked (never written into), the Delta logs and the
    state database copied (written in place)."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(folder / "data", scratch / "data", copy_function=link_or_copy)
    for log_dir in (scratch / "data").rglob("_delta_log"):
        for path in log_dir.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                path.unlink()
                path.write_bytes(data)


def _drop_tweets(settings: Settings, history: SyntheticHistory, name: str, run: int) -> None:
    """2,000 new tweets (base texts made new by a suffix), dated after the stream's last, in the inbox."""
    texts = [history.fresh(run % BASE_BATCHES, i)[0] + f" ~{name}" for i in range(history.options.batch_rows)]
    day = (FIRST_TWEET + SPAN).strftime("%Y-%m-%d")
    write_rows(settings.layout().unlabelled, f"{name}.csv", ["TweetAt", "OriginalTweet"],
               [[f"{day} 00:{i % 60:02d}:00", t] for i, t in enumerate(texts)])


def _step(step: str, settings: dict, batch: str, parts: dict) -> dict:
    job = {"step": step, "settings": settings, "batch_id": batch, "parts": parts}
    return run_json_process("benchmarks.scale.stream_step", job, PROJECT_ROOT)


def _run(settings: Settings, batch: str, steps: tuple[str, ...]) -> dict:
    """``steps`` of one scoring run, each in its own process; their seconds (embedding left out), peaks, results."""
    overrides = {"data_root": settings.data_root, "cache_root": settings.cache_root,
                 "infinity_url": settings.infinity_url, "file_settle_s": 0.0}
    parts, out = {}, {"steps_s": {}, "embed_s": {}, "peak_rss_mb": {}, "load_avg_1m": round(os.getloadavg()[0], 2)}
    for step in steps:
        done = _step(step, overrides, batch, parts)
        parts[step] = done["result"]
        out["steps_s"][step] = round(done["seconds"] - done["embed_s"], 3)
        out["embed_s"][step], out["peak_rss_mb"][step] = done["embed_s"], done["peak_rss_mb"]
        log.info("  %s: %.2f s (+%.2f s embedding), peak RSS %.0f MB", step, out["steps_s"][step], done["embed_s"],
                 done["peak_rss_mb"])
    return {**out, "results": parts}


def measure_stream_run(folder: Path, settings: Settings, history: SyntheticHistory, run: int, scratch: Path) -> dict:
    """One run on 2,000 new tweets, then a champion change with 2,000 more, on a copy of the stream."""
    _copy(folder, scratch)
    work = Settings(**{**settings.__dict__, "data_root": str(scratch / "data"), "cache_root": str(scratch / "cache")})
    try:
        _drop_tweets(work, history, f"new-{run}", run)
        plain = _run(work, f"new-{run}", RUN_STEPS)
        _run(work, f"after-{run}", ("change_champion",))  # in a process of its own, as every write to the copy
        _drop_tweets(work, history, f"after-{run}", run + 1)
        change = _run(work, f"after-{run}", ("claim_and_ingest", "score"))
        scored = change["results"]["score"]
        return {"run_s": round(sum(plain["steps_s"].values()), 3), "steps_s": plain["steps_s"],
                "embed_s": plain["embed_s"], "peak_rss_mb": max([*plain["peak_rss_mb"].values(),
                                                                  *change["peak_rss_mb"].values()]),
                "steps_peak_rss_mb": plain["peak_rss_mb"], "load_avg_1m": plain["load_avg_1m"],
                "mood_drift_s": round(plain["steps_s"]["mood"] + plain["steps_s"]["drift"], 3),
                "first_new_scored_after_change_s": round(change["steps_s"]["claim_and_ingest"]
                                                         + scored["first_new_scored_s"], 3),
                "rescored_after_change": {k: scored[k] for k in ("rescored_rows", "rescored_s",
                                                                 "rescore_pending_rows")}}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def disk_figures(settings: Settings, size: int) -> dict:
    tables = ScoredStream(settings.layout().stream)
    parts = tables.disk_bytes()
    kept = int(tables.live_batches()["rows"].sum())
    after = sum(parts.get(name, 0) for name in AFTER_RETENTION)
    texts = sum(parts.get(name, 0) for name in ("rows", "vectors", "scores"))
    return {"stream_disk_bytes": parts, "kept_rows": kept, "disk_bytes_per_scored_after_retention": round(after / size),
            "disk_bytes_per_kept_tweet": round(texts / max(kept, 1))}


def stream_size_figures(manifest: dict, disk: dict, runs: list[dict]) -> dict:
    return {"batches": manifest["batches"], "build_s": manifest["build_s"], "build_cached": manifest["cached"],
            "run_s": median([r["run_s"] for r in runs], 3), "run_s_runs": [r["run_s"] for r in runs],
            "steps_s": {s: median([r["steps_s"][s] for r in runs], 3) for s in RUN_STEPS},
            "mood_drift_s": median([r["mood_drift_s"] for r in runs], 3),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "steps_peak_rss_mb": {s: max(r["steps_peak_rss_mb"][s] for r in runs) for s in RUN_STEPS},
            "first_new_scored_after_change_s": median([r["first_new_scored_after_change_s"] for r in runs], 3),
            "rescored_after_change": runs[-1]["rescored_after_change"],
            "load_avg_1m": [r["load_avg_1m"] for r in runs], **disk}


def run_stream_scale(base: Settings, options: ScaleOptions, sizes: tuple[int, ...]) -> dict:
    """Every stream size's figures and the headline keys (see the module doc)."""
    history = SyntheticHistory(Corpus.from_settings(base), options)
    per_s: dict[str, dict] = {}
    with standin_server() as url:
        shared_base: list[Base] = []
        manifests = {s: ensure_stream(base, options, s, history, url, shared_base) for s in sorted(sizes, reverse=True)}
        for size in sorted(sizes):
            folder = stream_folder(options, size)
            settings = stream_settings(base, folder, url)
            runs = []
            for run in range(options.runs):
                log.info("S=%d: scoring run %d/%d", size, run + 1, options.runs)
                runs.append(measure_stream_run(folder, settings, history, run, options.root / "stream-run"))
            per_s[str(size)] = stream_size_figures(manifests[size], disk_figures(settings, size), runs)
    small, large = per_s[str(min(sizes))], per_s[str(max(sizes))]
    return {"stream_sizes": sorted(sizes),
            "score_run_ratio_10m": round(large["run_s"] / small["run_s"], 2),
            "mood_drift_s_10m": large["mood_drift_s"], "score_peak_rss_mb_10m": large["peak_rss_mb"],
            "first_new_scored_after_change_s": large["first_new_scored_after_change_s"],
            "disk_bytes_per_scored_after_retention": large["disk_bytes_per_scored_after_retention"],
            "build_10m_s": large["build_s"], "stream_build_cached": large["build_cached"], "per_s": per_s}
