"""One function per DAG task: the glue between the settings and the modules that do the work.

Each takes the Settings and small arguments and returns a typed result (``contracts``; the DAG passes it on as
JSON, an XCom) holding the ``seconds`` it took, so the DAG only wires them and every step runs and is tested
without Airflow. Nothing but the
DAG and :func:`run_cycle` (the same steps in one process) should import this module.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

import numpy as np

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import archive_claimed, claim, claim_lock
from tweet_sentiment.intake.engine import Ledger
from tweet_sentiment.intake.labelled import RecentHoldout, ingest_batch
from tweet_sentiment.label_check.check import LabelCheckRecord, check_batch, check_record
from tweet_sentiment.label_check.confident_learning import rows_corrected, rows_touched
from tweet_sentiment.label_check.known_corrections import known_corrections
from tweet_sentiment.label_check.review import release_systematic
from tweet_sentiment.model.boosting import within_tree_bound
from tweet_sentiment.model.comparison import (
    CHALLENGER,
    CHAMPION,
    Comparison,
    Holdout,
    Predicted,
    compare,
    look_at_slices,
    predict_holdout,
)
from tweet_sentiment.model.features import current_schema, feature_matrix, fit_schema, warm_cache
from tweet_sentiment.model.gate import GateRules, SliceEvidence, promotion_decision
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.registry import Champion, ChampionMovedError, ChampionUnavailableError, ModelRegistry
from tweet_sentiment.monitoring.loop_health import record_quarantined
from tweet_sentiment.pipeline import challenger, refit_policy
from tweet_sentiment.pipeline.assets import candidate_event, champion_event
from tweet_sentiment.pipeline.contracts import ChallengerResult, Embedded, Evaluation, Outcome, RunReport
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.resources import (
    claim_limits,
    fixed_holdout,
    holdouts,
    infinity_client,
    route_to_reannotation,
    without_contradicted,
)
from tweet_sentiment.pipeline.sensing import Work, pending_work
from tweet_sentiment.pipeline.timing import timed as _timed
from tweet_sentiment.schema import FeatureSchema
from tweet_sentiment.storage.fs import write_json_atomic
from tweet_sentiment.storage.labelled_store import LabelledStore

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
def claim_and_ingest(settings: Settings, batch_id: str) -> Ledger:
    """Claim the inbox files for this run, then validate, clean, de-duplicate and store them (the ledger)."""
    layout = settings.layout()
    layout.ensure()
    with claim_lock(layout):
        files = claim(layout, batch_id, settings.file_settle_s, limits=claim_limits(settings))
        log.info("claimed %d file(s) for %s: %s", len(files), batch_id, files)
        ledger = ingest_batch(layout, batch_id, settings.max_text_chars, settings.max_file_bytes,
                              RecentHoldout(settings.recent_holdout_fraction, settings.recent_holdout_salt),
                              settings.max_failed_runs)
    record_quarantined(settings.state_db, "labelled", ledger, datetime.now(UTC))  # the loop-health check's count
    return ledger


@_timed
def embed_batch(settings: Settings, batch_id: str) -> Embedded:
    """Compute (or find cached) the features of the batch's accepted rows and of the holdout."""
    layout = settings.layout()
    store = LabelledStore(layout.labelled)
    texts = store.read_batch(batch_id, ["text"])["text"].tolist() if store.has_batch(batch_id) else []
    with infinity_client(settings) as client:
        design = _design(settings, client)
        for chunk in (texts, fixed_holdout(settings).texts):
            if chunk:
                warm_cache(chunk, design, client, layout.embeddings)
    return Embedded(batch_id, len(texts))


@_timed
def check_labels(settings: Settings, batch_id: str, options: RunOptions) -> LabelCheckRecord:
    """Flag the batch's likely label errors and hold or down-weight them, up-weight the rows that teach
    (label_check.check_batch), on the
    champion's features (or, before there is one, a fresh fit of the code's design), from the feature cache; then
    send the held rows of earlier batches that make a now systematic correction back to the inbox."""
    layout = settings.layout()
    registry = ModelRegistry.of(settings)
    with infinity_client(settings) as client:
        design = _design(settings, client)
        champion = _champion(registry, tolerate_broken=True)
        schema = champion.schema if champion and champion.schema.design() == design else None

        def features_of(texts: list[str]):
            return feature_matrix(texts, schema or fit_schema(design, texts, client, layout.embeddings), client,
                                  layout.embeddings)

        record = check_batch(layout, batch_id, features_of, options.flagged_rows, options.flagged_weight,
                             teaching=options.teaching)
    corrections = record.get("systematic_corrections", [])
    released = release_systematic(layout, corrections)
    return {**record, "rows_released": len(released),
            "holdout_rows_queued": route_to_reannotation(settings, corrections)}


@_timed
def train_challenger(settings: Settings, batch_id: str, options: RunOptions) -> ChallengerResult:
    """Train a challenger on the batch (see challenger.train_challenger; the older rows a systematic correction
    found so far contradicts weigh less); no accepted rows: no challenger. A refit holds at most half the
    champion's tree bound (boosting.within_tree_bound)."""
    layout = settings.layout()
    store = LabelledStore(layout.labelled)
    refit = options.strategy == "refit"
    if not store.has_batch(batch_id) and not (refit and store.batch_ids()):
        return ChallengerResult(version=None, reason="no accepted rows in this batch")
    if refit:
        options = dataclasses.replace(options, boosting=within_tree_bound(options.boosting,
                                                                           settings.max_champion_trees))
    registry = ModelRegistry.of(settings)
    with infinity_client(settings) as client:
        card = challenger.train_challenger(store, registry, client, layout.embeddings, batch_id, options,
                                           _design(settings, client), _champion(registry, tolerate_broken=refit),
                                           settings.seed, known_corrections(layout))
    return ChallengerResult(card["version"], card["strategy"], card["train_s"], card["rows_trained"],
                            card["validation_macro_f1"], labelled_version=card["labelled_version"])


def _predict(settings: Settings, models: dict[str, Champion],
             held_out: dict[str, Holdout]) -> dict[str, dict[str, Predicted]]:
    """Every model on every non-empty holdout (each model loaded once, for both holdouts)."""
    with infinity_client(settings) as client:
        return {name: predict_holdout(models, holdout, client, settings.layout().embeddings)
                for name, holdout in held_out.items() if holdout.texts}


def _record_gate(registry: ModelRegistry, version: str, comparison: Comparison, rules: GateRules,
                 evidence: SliceEvidence | None, holdout_version: int | None) -> None:
    """The challenger's card gets its holdout metrics (and the fixed holdout's version they used), the paired
    comparisons (and the corrections' slices), the rules and the disagreements."""
    registry.update_card(version, holdout_version=holdout_version, metrics=comparison.metrics_of("fixed", CHALLENGER),
                         recent_metrics=comparison.metrics_of("recent", CHALLENGER), gate=comparison.gate(),
                         slices=evidence.to_dict() if evidence else None,
                         gate_rules=dataclasses.asdict(rules), disagreements=comparison.disagreements)


def _corrected_rows(settings: Settings, batch_id: str | None,
                    held_out: dict[str, Holdout]) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """The systematic corrections the label check found in the batch: per correction, the recent-window rows
    labelled since it began (the slices), and per holdout the rows holding its word (left out of "elsewhere")."""
    corrections = check_record(settings.layout(), batch_id).get("systematic_corrections", []) if batch_id else []
    if not corrections:
        return {}, {}
    recent = held_out["recent"]
    rank_of = {b: k for k, b in enumerate(LabelledStore(settings.layout().labelled).batch_order())}
    slices = rows_corrected(recent.texts, [rank_of.get(b, -1) for b in recent.batches or []], corrections, rank_of)
    return slices, {name: rows_touched(h.texts, corrections) for name, h in held_out.items()}


@_timed
def evaluate_challenger(settings: Settings, trained: ChallengerResult, options: RunOptions) -> Evaluation:
    """Predict with challenger and champion on both holdouts (without the rows a known systematic correction
    contradicts: resources.without_contradicted), compare them on the same rows, then decide (at half the
    significance when a second challenger is judged for the same batch: refit_policy.gate_options)."""
    version = trained.version
    options = refit_policy.gate_options(settings, version, options)
    registry = ModelRegistry.of(settings)
    challenger_model = Champion(version, registry.load(version), registry.card(version)) if version else None
    models = {role: model for role, model in ((CHALLENGER, challenger_model),
                                              (CHAMPION, _champion(registry, tolerate_broken=True))) if model}
    corrections = known_corrections(settings.layout())  # the batches' ages only when a correction needs them
    ages = challenger.batch_ages(LabelledStore(settings.layout().labelled)) if corrections else {}
    held_out, left_out = without_contradicted(holdouts(settings), corrections, ages)
    if any(left_out.values()):
        log.info("judged without the rows a known correction contradicts: %s", left_out)
    predicted = _predict(settings, models, held_out)
    comparison = compare(held_out, predicted, settings.approval_examples)
    rules = options.gate_rules(settings.recent_window_min_rows)
    evidence = None
    if version and len(held_out["recent"].labels) >= rules.min_recent_rows:  # a small window: fixed holdout alone
        comparison, evidence = look_at_slices(comparison, held_out, predicted,
                                              *_corrected_rows(settings, challenger_model.card.get("batch_id"),
                                                               held_out))
    decision = promotion_decision(comparison.paired["fixed"], comparison.paired["recent"], comparison.max_abs_raw,
                                  rules, evidence)
    if version:
        _record_gate(registry, version, comparison, rules, evidence, held_out["fixed"].version)
        registry.update_card(version, holdout_rows_contradicted=left_out)
    # the pointer as read now (even when its model is broken): promotion checks that it has not moved since
    return Evaluation(version, registry.champion_version(), decision.promote, decision.reason, decision.ambiguous,
                      comparison.gate(), comparison.metrics_of("fixed", CHALLENGER),
                      comparison.metrics_of("fixed", CHAMPION), comparison.metrics_of("recent", CHALLENGER),
                      comparison.metrics_of("recent", CHAMPION), slices=evidence.to_dict() if evidence else None,
                      holdout_version=held_out["fixed"].version)


@_timed
def promote_challenger(settings: Settings, evaluation: Evaluation) -> Outcome:
    """Switch the champion pointer to the challenger, unless another run changed the champion meanwhile.

    A real promotion's outcome holds the champion asset event's extra as ``event`` (the DAG records the event).
    """
    registry = ModelRegistry.of(settings)
    version = evaluation.version
    if registry.champion_version() == version:  # a re-run of a promotion that went through (its event did not)
        return Outcome(version, True, evaluation.reason, champion_event(registry, "promote"))
    try:
        registry.promote(version, evaluation.reason, expected=evaluation.champion)
    except ChampionMovedError as moved:
        reason = f"champion changed during the run ({moved.expected} → {moved.actual}); not promoted"
        registry.reject(version, reason)
        return Outcome(version, False, reason)
    return Outcome(version, True, evaluation.reason, champion_event(registry, "promote"))


@_timed
def keep_champion(settings: Settings, evaluation: Evaluation, options: RunOptions | None = None) -> Outcome:
    """Record the challenger (if any) as rejected, with the reason; the champion stays. An ambiguous challenger
    waits for a person instead (the run's ``approval_timeout_s`` at most), and the outcome holds the candidate
    asset event's extra as ``event``."""
    kept = Outcome(evaluation.version, False, evaluation.reason)
    if not evaluation.version:
        return kept
    registry = ModelRegistry.of(settings)
    if evaluation.ambiguous:
        registry.hold(evaluation.version, evaluation.reason)
        return dataclasses.replace(kept, event=candidate_event(evaluation,
                                                               (options or RunOptions()).approval_timeout_s))
    registry.reject(evaluation.version, evaluation.reason)
    return kept


def _decision(registry: ModelRegistry, evaluation: Evaluation) -> Outcome | None:
    """What became of the run's challenger, as the registry records it (None: there was no challenger)."""
    version = evaluation.version
    if not version:
        return None
    card = registry.card(version)
    promoted = card.get("status") in ("champion", "retired") or registry.champion_version() == version
    return Outcome(version, promoted, card.get("reason", ""))


def archive_batch(settings: Settings, ledger: Ledger, embedded: Embedded, trained: ChallengerResult,
                  evaluation: Evaluation, label_check: LabelCheckRecord | None = None) -> RunReport:
    """Move the claimed files to ``archive/<date>/<batch_id>/`` and write the run report (returned); the
    decision is read from the registry, where promote or keep_champion recorded it. The report's ledger counts
    are the label check's (rows held) where it ran."""
    layout = settings.layout()
    batch_id = ledger["batch_id"]
    archived = archive_claimed(layout.labelled_stream, batch_id)
    label_check = label_check or {}
    timings = {"claim_and_ingest": ledger.get("seconds"), "embed": embedded.seconds,
               "check_labels": label_check.get("seconds"), "train": trained.seconds, "evaluate": evaluation.seconds}
    report = RunReport(batch_id=batch_id, ledger={**ledger, **label_check.get("ledger", {})}, embedded=embedded,
                       label_check=label_check, challenger=trained, evaluation=evaluation,
                       decision=_decision(ModelRegistry.of(settings), evaluation), archived=archived,
                       timings_s={name: s for name, s in timings.items() if s is not None})
    write_json_atomic(layout.reports / "runs" / f"{batch_id}.json", report.to_json())
    return report


def run_cycle(settings: Settings, batch_id: str, options: RunOptions) -> RunReport:
    """The whole DAG run in one process (bootstrap, quality stream, benchmarks): the same functions in order."""
    ledger = claim_and_ingest(settings, batch_id)
    embedded = embed_batch(settings, batch_id)
    checked = check_labels(settings, batch_id, options)
    trained = train_challenger(settings, batch_id, options)
    evaluation = evaluate_challenger(settings, trained, options)
    if evaluation.promote:
        promote_challenger(settings, evaluation)
    else:
        keep_champion(settings, evaluation, options)
    return archive_batch(settings, ledger, embedded, trained, evaluation, checked)
