"""One function per task of the scoring DAG (``dags/tweet_sentiment_score.py``): the glue between the settings and
the modules that score the stream, draw its mood and watch its drift.

Each takes the Settings and small JSON-able arguments and returns a small JSON-able dict (an XCom) with the
``seconds`` it took, so the DAG only wires them and every step runs and is tested without Airflow. A run pins
the champion once (``plan_score``: each partition carries the version) and the later tasks use that version,
so each result names one version even when a promotion lands while the run is in flight (its champion event
queues the next run, which re-scores).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import archive_claimed, claim, claim_lock, inbox_files
from tweet_sentiment.intake.unlabelled import ingest_unlabelled
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.model.charts import MOOD_PNG, mood_png
from tweet_sentiment.model.prediction import NoChampionError, Predictor
from tweet_sentiment.model.registry import Champion, ModelRegistry
from tweet_sentiment.monitoring.alert_marks import chart_alert_marks
from tweet_sentiment.monitoring.drift_check import read_drift, run_drift_check
from tweet_sentiment.monitoring.loop_health import record_quarantined
from tweet_sentiment.monitoring.mood import (
    champion_changes,
    champion_marks,
    chart_points,
    coverage,
    mood_series,
    read_counts,
    read_mood,
    write_mood,
)
from tweet_sentiment.monitoring.scoring import finish_scoring, plan_partitions, score_partition, scoring_log
from tweet_sentiment.pipeline.params import ScoreOptions
from tweet_sentiment.pipeline.resources import claim_limits, infinity_client
from tweet_sentiment.pipeline.sensing import GO, SKIP, WAIT, Work
from tweet_sentiment.pipeline.timing import timed
from tweet_sentiment.storage.fs import is_hidden, list_dir, write_json_atomic
from tweet_sentiment.storage.scored_stream import ScoredStream

log = logging.getLogger(__name__)


def _pinned(settings: Settings, version: str) -> Champion:
    """The champion version a run scored with (loaded by version: the pointer may have moved since)."""
    registry = ModelRegistry.of(settings)
    return Champion(version, registry.load(version), registry.card(version))


def _reference(settings: Settings, options: ScoreOptions) -> str:
    return options.drift_reference or settings.drift_reference


def sense_scoring(settings: Settings, options: ScoreOptions) -> Work:
    """Go on new unlabelled files (or a failed run's), on batches scored by another champion (a promotion, a
    rollback), on a mood or drift check not made for the champion; wait for files still being written; else skip
    with the reason."""
    layout = settings.layout()
    stream = layout.unlabelled_stream
    ready, arriving = inbox_files(stream.inbox, settings.file_settle_s)
    left = [p for p in list_dir(stream.processing) if not is_hidden(p)]
    version = ModelRegistry.of(settings).champion_version()
    if version is None:
        return Work(SKIP, f"no champion yet: {len(ready) + len(arriving)} file(s) wait in the unlabelled inbox")
    if ready or left:
        return Work(GO, f"{len(ready)} new unlabelled file(s), {len(left)} claimed batch(es) of a failed run")
    if arriving:  # a feed's event comes right after its file: wait the seconds it takes to settle
        return Work(WAIT, f"{len(arriving)} unlabelled file(s) still being written (changed less than "
                          f"{settings.file_settle_s:g} s ago)")
    tables = ScoredStream(layout.stream)
    new, stale = tables.to_score(version)
    if len(new) or len(stale):
        return Work(GO, f"champion {version}: {len(new)} batch(es) to score, {len(stale)} scored by another "
                        f"champion to re-score ({int(stale['rows'].sum()):,} tweets)")
    scored = len(tables.live_batches()) > 0
    if scored and options.rescore_all:
        return Work(GO, f"re-score every batch with champion {version} (asked)")
    mood, drift = read_mood(layout), read_drift(layout)
    if scored and (not mood or mood.get("champion_version") != version or not drift
                   or drift["reference"]["kind"] != _reference(settings, options)):
        return Work(GO, f"the mood or the drift check of champion {version} is not written yet")
    return Work(SKIP, f"nothing new: no files in the unlabelled inbox; every batch is scored by the champion "
                      f"{version}")


@timed
def claim_unlabelled(settings: Settings, batch_id: str) -> dict:
    """Claim the unlabelled inbox's complete files; validate, clean, store their rows; quarantine the rest."""
    layout = settings.layout()
    layout.ensure()
    stream = layout.unlabelled_stream
    with claim_lock(layout, stream):
        files = claim(layout, batch_id, settings.file_settle_s, stream, claim_limits(settings))
        log.info("claimed %d unlabelled file(s) for %s: %s", len(files), batch_id, files)
        ledger = ingest_unlabelled(layout, batch_id, settings.max_text_chars, settings.max_file_bytes,
                                   settings.max_failed_runs, settings.stream_part_rows)
    record_quarantined(settings.state_db, "unlabelled", ledger, datetime.now(UTC))  # the loop-health check's count
    return ledger


def plan_score(settings: Settings, options: ScoreOptions) -> list[dict]:
    """Pin the champion; its work in ``settings.scoring_partitions`` partitions (at least one), each with the
    infinity replica it embeds through (the configured URLs in turn)."""
    champion = ModelRegistry.of(settings).champion_version()
    if champion is None:
        raise NoChampionError("no champion model: nothing can score")
    urls = settings.embedding_urls
    plan = plan_partitions(ScoredStream(settings.layout().stream), champion, settings.scoring_partitions,
                           options.rescore_all, settings.rescore_rows)
    return [{**part, "url": urls[part["index"] % len(urls)]} for part in plan]


@timed
def score_part(settings: Settings, partition: dict) -> dict:
    """Score one partition with its pinned champion through its infinity replica: new batches, then stale."""
    with infinity_client(settings, partition["url"]) as client:
        done = score_partition(ScoredStream(settings.layout().stream), partition,
                               _pinned(settings, partition["version"]), client, settings.score_chunk_rows)
    log.info("partition %d through %s: %d new, %d re-scored, %d batch(es) committed by an earlier try",
             done["index"], partition["url"], done["scored_rows"], done["rescored_rows"],
             done["already_scored_batches"])
    return {**done, "url": partition["url"]}


def score(settings: Settings, partitions: list[dict], results: list[dict]) -> dict:
    """The run's record from its partitions (its ``seconds``: the slowest partition's, the mapped tasks' wall)."""
    record = finish_scoring(settings.layout(), partitions, results)
    return {**record, "per_partition": [{k: r[k] for k in ("index", "url", "scored_rows", "rescored_rows",
                                                           "already_scored_rows", "seconds")} for r in results],
            "seconds": max(r["seconds"] for r in results)}


def score_in_process(settings: Settings, options: ScoreOptions) -> dict:
    """``plan_score``, every partition's ``score_part`` and ``score``, one after the other in this process (what
    the DAG's three tasks do over the workers): the run's record."""
    plan = plan_score(settings, options)
    return score(settings, plan, [score_part(settings, partition) for partition in plan])


@timed
def update_mood(settings: Settings, scored: dict) -> dict:
    """The mood series from the stream's counts (mood/mood.json), how much each version scored, and its chart
    (mood/mood.png), by one version per period."""
    layout = settings.layout()
    tables = ScoredStream(layout.stream)
    mood = {**mood_series(*read_counts(tables), settings.mood_hourly_min_tweets),
            "champion_version": scored["version"], "coverage": coverage(tables)}
    write_mood(layout, mood)
    points = chart_points(mood, scored["version"])
    marks = champion_marks(points, champion_changes(scoring_log(layout), ModelRegistry.of(settings).history()))
    others = sorted({p["champion_version"] for p in points} - {scored["version"]})
    note = f"; periods not yet re-scored by {', '.join(others)}" if others else ""
    mood_png(points, marks, layout.mood / MOOD_PNG,
             f"Predicted mood of {mood['rows']:,} tweets, scored by {scored['version']}{note}",
             chart_alert_marks(settings.state_db, points))
    return {"rows": mood["rows"], "points": len(mood["series"]), "versions": mood["versions"],
            "arrival_dated": mood["arrival_dated"], "coverage": mood["coverage"]}


@timed
def check_drift(settings: Settings, scored: dict, options: ScoreOptions) -> dict:
    """Drift of the latest window against the reference (mood/drift.json); the figures."""
    with infinity_client(settings) as client:
        report = run_drift_check(settings, _pinned(settings, scored["version"]), client,
                                 _reference(settings, options))
    summary = {k: report.get(k) for k in ("status", "drifted", "reason")}
    if report["status"] == "checked":
        summary.update(auc=report["embedding"]["auc"], js=report["class_mix"]["js"],
                       confidence_drop=report["confidence"]["drop"])
    return {**summary, "reference": report["reference"]["kind"]}


@timed
def rescore_queue(settings: Settings) -> dict:
    """Pre-annotate again, by the champion now, the labelling queue's pending tweets (labels are kept)."""
    layout = settings.layout()
    with infinity_client(settings) as client:
        predictor = Predictor(ModelRegistry.of(settings), client, layout.embeddings, settings.predict_max_texts,
                              settings.max_text_chars)
        return LabellingQueue(layout, settings.state_db, predictor, settings.max_text_chars).rescore()


def archive_unlabelled(settings: Settings, ledger: dict, parts: dict[str, dict]) -> dict:
    """Move the claimed files to the scoring archive and write the run report (scoring/runs/<batch_id>.json)."""
    layout = settings.layout()
    batch_id = ledger["batch_id"]
    report = {"batch_id": batch_id, "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "archived": archive_claimed(layout.unlabelled_stream, batch_id), "ledger": ledger, **parts,
              "timings_s": {name: part["seconds"] for name, part in parts.items() if "seconds" in part}}
    write_json_atomic(layout.scoring / "runs" / f"{batch_id}.json", report)
    return report
