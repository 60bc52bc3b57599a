"""The infinity server the bench measures: the one answering at the configured URL, or one started for the bench."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from benchmarks.options import PROJECT_ROOT
from benchmarks.processes import answers, listening_pid, stop_process_group
from tweet_sentiment.config import Settings

log = logging.getLogger(__name__)


@contextmanager
def infinity_server(settings: Settings, log_file: Path) -> Iterator[int | None]:
    """Yield the pid of the infinity server at ``settings.infinity_url``; start (and then stop) one if none answers."""
    port = urlsplit(settings.infinity_url).port or 80
    if answers(f"{settings.infinity_url}/health"):
        yield listening_pid(port)
        return
    log.info("no infinity at %s: starting scripts/start_infinity.sh (log %s)", settings.infinity_url, log_file)
    with open(log_file, "wb") as out:
        proc = subprocess.Popen([str(PROJECT_ROOT / "scripts" / "start_infinity.sh")], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "INFINITY_PORT": str(port)})
    try:
        deadline = time.monotonic() + 600
        while not answers(f"{settings.infinity_url}/health"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"infinity did not start at {settings.infinity_url}; see {log_file}")
            time.sleep(1)
        log.info("infinity answers at %s", settings.infinity_url)
        yield proc.pid
    finally:
        stop_process_group(proc)


def backend(settings: Settings) -> str:
    """The engine infinity serves the configured model with (``optimum``, ``torch``, ...)."""
    models = httpx.get(f"{settings.infinity_url}/models", timeout=10).json()["data"]
    return next((m.get("backend", "?") for m in models if m["id"] == settings.embedding_model), "?")
