"""Prediction speed through ``Predictor.predict``, the function behind ``POST /tweet-sentiment/api/predict``."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from upath import UPath

from benchmarks.options import BenchOptions, median
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.prediction import Predictor
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.storage.vector_cache import wait_for_cache_writes

log = logging.getLogger(__name__)


def measure_prediction(registry: ModelRegistry, client: InfinityClient, texts: list[str], options: BenchOptions,
                       scratch: Path) -> dict:
    """p50 of one-tweet calls and tweets/s in batches, through Predictor.predict, each text new to its cache."""
    def predictor(name: str) -> Predictor:
        return Predictor(registry, client, UPath(scratch / name), max_texts=options.predict_batch)

    log.info("prediction: %d one-tweet calls, then batches of %d", options.predict_calls, options.predict_batch)
    single = predictor("single")
    single.predict(texts[-1:])  # loads the champion
    latencies = []
    for text in texts[:options.predict_calls]:
        start = time.perf_counter()
        single.predict([text])
        latencies.append(1000 * (time.perf_counter() - start))
    rates = []
    batched = texts[:4 * options.predict_batch]
    for run in range(options.runs):
        batch_predictor = predictor(f"batch-{run}")
        batch_predictor.champion()
        start = time.perf_counter()
        for i in range(0, len(batched), options.predict_batch):
            batch_predictor.predict(batched[i:i + options.predict_batch])
        rates.append(len(batched) / (time.perf_counter() - start))
    wait_for_cache_writes()  # before the caller removes the scratch folder
    return {"predict_p50_ms": median(latencies, 1), "predict_p90_ms": round(float(np.percentile(latencies, 90)), 1),
            "predict_per_s": median(rates, 1), "predict_batch_size": options.predict_batch,
            "predict_path": "Predictor.predict in-process (the function behind POST /api/predict; "
                            "the api-server's HTTP layer not included), embeddings through infinity"}
