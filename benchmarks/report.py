"""How a bench reports: progress lines on stderr as it goes, its figures as one JSON object, the last line on
stdout (or, without the dataset, an error saying where to get it)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable

from tweet_sentiment.config import DatasetMissingError

QUIET_LOGGERS = ("httpx", "urllib3")


def log_progress(*quiet: str) -> None:
    """Progress lines on stderr; the ``quiet`` loggers (and the HTTP clients') only warn."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in (*QUIET_LOGGERS, *quiet):
        logging.getLogger(name).setLevel(logging.WARNING)


def print_figures(measure: Callable[[], dict]) -> int:
    """Run ``measure`` and print its figures as the last line; the process's exit code."""
    try:
        figures = measure()
    except DatasetMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(figures))
    return 0
