"""The loop's Airflow assets, named once, and what their events carry.

- the **inbox** (``<data root>/inbox``): an event says "a labelled batch was sent"; the retrain DAG is scheduled
  on it (or on its 20-minute timetable);
- the **champion** (the pointer in the state database): an event says "the model in use changed", by a
  promotion of the DAG or a rollback on the model page, with the version and its holdout metrics; the scoring DAG
  re-scores the stream on it;
- the **candidate**: an event says "the gate called a challenger ambiguous, a person should decide"; the approval
  DAG is scheduled on it;
- the **unlabelled inbox** (``<data root>/unlabelled``): an event says "tweets to score were dropped"; a producer
  that can record one (``make feed-unlabelled`` through the UI plugin, another DAG, ``POST /api/v2/assets/events``)
  starts the scoring DAG at once, files dropped without one wait for its short timetable;
- the **mood alert**: an event says "an episode of a mood alert began", its extra the alert
  (``MoodAlert.to_extra()``: period, class, words with z-scores and examples, share move, champion version); the
  scoring DAG emits one per alert that begins an episode, so any DAG can be scheduled on it.

Each asset and alias is named here once, as plain names and URIs: ``airflow_assets`` builds the one set of Airflow
objects the DAGs schedule on and emit, and the UI plugin looks the assets up by name and URI when it records an
event. No Airflow import here: the plugin imports this module, and with ``LAZY_LOAD_PLUGINS=False`` a first
``import airflow`` from inside it would load the plugin again mid-import. The URIs use a private ``x-`` scheme:
the data root may be a folder or object storage, and the asset stands for the role, not one path.
"""

from __future__ import annotations

from typing import NamedTuple

from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.contracts import Evaluation


class AssetName(NamedTuple):
    """An asset's unique name and URI."""

    name: str
    uri: str


INBOX = AssetName("tweet_sentiment_inbox", "x-tweet-sentiment://data/inbox")
# The DAG scheduled on the inbox: an inbox event is a run of it (the UI plugin checks the right to trigger it).
RETRAIN_DAG_ID = "tweet_sentiment_retrain"
# The DAG scheduled on the unlabelled inbox (and the champion).
SCORE_DAG_ID = "tweet_sentiment_score"
CHAMPION = AssetName("tweet_sentiment_champion", "x-tweet-sentiment://registry/champion")
UNLABELLED = AssetName("tweet_sentiment_unlabelled", "x-tweet-sentiment://data/unlabelled")
# The DAG an event of each fed asset starts (a feed's message names it).
STARTS = {INBOX: RETRAIN_DAG_ID, UNLABELLED: SCORE_DAG_ID}
# The promote task's outlet: the champion asset is attached to it only when the champion really changed.
CHAMPION_ALIAS = "tweet_sentiment_champion_change"
CANDIDATE = AssetName("tweet_sentiment_candidate", "x-tweet-sentiment://registry/candidate")
# keep_champion's outlet: the candidate asset is attached to it only when the evaluation was ambiguous.
CANDIDATE_ALIAS = "tweet_sentiment_candidate_ambiguous"
MOOD_ALERT = AssetName("tweet_sentiment_mood_alert", "x-tweet-sentiment://alerts/mood")
# The scoring DAG's alerts task's outlet: one mood-alert event per alert that began an episode, through the alias.
MOOD_ALERT_ALIAS = "tweet_sentiment_mood_alert_began"
# The DAG that runs the loop-health checks.
WATCH_DAG_ID = "tweet_sentiment_watch"


def inbox_event(batch: dict) -> dict:
    """The extra of an inbox event from the labelling queue's record of a sent batch."""
    return {key: batch[key] for key in ("file", "rows", "annotator", "correction_rate", "sent_at")}


def champion_event(registry: ModelRegistry, action: str) -> dict:
    """The extra of a champion event: the champion now, the one before, why, and its holdout metrics.

    Read from the champion pointer's last history entry, which ``promote`` and ``rollback`` write.
    """
    history = registry.history(newest=1)
    if not history:
        raise LookupError("the registry has no champion")
    last = history[-1]
    metrics = registry.card(last["version"]).get("metrics") or {}
    return {"version": last["version"], "previous": last.get("previous"), "action": action,
            "reason": last.get("reason"), "at": last.get("at"),
            "macro_f1": metrics.get("macro_f1"), "accuracy": metrics.get("accuracy"),
            "per_class_f1": metrics.get("per_class_f1") or {}}


def candidate_event(evaluation: Evaluation, approval_timeout_s: float = 0) -> dict:
    """The extra of a candidate event: the challenger, the champion it was judged against, the gate's reason and
    figures, both models' metrics on both holdouts (the approval reads them, then re-checks the registry), and the
    run's approval timeout (None: the setting's)."""
    return {"version": evaluation.version, "champion": evaluation.champion, "reason": evaluation.reason,
            "gate": evaluation.gate, "challenger_metrics": evaluation.challenger_metrics,
            "champion_metrics": evaluation.champion_metrics,
            "challenger_recent_metrics": evaluation.challenger_recent_metrics,
            "champion_recent_metrics": evaluation.champion_recent_metrics,
            "approval_timeout_s": approval_timeout_s or None}
