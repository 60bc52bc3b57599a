"""One step of the measured cycle in a process of its own (``python -m benchmarks.scale.step``), so that its peak
RSS is its own: reads ``{"step", "settings", "batch_id", "parts"}`` (settings overrides, the earlier steps'
results) as JSON on stdin, prints ``{"result", "seconds", "peak_rss_mb"}`` as the last line on stdout."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Callable

from benchmarks.processes import peak_rss_mb
from tweet_sentiment.config import Settings
from tweet_sentiment.pipeline.contracts import ChallengerResult, Embedded, Evaluation
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import (
    archive_batch,
    check_labels,
    claim_and_ingest,
    embed_batch,
    evaluate_challenger,
    keep_champion,
    promote_challenger,
    train_challenger,
)

_OPTIONS = RunOptions()


def _decide(settings: Settings, batch_id: str, parts: dict) -> dict:
    evaluation = Evaluation.from_json(parts["evaluate"])
    if evaluation.promote:
        return promote_challenger(settings, evaluation).to_json()
    return keep_champion(settings, evaluation, _OPTIONS).to_json()


def _archive(settings: Settings, batch_id: str, parts: dict) -> dict:
    return archive_batch(settings, parts["claim_and_ingest"], Embedded.from_json(parts["embed"]),
                         ChallengerResult.from_json(parts["train"]), Evaluation.from_json(parts["evaluate"]),
                         parts["check_labels"]).to_json()


# The cycle's steps in order (the retrain DAG's tasks but the sensor), each as (settings, batch id, results so far),
# passing JSON between them as the DAG's XComs do.
STEPS: dict[str, Callable[[Settings, str, dict], dict]] = {
    "claim_and_ingest": lambda settings, batch_id, parts: dict(claim_and_ingest(settings, batch_id)),
    "embed": lambda settings, batch_id, parts: embed_batch(settings, batch_id).to_json(),
    "check_labels": lambda settings, batch_id, parts: dict(check_labels(settings, batch_id, _OPTIONS)),
    "train": lambda settings, batch_id, parts: train_challenger(settings, batch_id, _OPTIONS).to_json(),
    "evaluate": lambda settings, batch_id, parts: evaluate_challenger(
        settings, ChallengerResult.from_json(parts["train"]), _OPTIONS).to_json(),
    "decide": _decide,
    "archive": _archive,
}


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    job = json.load(sys.stdin)
    settings = dataclasses.replace(Settings.from_env(), **job["settings"])
    start = time.perf_counter()
    result = STEPS[job["step"]](settings, job["batch_id"], job["parts"])
    seconds = time.perf_counter() - start
    print(json.dumps({"result": result, "seconds": round(seconds, 3), "peak_rss_mb": peak_rss_mb(os.getpid())},
                     default=str))


if __name__ == "__main__":
    main()
