"""One function per DAG task: the glue between the settings and the modules that do the work.

Each takes the Settings and small JSON-able arguments and returns a small JSON-able dict (an XCom) holding the
``seconds`` it took, so the DAG only wires them and every step runs and is tested without Airflow. Nothing but the
DAG and :func:`run_cycle` (the same steps in one process) should import this module.
"""

from __future__ import annotations

import logging

from tweet_sentiment import challenger
from tweet_sentiment.assets import champion_event
from tweet_sentiment.claim import archive_claimed, claim, claim_lock
from tweet_sentiment.config import Settings
from tweet_sentiment.datafs import write_json_atomic
from tweet_sentiment.evaluation import evaluate, promotion_decision
from tweet_sentiment.features import current_schema, feature_matrix, warm_cache
from tweet_sentiment.infinity import InfinityClient
from tweet_sentiment.ingest import ingest_batch
from tweet_sentiment.labelled_store import LabelledStore
from tweet_sentiment.registry import Champion, ChampionUnavailableError, ModelRegistry
from tweet_sentiment.run_options import RunOptions
from tweet_sentiment.schema import FeatureSchema, RunReport
from tweet_sentiment.services import fixed_holdout, infinity_client
from tweet_sentiment.timing import timed as _timed
from tweet_sentiment.work import Work, pending_work

log = logging.getLogger(__name__)


def _design(settings: Settings, client: InfinityClient) -> FeatureSchema:
    """The feature schema the code builds, with the embedding width the server answers with."""
    return current_schema(settings.embedding_model, client.embed(["dimension probe"]).shape[1])


def _champion(registry: ModelRegistry, tolerate_broken: bool) -> Champion | None:
    """The champion, or None if there is none (or, when tolerated, if it cannot be loaded: a recovery refit)."""
    try:
        return registry.champion()
    except ChampionUnavailableError:
        if not tolerate_broken:
            raise
        log.exception("champion unreadable; continuing without it")
        return None


def sense_inbox(settings: Settings, options: RunOptions, waited_s: float) -> Work:
    """Sensor: go (new files, a failed run's files, a refit on the store), wait briefly, or skip with the reason."""
    return pending_work(settings.layout(), settings.file_settle_s, options.strategy, waited_s, settings.sensor_wait_s)


@_timed
def claim_and_ingest(settings: Settings, batch_id: str) -> dict:
    """Claim the inbox files for this run, then validate, clean, de-duplicate and store them (the ledger)."""
    layout = settings.layout()
    layout.ensure()
    with claim_lock(layout):
        files = claim(layout, batch_id, settings.file_settle_s)
        log.info("claimed %d file(s) for %s: %s", len(files), batch_id, files)
        return ingest_batch(layout, batch_id, settings.max_text_chars, int(settings.max_file_mb * 2**20))


@_timed
def embed_batch(settings: Settings, batch_id: str) -> dict:
    """Compute (or find cached) the features of the batch's accepted rows and of the holdout."""
    layout = settings.layout()
    store = LabelledStore(layout.labelled)
    texts = store.read_batch(batch_id, ["text"])["text"].tolist() if store.has_batch(batch_id) else []
    with infinity_client(settings) as client:
        design = _design(settings, client)
        for chunk in (texts, fixed_holdout(settings).texts):
            if chunk:
                warm_cache(chunk, design, client, layout.embeddings)
    return {"batch_id": batch_id, "rows": len(texts)}


@_timed
def train_challenger(settings: Settings, batch_id: str, options: RunOptions) -> dict:
    """Train a challenger on the batch (see challenger.train_challenger); no accepted rows: no challenger."""
    layout = settings.layout()
    store = LabelledStore(layout.labelled)
    refit = options.strategy == "refit"
    if not store.has_batch(batch_id) and not (refit and store.batch_ids()):
        return {"version": None, "reason": "no accepted rows in this batch"}
    registry = ModelRegistry(layout.registry)
    with infinity_client(settings) as client:
        card = challenger.train_challenger(store, registry, client, layout.embeddings, batch_id, options,
                                           _design(settings, client), _champion(registry, tolerate_broken=refit),
                                           settings.seed)
    return {key: card[key] for key in ("version", "strategy", "train_s", "rows_trained", "validation_macro_f1")}


@_timed
def evaluate_challenger(settings: Settings, challenger: dict, options: RunOptions) -> dict:
    """Evaluate challenger and champion on the holdout and decide whether to promote."""
    layout = settings.layout()
    registry = ModelRegistry(layout.registry)
    version = challenger.get("version")
    champion = _champion(registry, tolerate_broken=True)
    holdout = fixed_holdout(settings)
    metrics: dict[str, dict | None] = {"challenger": None, "champion": None}
    with infinity_client(settings) as client:
        for role, model in (("challenger", version), ("champion", champion.version if champion else None)):
            if model is not None:
                schema = FeatureSchema.from_dict(registry.card(model)["feature_schema"])
                features = feature_matrix(holdout.texts, schema, client, layout.embeddings)
                metrics[role] = evaluate(registry.load(model), features, holdout.labels)
    if version:
        registry.update_card(version, metrics=metrics["challenger"])
    promote, reason = promotion_decision(metrics["challenger"], metrics["champion"], options.min_improvement,
                                         options.force_promote, options.max_raw_score)
    # the pointer as read now (even when its model is broken): promotion checks that it has not moved since
    return {"version": version, "champion": registry.champion_version(), "promote": promote,
            "reason": reason, "challenger_metrics": metrics["challenger"], "champion_metrics": metrics["champion"]}


@_timed
def promote_challenger(settings: Settings, evaluation: dict) -> dict:
    """Switch the champion pointer to the challenger, unless another run changed the champion meanwhile.

    A real promotion returns the champion asset event's extra as ``event`` (the DAG records the event).
    """
    registry = ModelRegistry(settings.layout().registry)
    version = evaluation["version"]
    if registry.champion_version() == version:  # a re-run of a promotion that went through (its event did not)
        return {"version": version, "promoted": True, "reason": evaluation["reason"],
                "event": champion_event(registry, "promote")}
    if registry.champion_version() != evaluation["champion"]:
        reason = (f"champion changed during the run ({evaluation['champion']} → {registry.champion_version()}); "
                  "not promoted")
        registry.reject(version, reason)
        return {"version": version, "promoted": False, "reason": reason}
    registry.promote(version, evaluation["reason"])
    return {"version": version, "promoted": True, "reason": evaluation["reason"],
            "event": champion_event(registry, "promote")}


@_timed
def keep_champion(settings: Settings, evaluation: dict) -> dict:
    """Record the challenger (if any) as rejected, with the reason; the champion stays."""
    if evaluation["version"]:
        ModelRegistry(settings.layout().registry).reject(evaluation["version"], evaluation["reason"])
    return {"version": evaluation["version"], "promoted": False, "reason": evaluation["reason"]}


def archive_batch(settings: Settings, ledger: dict, embedded: dict, challenger: dict, evaluation: dict,
                  decision: dict | None) -> RunReport:
    """Move the claimed files to ``archive/<date>/<batch_id>/`` and write the run report (returned)."""
    layout = settings.layout()
    batch_id = ledger["batch_id"]
    archived = archive_claimed(layout.labelled_stream, batch_id)
    parts = {"claim_and_ingest": ledger, "embed": embedded, "train": challenger, "evaluate": evaluation,
             "decide": decision or {}}
    report = RunReport(batch_id=batch_id, ledger=ledger, embedded=embedded, challenger=challenger,
                       evaluation=evaluation, decision=decision, archived=archived,
                       timings_s={name: part["seconds"] for name, part in parts.items() if "seconds" in part})
    write_json_atomic(layout.reports / "runs" / f"{batch_id}.json", report)
    return report


def run_cycle(settings: Settings, batch_id: str, options: RunOptions) -> RunReport:
    """The whole DAG run in one process (bootstrap, quality stream, benchmarks): the same functions in order."""
    ledger = claim_and_ingest(settings, batch_id)
    embedded = embed_batch(settings, batch_id)
    trained = train_challenger(settings, batch_id, options)
    evaluation = evaluate_challenger(settings, trained, options)
    decide = promote_challenger if evaluation["promote"] else keep_champion
    return archive_batch(settings, ledger, embedded, trained, evaluation, decide(settings, evaluation))
