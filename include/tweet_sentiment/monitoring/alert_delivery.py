"""Alerts delivered: a check's alerts kept (alert_store), then one notification per episode when it begins and a
notice when it ends, through an Airflow notifier (``BaseNotifier``): the SMTP provider's ``SmtpNotifier`` by
default, any notifier class by ``TWEET_SENTIMENT_ALERT_NOTIFIER`` with its arguments in
``TWEET_SENTIMENT_ALERT_NOTIFIER_KWARGS``. The notifier renders its templated arguments against a context holding
``alert_subject``, ``alert_text``, ``alert_html``, ``alert_event`` (began | ended) and ``alert`` (the extra)."""

from __future__ import annotations

import html
import importlib
import logging
from datetime import datetime

from tweet_sentiment.config import Settings
from tweet_sentiment.monitoring.alert_store import Notice, mark_notified, pending_notices, record_check
from tweet_sentiment.monitoring.alert_types import Alert

log = logging.getLogger(__name__)
SMTP_NOTIFIER = "airflow.providers.smtp.notifications.smtp.SmtpNotifier"


def notifier_class(path: str) -> type:
    """The notifier class named by its import path (``package.module.Class``)."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def make_notifier(settings: Settings):
    """A fresh notifier of the configured class (a notifier keeps its rendered fields: one per message)."""
    options = settings.alert_notifier_options
    if settings.alert_notifier == SMTP_NOTIFIER:
        options = {"to": [a.strip() for a in settings.alert_email_to.split(",") if a.strip()],
                   "from_email": settings.alert_email_from, "subject": "{{ alert_subject }}",
                   "html_content": "{{ alert_html }}", **options}
    return notifier_class(settings.alert_notifier)(**options)


def describe(extra: dict) -> tuple[str, list[str]]:
    """An alert's headline and detail lines (what a person reads in the notification)."""
    if extra["kind"] == "health":
        return f"loop health: {extra['check']}", [extra["detail"], f"value {extra['value']:g}, limit "
                                                                 f"{extra['limit']:g}"]
    lines = [f"{extra['resolution']} from {extra['period_start']}: {extra['label']} share "
             f"{extra['share']:.1%} (baseline {extra['baseline_share']:.1%}, allowed {extra['share_low']:.1%}-"
             f"{extra['share_high']:.1%}) of {extra['tweets']} tweets, scored by {extra['champion_version']}"]
    for word in extra["words"]:
        lines.append(f"{word['word']} (z {word['z']:.1f}): " + " | ".join(word["examples"]))
    return f"mood: {extra['label']} talk rose ({', '.join(w['word'] for w in extra['words'][:5])})", lines


def notice_context(notice: Notice) -> dict:
    """The context a notifier renders a notice against."""
    headline, lines = describe(notice.extra)
    subject = f"[tweet-sentiment] {'ALERT' if notice.event == 'began' else 'ended'}: {headline}"
    if notice.event == "ended":
        lines = ["This episode is over: the last check did not raise it again. Its last alert was:", *lines]
    text = "\n".join(lines)
    return {"alert_subject": subject, "alert_text": text, "alert_event": notice.event, "alert": notice.extra,
            "alert_html": "".join(f"<p>{html.escape(line)}</p>" for line in lines)}


def send_notices(settings: Settings, kind: str) -> tuple[list[Notice], str]:
    """Send every pending notice of ``kind`` (oldest first), each marked sent once its notifier returned: the
    notices sent, and the error that stopped the sending ("" if none; the rest go at the next check)."""
    sent = []
    for notice in pending_notices(settings.state_db, kind):
        try:
            make_notifier(settings)(notice_context(notice))
        except Exception as exc:  # a mail server down must not lose the check: the notice waits for the next
            log.exception("the %s notice of %s could not be sent", notice.event, notice.extra["episode_key"])
            return sent, f"{type(exc).__name__}: {exc}"
        mark_notified(settings.state_db, notice)
        sent.append(notice)
    return sent, ""


def deliver(settings: Settings, kind: str, alerts: list[Alert], at: datetime) -> dict:
    """Keep one check's alerts of ``kind`` and notify the episodes that began or ended: what changed, what was
    sent, and the extras of the alerts that began an episode (the asset events to emit)."""
    change = record_check(settings.state_db, kind, alerts, at)
    sent, error = send_notices(settings, kind)
    began = set(change.began)
    log.info("%s check: %d alert(s); began %s, ongoing %s, ended %s; %d notice(s) sent", kind, len(alerts),
             change.began, change.ongoing, change.ended, len(sent))
    return {"alerts": len(alerts), "began": list(change.began), "ongoing": list(change.ongoing),
            "ended": list(change.ended), "notified": [f"{n.event}:{n.extra['episode_key']}" for n in sent],
            "notify_error": error,
            "events": [a.to_extra() for a in alerts if a.episode_key in began]}
