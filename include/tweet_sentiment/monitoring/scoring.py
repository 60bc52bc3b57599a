"""The unlabelled stream scored by one champion, on the stream's tables (``storage/scored_stream.py``).

A run pins one champion and scores with it alone: first every batch no version has scored (new tweets), then
the batches another version scored last (a promotion, a rollback), newest first, at most ``rescore_rows`` rows
per run (a bounded chunk: the rest waits for the next runs, so a champion change never holds new tweets back).
Each chunk is committed as it is done: its scores, its share of the mood's counts and word counts, then the
manifest naming the batches scored by the version. A run's work is planned as partitions of about as many rows
(``plan_partitions``), which the scoring DAG maps over its workers, each through its own infinity replica; a
partition's retry skips the batches its first try committed. New texts are embedded through infinity once; their vectors
are kept in the stream's own ``vectors`` table (never in the training side's feature cache), so re-scoring
embeds nothing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from tweet_sentiment.config import Settings
from tweet_sentiment.model.features import embed_cached, features_of, lexicon_features, lexicon_namespace
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.registry import Champion
from tweet_sentiment.monitoring.mood import count_rows, count_words
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.fs import DataLayout, read_json, write_json_atomic
from tweet_sentiment.storage.scored_stream import (
    PROBABILITY_COLUMNS,
    ScoredStream,
    batch_predicate,
    vector_bytes,
    vector_matrix,
)
from tweet_sentiment.storage.vector_cache import MemoryVectorCache

_LOG_KEEP = 200


def stream_inputs(tables: ScoredStream, rows: pd.DataFrame, champion: Champion,
                  client: InfinityClient) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """(embeddings, lexicon features, the ``vectors`` rows to write: empty when every row's were stored) of
    ``rows`` (of the ``rows`` table); texts without a stored vector are embedded through infinity, in memory
    only."""
    schema, lexicon_set = champion.schema, lexicon_namespace(champion.schema)
    stored = tables.read_vectors(sorted(rows["batch_id"].unique()))
    merged = rows.loc[:, ["batch_id", "seq", "text"]].merge(stored, on=["batch_id", "seq"], how="left")
    embed = merged["embedding"].isna().to_numpy()
    relex = embed | (merged["lexicon_set"] != lexicon_set).to_numpy()
    embeddings = np.zeros((len(merged), schema.embedding_dim), dtype=np.float32)
    if (~embed).any():
        embeddings[~embed] = vector_matrix(merged.loc[~embed, "embedding"].tolist())
    if embed.any():
        embeddings[embed] = embed_cached(merged.loc[embed, "text"].tolist(), client,
                                         MemoryVectorCache(schema.embedding_model), schema.embedding_dim)
    lexicon = np.zeros((len(merged), len(schema.lexicon_features)), dtype=np.float32)
    if (~relex).any():
        lexicon[~relex] = vector_matrix(merged.loc[~relex, "lexicon"].tolist())
    if relex.any():
        lexicon[relex] = lexicon_features(merged.loc[relex, "text"].tolist(), schema.lexicon_features)
    if not relex.any():
        return embeddings, lexicon, merged.iloc[:0]
    return embeddings, lexicon, pd.DataFrame({"batch_id": merged["batch_id"], "seq": merged["seq"],
                                              "embedding": vector_bytes(embeddings),
                                              "lexicon": vector_bytes(lexicon), "lexicon_set": lexicon_set})


def predict(champion: Champion, texts: list[str], embeddings: np.ndarray, lexicon: np.ndarray) -> np.ndarray:
    """The champion's class probabilities from stored inputs (no embedding, no cache)."""
    return champion.booster.predict(features_of(texts, champion.schema, embeddings, lexicon), num_threads=0)


def score_frame(rows: pd.DataFrame, probabilities: np.ndarray, version: str) -> pd.DataFrame:
    """The ``scores`` rows of ``rows`` from their class probabilities."""
    out = rows.loc[:, ["batch_id", "seq"]].reset_index(drop=True)
    out["champion_version"] = version
    out["label"] = np.asarray(LABELS, dtype=object)[probabilities.argmax(axis=1)]
    out["confidence"] = probabilities.max(axis=1).astype(np.float32)
    for i, column in enumerate(PROBABILITY_COLUMNS):
        out[column] = probabilities[:, i].astype(np.float32)
    out["scored_at"] = datetime.now(UTC)
    return out


def score_batches(tables: ScoredStream, batch_ids: list[str], champion: Champion, client: InfinityClient) -> int:
    """Score these batches with ``champion`` and commit scores, counts, word counts, then the manifest; rows."""
    rows = tables.read_rows(batch_ids, ["batch_id", "seq", "text", "tweet_at", "dated_by", "annotated",
                                        "arrived_at"])
    probabilities, vectors = np.zeros((0, len(LABELS))), pd.DataFrame()
    if len(rows):
        embeddings, lexicon, vectors = stream_inputs(tables, rows, champion, client)
        probabilities = predict(champion, rows["text"].tolist(), embeddings, lexicon)
    scores = score_frame(rows, probabilities, champion.version)
    tables.write_scores(batch_ids, champion.version, {"scores": scores, "vectors": vectors,
                                                      "counts": count_rows(rows, scores),
                                                      "words": count_words(rows, scores)})
    return len(rows)


def chunks(batches: pd.DataFrame, chunk_rows: int) -> list[list[str]]:
    """Batch ids in order, grouped so that each group holds about ``chunk_rows`` rows (a batch is never split)."""
    groups: list[list[str]] = [[]]
    held = 0
    for batch_id, n in zip(batches["batch_id"], batches["rows"], strict=True):
        if groups[-1] and held + n > chunk_rows:
            groups.append([])
            held = 0
        groups[-1].append(batch_id)
        held += int(n)
    return [g for g in groups if g]


def _bounded(stale: pd.DataFrame, rescore_rows: int) -> pd.DataFrame:
    """The newest stale batches holding at most ``rescore_rows`` rows (at least one batch)."""
    within = stale["rows"].cumsum() <= max(rescore_rows, 1)
    within.iloc[:1] = True
    return stale[within]


def _deal(batches: pd.DataFrame, shares: list[dict], key: str) -> None:
    """Give each batch (newest first) to the share holding the fewest of its ``key`` rows so far."""
    held = [0] * len(shares)
    for batch_id, n in zip(batches["batch_id"], batches["rows"], strict=True):
        i = held.index(min(held))
        shares[i][key].append([batch_id, int(n)])
        held[i] += int(n)


def plan_partitions(tables: ScoredStream, version: str, partitions: int = 1, rescore_all: bool = False,
                    rescore_rows: int = 200_000) -> list[dict]:
    """A scoring run's work for ``version`` in ``partitions`` shares of about as many rows (at least one, maybe
    empty): each lists its ``new`` batches (no version scored them) and its ``stale`` ones (another version did:
    at most ``rescore_rows`` rows in all, newest first; every live batch with ``rescore_all``) as [batch, rows];
    with what the run's record needs (where the stream stood, what re-scoring is left, when it was planned)."""
    new, stale = tables.to_score(version)
    if rescore_all:
        stale = tables.live_batches().iloc[::-1]
        stale = stale[~stale["batch_id"].isin(new["batch_id"])].loc[:, ["batch_id", "rows"]]
    todo = stale if rescore_all else _bounded(stale, rescore_rows) if len(stale) else stale
    common = {"version": version, "planned_at": datetime.now(UTC).isoformat(), "frontier": _frontier(tables),
              "rescore_pending_batches": len(stale) - len(todo),
              "rescore_pending_rows": int(stale["rows"].sum()) - int(todo["rows"].sum())}
    shares = [{"index": i, **common, "new": [], "stale": []} for i in range(max(partitions, 1))]
    _deal(new, shares, "new")
    _deal(todo, shares, "stale")
    return shares


def _left(tables: ScoredStream, partition: dict, key: str) -> pd.DataFrame:
    """The partition's ``key`` batches the version has not scored since the plan (a retried task skips those
    its first try committed)."""
    batches = pd.DataFrame(partition[key], columns=["batch_id", "rows"])
    if not len(batches):
        return batches
    done = tables.query(f"SELECT DISTINCT batch_id FROM scored WHERE {batch_predicate(batches['batch_id'].tolist())} "
                        "AND champion_version = ? AND scored_at >= ?::TIMESTAMPTZ", ["scored"],
                        [partition["version"], partition["planned_at"]])["batch_id"]
    return batches[~batches["batch_id"].isin(set(done))]


def score_partition(tables: ScoredStream, partition: dict, champion: Champion, client: InfinityClient,
                    chunk_rows: int) -> dict:
    """Score a partition's new batches, then its stale ones, with its pinned champion, committing chunk by chunk
    (scores, counts, then the manifest): a task that dies and retries scores only what is not committed, so each
    row is scored once per plan. Its figures."""
    if champion.version != partition["version"]:
        raise ValueError(f"partition {partition['index']} was planned for {partition['version']}, "
                         f"not {champion.version}")
    start = time.perf_counter()
    first: list[float] = []
    scored = 0
    for group in chunks(new := _left(tables, partition, "new"), chunk_rows):
        scored += score_batches(tables, group, champion, client)
        first = first or [time.perf_counter() - start]
    scored_s = time.perf_counter() - start
    rescored = 0
    for group in chunks(stale := _left(tables, partition, "stale"), chunk_rows):
        rescored += score_batches(tables, group, champion, client)
    planned = partition["new"] + partition["stale"]
    skipped = len(planned) - len(new) - len(stale)
    skipped_rows = sum(n for _, n in planned) - int(new["rows"].sum()) - int(stale["rows"].sum())
    return {"index": partition["index"], "scored_rows": scored, "rescored_rows": rescored,
            "already_scored_batches": skipped, "already_scored_rows": skipped_rows, "scored_s": round(scored_s, 3),
            "rescored_s": round(time.perf_counter() - start - scored_s, 3),
            "first_new_scored_s": round(first[0], 3) if first else None}


def finish_scoring(layout: DataLayout, partitions: list[dict], results: list[dict]) -> dict:
    """The run's record from its plan and its partitions' figures (appended to ``mood/scoring_log.json`` when it
    scored something: where the stream stood when a version took over)."""
    plan = partitions[0]
    firsts = [r["first_new_scored_s"] for r in results if r["first_new_scored_s"] is not None]
    record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "version": plan["version"],
              "frontier": plan["frontier"], "scored_batches": sum(len(p["new"]) for p in partitions),
              "scored_rows": sum(r["scored_rows"] for r in results),
              "rescored_batches": sum(len(p["stale"]) for p in partitions),
              "rescored_rows": sum(r["rescored_rows"] for r in results),
              "already_scored_rows": sum(r["already_scored_rows"] for r in results),  # by a retried task's first try
              "rescore_pending_batches": plan["rescore_pending_batches"],
              "rescore_pending_rows": plan["rescore_pending_rows"]}
    if record["scored_batches"] or record["rescored_batches"]:
        _append_log(layout, record)
    return {**record, "partitions": len(partitions), "scored_s": max(r["scored_s"] for r in results),
            "rescored_s": max(r["rescored_s"] for r in results), "first_new_scored_s": min(firsts, default=None)}


def score_stream(layout: DataLayout, champion: Champion, client: InfinityClient, rescore_all: bool = False,
                 rescore_rows: int = Settings.rescore_rows, chunk_rows: int = Settings.score_chunk_rows,
                 partitions: int = 1) -> dict:
    """Score the new batches, then re-score at most ``rescore_rows`` rows of those another version scored last,
    newest first (every live batch with ``rescore_all``, however many), in this process (the scoring DAG maps
    the partitions over its workers); the run's record (see :func:`finish_scoring`)."""
    tables = ScoredStream(layout.stream)
    plan = plan_partitions(tables, champion.version, partitions, rescore_all, rescore_rows)
    return finish_scoring(layout, plan, [score_partition(tables, p, champion, client, chunk_rows) for p in plan])


def _frontier(tables: ScoredStream) -> str | None:
    """The latest tweet time scored so far (ISO), None before the first batch."""
    found = tables.query("SELECT max(last_tweet_at) AS t FROM batches WHERE batch_id IN (SELECT batch_id FROM "
                         "scored)", ["batches", "scored"])["t"]
    return None if found.isna().all() else pd.Timestamp(found.iloc[0]).isoformat()


def scoring_log(layout: DataLayout) -> list[dict]:
    """Every scoring run that scored or re-scored something, oldest first."""
    path = layout.mood / "scoring_log.json"
    return read_json(path) if path.exists() else []


def _append_log(layout: DataLayout, record: dict) -> None:
    write_json_atomic(layout.mood / "scoring_log.json", [*scoring_log(layout), record][-_LOG_KEEP:])


def read_scores(layout: DataLayout, batch_ids: list[str] | None = None) -> pd.DataFrame:
    """The live rows with their current scores (of these batches, else every live one: for tests and small
    streams; the DAG reads by batch), in arrival order."""
    tables = ScoredStream(layout.stream)
    ids = batch_ids if batch_ids is not None else tables.live_batches()["batch_id"].tolist()
    if not ids:
        return tables.read_rows([])
    return tables.query(f"SELECT r.*, s.* EXCLUDE (batch_id, seq) FROM rows r JOIN scores s USING (batch_id, seq) "
                        f"WHERE {batch_predicate(ids)} ORDER BY r.arrived_at, r.batch_id, r.seq", ["rows", "scores"])
