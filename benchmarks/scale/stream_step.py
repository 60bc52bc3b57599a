"""One step of a measured scoring run in a process of its own (``python -m benchmarks.scale.stream_step``), so that
its peak RSS is its own: reads ``{"step", "settings", "batch_id", "parts"}`` as JSON on stdin, prints
``{"result", "seconds", "embed_s", "peak_rss_mb"}`` as the last line on stdout (``embed_s``: the seconds spent
waiting for the embedding service, which the run's figure leaves out)."""

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
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.params import ScoreOptions
from tweet_sentiment.pipeline.score import check_drift, claim_unlabelled, score_in_process, update_mood

_OPTIONS = ScoreOptions()


def change_champion(settings: Settings) -> dict:
    """The champion saved again as a new version and promoted (a champion change, as a promotion makes one)."""
    registry = ModelRegistry.of(settings)
    champion = registry.champion()
    version = registry.save(champion.booster, champion.card)
    registry.promote(version, "bench: a champion change", champion.version)
    return {"champion": version}


STEPS: dict[str, Callable[[Settings, str, dict], dict]] = {
    "claim_and_ingest": lambda settings, batch_id, parts: claim_unlabelled(settings, batch_id),
    "score": lambda settings, batch_id, parts: score_in_process(settings, _OPTIONS),
    "mood": lambda settings, batch_id, parts: update_mood(settings, parts["score"]),
    "drift": lambda settings, batch_id, parts: check_drift(settings, parts["score"], _OPTIONS),
    "change_champion": lambda settings, batch_id, parts: change_champion(settings),
}
_EMBED_S = [0.0]


def _timed_embed(embed: Callable) -> Callable:
    def wrapper(self: InfinityClient, texts: list[str]):
        start = time.perf_counter()
        try:
            return embed(self, texts)
        finally:
            _EMBED_S[0] += time.perf_counter() - start
    return wrapper


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    job = json.load(sys.stdin)
    settings = dataclasses.replace(Settings.from_env(), **job["settings"])
    InfinityClient.embed = _timed_embed(InfinityClient.embed)  # type: ignore[method-assign]
    start = time.perf_counter()
    result = STEPS[job["step"]](settings, job["batch_id"], job["parts"])
    seconds = time.perf_counter() - start
    print(json.dumps({"result": result, "seconds": round(seconds, 3), "embed_s": round(_EMBED_S[0], 3),
                      "peak_rss_mb": peak_rss_mb(os.getpid())}, default=str))


if __name__ == "__main__":
    main()
