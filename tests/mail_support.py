"""A real SMTP server for the tests (aiosmtpd on a free port) that keeps the messages it receives, and the
settings that send the alerts' notifications to it through the SMTP provider's notifier."""

from __future__ import annotations

import dataclasses
import email
import json
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from airflow.sdk import BaseNotifier
from support import free_port

CONN_ID = "tweet_sentiment_test_smtp"


class _Keep:
    """An aiosmtpd handler that keeps each message, parsed."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@contextmanager
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Message]]:
    """A running SMTP server, an Airflow connection ``CONN_ID`` to it (by environment) and the messages it got."""
    keep, port = _Keep(), free_port()
    controller = Controller(keep, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_tls": True, "disable_ssl": True}}))
    try:
        yield keep.messages
    finally:
        controller.stop()


def mailing(settings, to: str = "watch@example.org"):
    """``settings`` with alerts mailed to ``to`` through the test server's connection."""
    return dataclasses.replace(settings, alert_email_to=to,
                               alert_notifier_kwargs=json.dumps({"smtp_conn_id": CONN_ID}))


def body(message: Message) -> str:
    """A received message's text (its HTML part, decoded)."""
    parts = [p for p in message.walk() if p.get_content_type() == "text/html"]
    return parts[0].get_payload(decode=True).decode()


class LineNotifier(BaseNotifier):
    """An Airflow notifier of another kind (what ``TWEET_SENTIMENT_ALERT_NOTIFIER`` may name): appends its
    rendered ``message`` as a line to ``path``."""

    template_fields = ("message",)

    def __init__(self, path: str, message: str) -> None:
        super().__init__()
        self.path, self.message = path, message

    def notify(self, context) -> None:
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(self.message.replace("\n", " / ") + "\n")
