"""One function per DAG task: the glue between ingest, embeddings, training, evaluation and the registry.

Each takes the Settings and small JSON-able arguments and returns a small JSON-able dict (an XCom), so the
DAG only wires them and every step can be run and tested without Airflow.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from tweet_sentiment.config import Settings
from tweet_sentiment.embeddings import InfinityClient
from tweet_sentiment.evaluation import evaluate, promotion_decision
from tweet_sentiment.features import current_schema, feature_matrix, fit_schema, warm_cache
from tweet_sentiment.ingest import claim, claim_lock, ingest_batch, parse_labelled_file, ready_files
from tweet_sentiment.registry import ChampionUnavailableError, ModelRegistry
from tweet_sentiment.schema import LABEL_TO_ID, FeatureSchema
from tweet_sentiment.storage import DataLayout, list_dir, move, remove_empty_dir, write_json_atomic
from tweet_sentiment.store import LabelledStore
from tweet_sentiment.training import BoostingParams, continue_boosting, train_fresh, validation_mask

log = logging.getLogger(__name__)
STRATEGIES = ("continue", "refit")


@dataclass(frozen=True)
class RunOptions:
    """The per-run choices a person can make when triggering the DAG (its Params)."""

    strategy: str = "continue"
    replay_rows: int = 2000
    min_improvement: float = 0.001
    force_promote: bool = False
    max_raw_score: float = 50.0
    boosting: BoostingParams = field(default_factory=BoostingParams)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, not {self.strategy!r}")

    @classmethod
    def from_params(cls, params: dict) -> RunOptions:
        """Build from the DAG's Params (unknown keys are ignored, missing ones take the defaults)."""
        d, b = cls(), BoostingParams()
        boosting = BoostingParams(
            num_boost_round=int(params.get("num_boost_round", b.num_boost_round)),
            learning_rate=float(params.get("learning_rate", b.learning_rate)),
            continue_rounds=int(params.get("continue_rounds", b.continue_rounds)),
            continue_learning_rate=float(params.get("continue_learning_rate", b.continue_learning_rate)),
        )
        return cls(strategy=str(params.get("strategy", d.strategy)),
                   replay_rows=int(params.get("replay_rows", d.replay_rows)),
                   min_improvement=float(params.get("min_improvement", d.min_improvement)),
                   force_promote=bool(params.get("force_promote", d.force_promote)),
                   boosting=boosting)


def layout_for(settings: Settings) -> DataLayout:
    """The data layout the settings name (data root and feature cache)."""
    return DataLayout(settings.data_root, settings.cache_root or None)


def infinity_client(settings: Settings) -> InfinityClient:
    """The infinity client the settings describe (URL, model, key, batching, retries)."""
    return InfinityClient(settings.infinity_url, settings.embedding_model, settings.infinity_api_key,
                          settings.embed_batch_size, settings.embed_concurrency, settings.embed_timeout_s,
                          settings.embed_retries, settings.embed_backoff_s)


def _schema(settings: Settings, client: InfinityClient) -> FeatureSchema:
    dim = client.embed(["dimension probe"]).shape[1]
    return current_schema(settings.embedding_model, dim)


def holdout(settings: Settings) -> tuple[list[str], np.ndarray]:
    """The fixed holdout (the official test split), cleaned the way training rows are."""
    path = settings.holdout_file
    parsed = parse_labelled_file(path.name, path.read_bytes(), settings.max_text_chars)
    return [r["text"] for r in parsed.rows], np.array([LABEL_TO_ID[r["label"]] for r in parsed.rows])


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return frame["label"].map(LABEL_TO_ID).to_numpy()


def _champion(registry: ModelRegistry, tolerate_broken: bool) -> tuple | None:
    """The champion, or None if there is none (or, when tolerated, if it cannot be loaded: a recovery refit)."""
    try:
        return registry.champion()
    except ChampionUnavailableError:
        if not tolerate_broken:
            raise
        log.exception("champion unreadable; continuing without it")
        return None


def inbox_has_files(settings: Settings) -> bool:
    """Sensor: are there complete files in the inbox (or claimed files a failed run left behind)?"""
    layout = layout_for(settings)
    return bool(ready_files(layout.inbox, settings.file_settle_s)) or bool(list_dir(layout.processing))


def claim_and_ingest(settings: Settings, batch_id: str) -> dict:
    """Claim the inbox files for this run, then validate, clean, de-duplicate and store them."""
    layout = layout_for(settings)
    layout.ensure()
    with claim_lock(layout):
        files = claim(layout, batch_id, settings.file_settle_s)
        log.info("claimed %d file(s) for %s: %s", len(files), batch_id, files)
        return ingest_batch(layout, batch_id, settings.max_text_chars, int(settings.max_file_mb * 2**20))


def embed_batch(settings: Settings, batch_id: str) -> dict:
    """Compute (or find cached) the features of the batch's accepted rows and of the holdout."""
    layout = layout_for(settings)
    store = LabelledStore(layout.labelled)
    texts = store.read_batch(batch_id, ["text"])["text"].tolist() if store.has_batch(batch_id) else []
    start = time.perf_counter()
    with infinity_client(settings) as client:
        schema = _schema(settings, client)
        holdout_texts, _ = holdout(settings)
        for chunk in (texts, holdout_texts):
            if chunk:
                warm_cache(chunk, schema, client, layout.embeddings)
    seconds = time.perf_counter() - start
    return {"batch_id": batch_id, "rows": len(texts), "seconds": round(seconds, 2)}


def train_challenger(settings: Settings, batch_id: str, options: RunOptions) -> dict:
    """Train a challenger: continue boosting the champion on new + replayed rows, or refit on all rows.

    A fresh model is trained instead when there is no champion or its feature schema is not the current one.
    """
    layout = layout_for(settings)
    store = LabelledStore(layout.labelled)
    registry = ModelRegistry(layout.registry)
    refit = options.strategy == "refit"
    if not store.has_batch(batch_id) and not (refit and store.batch_ids()):
        return {"version": None, "reason": "no accepted rows in this batch"}
    with infinity_client(settings) as client:
        design = _schema(settings, client)
        champion = _champion(registry, tolerate_broken=refit)
        strategy, note = options.strategy, ""
        if champion is None:
            strategy, note = "refit", "no champion: trained from scratch"
        elif FeatureSchema.from_dict(champion[2]["feature_schema"]).design() != design:
            strategy, note = "refit", "feature schema changed: trained from scratch"
        new_rows = store.read_batch(batch_id) if store.has_batch(batch_id) else store.read_all().iloc[:0]
        if strategy == "continue":
            older = store.read_all(exclude={batch_id})
            replay = older.sample(n=min(options.replay_rows, len(older)), random_state=settings.seed)
            rows = pd.concat([new_rows, replay], ignore_index=True)
            schema = FeatureSchema.from_dict(champion[2]["feature_schema"])
        else:
            rows = store.read_all()
        valid = validation_mask(rows["text_hash"].tolist(), options.boosting.validation_fraction)
        texts = rows["text"].tolist()
        if strategy == "continue":
            features = feature_matrix(texts, schema, client, layout.embeddings)
            result = continue_boosting(champion[1], features, _labels(rows), options.boosting, valid)
            batches = [*champion[2]["batches"], batch_id]
        else:
            schema = fit_schema(design, [t for t, v in zip(texts, valid, strict=True) if not v], client,
                                layout.embeddings)
            features = feature_matrix(texts, schema, client, layout.embeddings)
            result = train_fresh(features, _labels(rows), options.boosting, valid)
            batches = store.batch_ids()
    card = {
        "status": "candidate", "strategy": strategy, "note": note,
        "parent": champion[0] if champion and strategy == "continue" else None,
        "champion_at_training": champion[0] if champion else None,
        "batch_id": batch_id, "batches": batches, "rows_trained": len(rows), "new_rows": len(new_rows),
        "params": options.boosting.to_dict(), "feature_schema": schema.to_dict(),
        "train_s": round(result.train_s, 3), "num_trees": result.booster.num_trees(),
        "rounds_added": result.rounds_added, "validation_rows": int(valid.sum()),
        "validation_macro_f1": result.validation_macro_f1,
    }
    version = registry.save(result.booster, card)
    log.info("challenger %s: %s on %d rows in %.1f s", version, strategy, len(rows), result.train_s)
    return {"version": version, "strategy": strategy, "train_s": card["train_s"], "rows_trained": len(rows),
            "validation_macro_f1": result.validation_macro_f1}


def evaluate_challenger(settings: Settings, challenger: dict, options: RunOptions) -> dict:
    """Evaluate challenger and champion on the holdout and decide whether to promote."""
    layout = layout_for(settings)
    registry = ModelRegistry(layout.registry)
    version = challenger.get("version")
    champion = _champion(registry, tolerate_broken=True)
    texts, labels = holdout(settings)
    metrics: dict[str, dict | None] = {"challenger": None, "champion": None}
    with infinity_client(settings) as client:
        for role, model in (("challenger", version), ("champion", champion[0] if champion else None)):
            if model is None:
                continue
            booster, card = registry.load(model), registry.card(model)
            schema = FeatureSchema.from_dict(card["feature_schema"])
            metrics[role] = evaluate(booster, feature_matrix(texts, schema, client, layout.embeddings), labels)
    if version:
        registry.update_card(version, metrics=metrics["challenger"])
    promote, reason = promotion_decision(metrics["challenger"], metrics["champion"], options.min_improvement,
                                         options.force_promote, options.max_raw_score)
    # the pointer as read now (even when its model is broken): promotion checks that it has not moved since
    return {"version": version, "champion": registry.champion_version(), "promote": promote,
            "reason": reason, "challenger_metrics": metrics["challenger"], "champion_metrics": metrics["champion"]}


def promote_challenger(settings: Settings, evaluation: dict) -> dict:
    """Switch the champion pointer to the challenger, unless another run changed the champion meanwhile."""
    registry = ModelRegistry(layout_for(settings).registry)
    version = evaluation["version"]
    if registry.champion_version() == version:  # a re-run of a promotion that went through
        return {"version": version, "promoted": True, "reason": evaluation["reason"]}
    if registry.champion_version() != evaluation["champion"]:
        reason = (f"champion changed during the run ({evaluation['champion']} → {registry.champion_version()}); "
                  "not promoted")
        registry.reject(version, reason)
        return {"version": version, "promoted": False, "reason": reason}
    registry.promote(version, evaluation["reason"])
    return {"version": version, "promoted": True, "reason": evaluation["reason"]}


def keep_champion(settings: Settings, evaluation: dict) -> dict:
    """Record the challenger (if any) as rejected, with the reason; the champion stays."""
    if evaluation["version"]:
        ModelRegistry(layout_for(settings).registry).reject(evaluation["version"], evaluation["reason"])
    return {"version": evaluation["version"], "promoted": False, "reason": evaluation["reason"]}


def archive_batch(settings: Settings, batch_id: str, report: dict) -> dict:
    """Move the claimed files to ``archive/<date>/<batch_id>/`` and write the run report."""
    layout = layout_for(settings)
    source = layout.processing / batch_id
    target = layout.archive / f"{datetime.now(UTC):%Y-%m-%d}" / batch_id
    files = list_dir(source)
    for path in files:
        move(path, target / path.name)
    if source.exists():
        remove_empty_dir(source)
    write_json_atomic(layout.reports / "runs" / f"{batch_id}.json", {**report, "archived": [p.name for p in files]})
    return {"batch_id": batch_id, "archived": len(files), "to": str(target)}


def run_cycle(settings: Settings, batch_id: str, options: RunOptions) -> dict:
    """The whole DAG run in one process (bootstrap, benchmarks): the same functions in the same order."""
    timings: dict[str, float] = {}

    def timed(name: str, fn, *args):
        start = time.perf_counter()
        result = fn(*args)
        timings[name] = round(time.perf_counter() - start, 3)
        return result

    ledger = timed("claim_and_ingest", claim_and_ingest, settings, batch_id)
    timed("embed", embed_batch, settings, batch_id)
    challenger = timed("train", train_challenger, settings, batch_id, options)
    evaluation = timed("evaluate", evaluate_challenger, settings, challenger, options)
    decide = promote_challenger if evaluation["promote"] else keep_champion
    decision = timed("decide", decide, settings, evaluation)
    report = {"ledger": ledger, "challenger": challenger, "evaluation": evaluation, "decision": decision,
              "timings_s": timings}
    archive_batch(settings, batch_id, report)
    return report
