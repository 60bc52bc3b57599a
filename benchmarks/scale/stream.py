"""The scored stream at scale (issue 27): a stream of S scored tweets built once under ``<root>/stream/s-<S>/``.

The stream's tweets are dated over the dataset's 30 days (16 March – 14 April 2020), in arrival order, in
batches of 2,000 that arrived over the 30 days before the build. A base of 100,000 synthetic texts (the labelled
bench's texts, ``synthetic.py``; fewer for a stream under 100,000) is scored once by the champion of the smallest
labelled history (stand-in vectors, real lexicon features, computed once into ``<root>/stream/lexicon``); it is tiled:
batch ``k`` holds base batch ``k % 50``'s texts, each made unique by a suffix, with the base's scores, vectors and
word counts. The tables are written in bulk (100 batches a commit) by the product's writers (``ScoredStream``'s
tables and schemas, the mood's ``count_rows``), as a stream left by months of scoring runs and its housekeeping
would be: retention has passed for every batch but the newest ``RETAINED`` of arrivals and the first (the drift
reference), so only those keep texts, vectors and per-tweet scores; the others keep their counts and hashes.
The build ends as the daily housekeeping leaves the tables (compacted, checkpointed, vacuumed); ``manifest.json``
is written last.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from benchmarks.scale.build import ensure_history, history_folder
from benchmarks.scale.options import ScaleOptions
from benchmarks.scale.standin import standin_vectors
from benchmarks.scale.synthetic import SyntheticHistory
from tweet_sentiment.config import Settings
from tweet_sentiment.model.features import features_of, lexicon_features, lexicon_namespace, word_tokens
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.monitoring.mood import count_rows
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.fs import read_json, write_json_atomic
from tweet_sentiment.storage.scored_stream import (
    PROBABILITY_COLUMNS,
    SCHEMAS,
    ScoredStream,
    seen_keys,
    vector_bytes,
)
from tweet_sentiment.storage.vector_cache import VectorCache

log = logging.getLogger(__name__)
STREAM_SIZES = (100_000, 1_000_000, 10_000_000)
BASE_BATCHES = 50
SPAN = timedelta(days=30)
RETAINED = timedelta(days=2)
FIRST_TWEET = datetime(2020, 3, 16, tzinfo=UTC)
CHUNK_BATCHES = 100


def stream_folder(options: ScaleOptions, size: int) -> Path:
    return options.root / "stream" / f"s-{size}"


def stream_settings(base: Settings, folder: Path, infinity_url: str) -> Settings:
    return dataclasses.replace(base, data_root=str(folder / "data"), cache_root=str(folder / "cache"),
                               infinity_url=infinity_url, file_settle_s=0.0,
                               stream_retention_days=RETAINED / timedelta(days=1))


class Base:
    """The base texts with the champion's answers, vectors, lexicon features and word counts per base batch."""

    def __init__(self, history: SyntheticHistory, options: ScaleOptions, registry: ModelRegistry,
                 batches: int) -> None:
        champion = registry.champion()
        self.version, self.batches, rows = champion.version, batches, options.batch_rows
        self.texts = [t for b in range(batches) for t, _ in (history.fresh(b, i) for i in range(rows))]
        self.embeddings = standin_vectors(self.texts)
        self.lexicon_set = lexicon_namespace(champion.schema)
        cache = VectorCache(options.root / "stream" / "lexicon", self.lexicon_set)  # computed once, kept
        self.lexicon = cache.get_or_compute(self.texts, lambda todo: lexicon_features(
            todo, champion.schema.lexicon_features)).astype(np.float32)
        self.probabilities = champion.booster.predict(
            features_of(self.texts, champion.schema, self.embeddings, self.lexicon), num_threads=0)
        self.labels = np.asarray(LABELS, dtype=object)[self.probabilities.argmax(axis=1)]
        self.offsets = np.random.default_rng(options.seed).random(len(self.texts))
        self.words = [self._words(b * rows, (b + 1) * rows) for b in range(batches)]

    def _words(self, start: int, end: int) -> pd.DataFrame:
        frame = pd.DataFrame({"label": self.labels[start:end], "word": word_tokens(self.texts[start:end])})
        return frame.explode("word").dropna().groupby(["label", "word"]).size().rename("n").reset_index()


class StreamLayout:
    """When each batch of a stream of ``batches`` batches arrived and which keep their texts."""

    def __init__(self, batches: int, built_at: datetime) -> None:
        self.batches, self.built_at = batches, built_at
        self.every = SPAN / batches

    def arrived(self, k: int) -> datetime:
        return self.built_at - SPAN + (k + 1) * self.every

    def kept(self, k: int) -> bool:
        return k == 0 or self.arrived(k) >= self.built_at - RETAINED

    def tweet_at(self, k: int, offsets: np.ndarray) -> pd.Series:
        return pd.Series(pd.Timestamp(FIRST_TWEET) + (k + offsets) * pd.Timedelta(self.every))


def batch_name(k: int) -> str:
    return f"stream-{k:07d}"


def _batch_frames(base: Base, when: StreamLayout, k: int, rows: int) -> dict[str, pd.DataFrame]:
    """The tables' rows of batch ``k`` (those of a batch past retention: counts, words, hashes, manifests)."""
    j, bid = k % base.batches, batch_name(k)
    span = slice(j * rows, (j + 1) * rows)
    texts = [f"{t} ~{k}" for t in base.texts[span]]
    tweet_at, arrived = when.tweet_at(k, base.offsets[span]), pd.Timestamp(when.arrived(k))
    rows_frame = pd.DataFrame({"batch_id": bid, "seq": np.arange(rows), "text": texts, "tweet_at": tweet_at,
                               "dated_by": "tweet time", "annotated": "", "arrived_at": arrived})
    scores = pd.DataFrame({"batch_id": bid, "seq": np.arange(rows), "champion_version": base.version,
                           "label": base.labels[span], "confidence": base.probabilities[span].max(axis=1),
                           **{c: base.probabilities[span, i] for i, c in enumerate(PROBABILITY_COLUMNS)},
                           "scored_at": pd.Timestamp(when.built_at)})
    hashes = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    frames = {"seen": pd.DataFrame({"batch_id": bid, **seen_keys(hashes)}),
              "counts": count_rows(rows_frame, scores),
              "words": base.words[j].assign(batch_id=bid, champion_version=base.version,
                                            hour=tweet_at.iloc[0].floor("h")),
              "batches": pd.DataFrame([{"batch_id": bid, "rows": rows, "arrived_at": arrived, "stored": True,
                                        "first_tweet_at": tweet_at.min(), "last_tweet_at": tweet_at.max(),
                                        "registered_at": arrived}]),
              "scored": pd.DataFrame([{"batch_id": bid, "champion_version": base.version, "rows": rows,
                                       "scored_at": arrived}])}
    if when.kept(k):
        frames["rows"] = rows_frame.assign(text_hash=hashes, raw_text=texts, source_file=f"{bid}.csv",
                                           source_row=np.arange(2, rows + 2))
        frames["scores"] = scores
        frames["vectors"] = pd.DataFrame({"batch_id": bid, "seq": np.arange(rows),
                                          "embedding": vector_bytes(base.embeddings[span]),
                                          "lexicon": vector_bytes(base.lexicon[span]),
                                          "lexicon_set": base.lexicon_set})
    else:
        frames["expired"] = pd.DataFrame([{"batch_id": bid, "rows": rows, "expired_at": pd.Timestamp(when.built_at)}])
    return frames


def _write_chunk(tables: ScoredStream, parts: list[dict[str, pd.DataFrame]]) -> None:
    for name, schema in SCHEMAS.items():
        frames = [p[name] for p in parts if name in p]
        if frames:
            frame = pd.concat(frames, ignore_index=True)
            tables.tables[name].append(pa.Table.from_pandas(frame.loc[:, schema.names], preserve_index=False))


def build_stream(settings: Settings, base: Base, size: int, rows: int) -> None:
    """Write the stream's tables under ``settings``' data root (see the module's docstring), with progress."""
    batches = size // rows
    when = StreamLayout(batches, datetime.now(UTC))
    tables = ScoredStream(settings.layout().stream)
    start = time.perf_counter()
    for first in range(0, batches, CHUNK_BATCHES):
        _write_chunk(tables, [_batch_frames(base, when, k, rows)
                              for k in range(first, min(first + CHUNK_BATCHES, batches))])
        done = min(first + CHUNK_BATCHES, batches)
        log.info("stream S=%d: %d/%d batches written (%.0f s)", size, done, batches, time.perf_counter() - start)
    housekeep_stream(tables, size)


def housekeep_stream(tables: ScoredStream, size: int) -> None:
    """Leave the tables as the daily housekeeping does (its steady state, whatever the stream's size): compacted,
    checkpointed, the replaced files and old log entries removed (the bulk build leaves a file and a log entry per
    commit: 50 of each per table at 10M, one at 100k, which every open of a table would replay)."""
    start = time.perf_counter()
    done = tables.maintain(0.0)
    log.info("stream S=%d: housekept in %.0f s: %s", size, time.perf_counter() - start,
             {name: (d["files_removed"], d["files_added"]) for name, d in done.items()})


def ensure_stream(base_settings: Settings, options: ScaleOptions, size: int, history: SyntheticHistory,
                  infinity_url: str, base: list[Base]) -> dict:
    """The stream of ``size`` scored tweets, built unless a finished build is cached; its manifest."""
    folder = stream_folder(options, size)
    manifest = folder / "manifest.json"
    if manifest.exists():
        return {**read_json(manifest), "cached": True}
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    champion_home = history_folder(options, min(options.sizes))
    labelled = ensure_history(base_settings, options, min(options.sizes), history.corpus, infinity_url)
    settings = stream_settings(base_settings, folder, infinity_url)
    settings.layout().ensure()
    shutil.copytree(champion_home / "data" / "registry", settings.layout().registry, dirs_exist_ok=True)
    for state in (champion_home / "data").glob("state.sqlite*"):  # the registry's index and champion pointer
        shutil.copy2(state, Path(settings.data_root) / state.name)
    if not base:  # built once per bench run, on the first (largest) stream
        batches = min(BASE_BATCHES, size // options.batch_rows)
        log.info("scoring the %d base texts with the champion", batches * options.batch_rows)
        base.append(Base(history, options, ModelRegistry.of(settings), batches))
    build_stream(settings, base[0], size, options.batch_rows)
    info = {"size": size, "batches": size // options.batch_rows, "build_s": round(time.perf_counter() - start, 1),
            "champion_from": labelled.get("batches"), "built_at": datetime.now(UTC).isoformat()}
    write_json_atomic(manifest, info)
    return {**info, "cached": False}
