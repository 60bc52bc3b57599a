"""``python -m benchmarks.scale.engines [--rows 1000000] [--root DIR]``: candidate engines for the labelled rows
and the vectors, measured on a history `make bench-scale` built (issue 25's comparison; see docs/scale.md).

The history's rows (its labelled Delta table, the version the product reads) and vectors (its Lance cache) are
converted once into each candidate's format under ``<root>/engines/n-<rows>/`` (timed, sizes counted; the vectors
as float16 with the hash as 32 bytes); the history's own table is asked as it is (``labelled``, linked). Then
each question of a cycle runs in a process of its own, ``repeat`` times (``engine_queries.py``): its seconds and
the process's peak RSS. Progress on stderr; the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.options import PROJECT_ROOT
from benchmarks.report import log_progress
from benchmarks.scale.build import history_folder
from benchmarks.scale.engine_queries import ENGINES
from benchmarks.scale.figures import folder_bytes
from benchmarks.scale.options import DEFAULT_SIZES, ScaleOptions
from tweet_sentiment.config import Settings
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.vector_cache import VectorCache

log = logging.getLogger(__name__)
PROBE_HASHES = (1900, 100)  # a batch's texts: known ones, new ones


def _timed(what: str, seconds: dict, work) -> None:
    start = time.perf_counter()
    work()
    seconds[what] = round(time.perf_counter() - start, 1)
    log.info("%s: %.1f s", what, seconds[what])


def _vectors(cache: VectorCache) -> pa.Table:
    """Every vector of the cache's dataset as (hash: 32 bytes, vector: float16 × dim), sorted by hash."""
    return cache.dataset().to_table(columns=["hash", "vector"]).sort_by("hash")


def prepare(settings: Settings, folder: Path) -> dict:
    """Convert the history of ``settings`` into every candidate's format in ``folder``; seconds and bytes."""
    import lance
    from deltalake import write_deltalake

    folder.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    labelled = settings.layout().labelled
    (folder / "labelled").symlink_to(Path(labelled))
    rows = LabelledStore(labelled).rows.query("SELECT * FROM rows ORDER BY text_hash")
    _timed("rows_parquet_compacted", seconds,
           lambda: pq.write_table(rows, folder / "rows.parquet", row_group_size=100_000, compression="zstd"))
    _timed("rows_delta", seconds, lambda: write_deltalake(folder / "rows-delta", rows))
    vectors = _vectors(VectorCache(Path(settings.cache_root), settings.embedding_model))
    _timed("vectors_parquet", seconds,
           lambda: pq.write_table(vectors, folder / "vectors.parquet", row_group_size=10_000, compression="zstd"))

    def lance_with_index() -> None:
        lance.write_dataset(vectors, folder / "vectors.lance").create_scalar_index("hash", "BTREE")
    _timed("vectors_lance", seconds, lance_with_index)
    rng = random.Random(25)
    stored = sorted(set(rows.column("text_hash").to_pylist()))
    known = rng.sample(stored, min(PROBE_HASHES[0], len(stored)))
    new = [hashlib.sha256(f"new {i}".encode()).hexdigest() for i in range(PROBE_HASHES[1])]
    (folder / "probe.json").write_text(json.dumps({"hashes": known + new}))
    sizes = {name: folder_bytes(folder / name) if (folder / name).is_dir() else (folder / name).stat().st_size
             for name in ("rows.parquet", "rows-delta", "vectors.parquet", "vectors.lance")}
    sizes["labelled"] = folder_bytes(Path(labelled))
    return {"prepare_s": seconds, "bytes": sizes, "rows": len(rows), "vectors": len(vectors)}


def ask(engine: str, question: str, folder: Path, repeat: int) -> dict:
    """One question to one engine in a fresh process: median seconds, peak RSS, rows answered."""
    job = {"engine": engine, "query": question, "folder": str(folder), "repeat": repeat}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.scale.engine_queries"], input=json.dumps(job),
                          text=True, capture_output=True, cwd=PROJECT_ROOT, check=False)
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    figures = {"median_s": round(statistics.median(out["seconds"]), 3), "runs_s": out["seconds"],
               "peak_rss_mb": out["peak_rss_mb"], "rss_before_mb": out["rss_before_mb"], "rows": out["rows"]}
    log.info("%s / %s: %s", engine, question, figures)
    return figures


def compare(settings: Settings, folder: Path, repeat: int, engines: list[str]) -> dict:
    """The answers of the ``engines`` candidates (see the module doc)."""
    prepared = folder / "prepared.json"
    if not prepared.exists():
        prepared.write_text(json.dumps(prepare(settings, folder)))
    return {**json.loads(prepared.read_text()),
            "answers": {engine: {q: ask(engine, q, folder, repeat) for q in asked}
                        for engine, (_, asked) in ENGINES.items() if engine in engines}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale.engines")
    parser.add_argument("--rows", type=int, default=max(DEFAULT_SIZES), help="the built history to measure")
    parser.add_argument("--root", type=Path, default=ScaleOptions.root)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", type=lambda text: text.split(","), default=list(ENGINES),
                        help=f"comma-separated, of {', '.join(ENGINES)}")
    args = parser.parse_args(argv)
    log_progress()
    options = ScaleOptions(root=args.root.resolve())
    history = history_folder(options, args.rows)
    if not (history / "manifest.json").exists():
        print(f"error: no built history in {history}: run `make bench-scale` first", file=sys.stderr)
        return 2
    settings = dataclasses.replace(Settings.from_env(), data_root=str(history / "data"),
                                   cache_root=str(history / "cache"))
    print(json.dumps(compare(settings, options.root / "engines" / f"n-{args.rows}", args.repeat,
                             args.engines)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
