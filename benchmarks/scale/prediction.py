"""The prediction API over months (issue 26): memory of the api-server under new texts, and prediction cost as the
champion grows. Both on a champion bootstrapped by the product (``python -m tweet_sentiment bootstrap``, today's
``bootstrap_rows``) with the stand-in embedding server (standin.py: the figures measure the API and the model,
not infinity, whose rate docs/speed.md gives):

- ``api_rss_growth_mb``: the real Airflow api-server (with the plugin, as tests/ui start it) answers
  ``predictions`` predictions of texts it never saw through ``POST /tweet-sentiment/api/predict``, in requests of
  ``TWEET_SENTIMENT_PREDICT_MAX_TEXTS`` (256) texts, the most one request may carry; the growth of the RSS of its
  process tree from after a warm-up (3 requests) to the end (``api_rss_mb_peak``: the highest sample);
- ``predict_p50_ratio_v500_unbounded``: the p50 of one-text predictions (``Predictor.predict``, the function behind
  the API) with the bootstrap champion continued through ``continued_batches`` (500) batches and the refit DAG's
  bound off, over the same with the bootstrap champion. The trees a continuation adds are measured
  (continuations.py: the cycle's continuation, with early stopping, on the training file's batches after the
  bootstrap's; MEASURED_CONTINUATIONS = 16 real ones, each promoted: the growth's upper bound, the gate promotes far
  fewer); the 500-batch champion holds the bootstrap's trees plus 500 times their mean, the real continuations'
  trees repeated in order (``extended``: the size and tree shapes such a chain grows; training 500 continuations
  takes an hour here);
- ``predict_p50_ratio_v500``: the same as the product runs it, with the refit DAG's bound on
  (``TWEET_SENTIMENT_MAX_CHAMPION_TREES``): past the bound a compacting refit replaces the champion, so the largest
  champion it serves through the 500 batches has the bound's trees plus one continuation's (the largest
  measured): the worst case of the months, not their average.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path

import lightgbm as lgb

from benchmarks.airflow_stack import AirflowStack
from benchmarks.options import median
from benchmarks.processes import tree_rss_mb
from benchmarks.report import log_progress, print_figures
from benchmarks.scale.continuations import grow
from benchmarks.scale.options import ScaleOptions
from benchmarks.scale.standin import standin_server
from tweet_sentiment.__main__ import bootstrap
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows
from tweet_sentiment.model.prediction import Predictor
from tweet_sentiment.model.registry import Champion, ModelRegistry
from tweet_sentiment.pipeline.resources import infinity_client
from tweet_sentiment.schema import LABEL_TO_ID, TEXT_COLUMN
from tweet_sentiment.text import clean_tweet

log = logging.getLogger(__name__)
PREDICT_CALLS = 600  # one-text predictions per champion and run (the p50's sample)
MEASURED_CONTINUATIONS = 16  # real continuations trained: the training file's rows after the bootstrap's, once


def bootstrapped(base: Settings, scratch: Path, url: str) -> Settings:
    """Settings of a fresh data root under ``scratch`` holding today's bootstrap champion (embedded by ``url``)."""
    settings = dataclasses.replace(base, data_root=str(scratch / "data"), cache_root=str(scratch / "cache"),
                                   infinity_url=url, state_db_url="")
    with contextlib.redirect_stdout(sys.stderr):  # its summary is progress; stdout's last line is the figures
        bootstrap(settings, refit=False)
    return settings


def new_texts(settings: Settings, n: int) -> list[str]:
    """``n`` distinct texts no request sent before: the unlabelled file's tweets, numbered past its length."""
    header, rows = chronological_rows(settings.unlabelled_file)
    col = header.index(TEXT_COLUMN)
    pool = [t for t in (clean_tweet(r[col])[:900] for r in rows) if t]
    return [pool[i % len(pool)] + (f" #{i // len(pool)}" if i >= len(pool) else "") for i in range(n)]


def measure_api_memory(settings: Settings, home: Path, predictions: int) -> dict:
    """``api_rss_growth_mb`` and its parts (see the module doc), on a real api-server."""
    batch = settings.predict_max_texts
    texts = new_texts(settings, predictions + 3 * batch)
    with AirflowStack(settings, home) as stack, stack.login() as api:
        def post(chunk: list[str]) -> None:
            answer = api.post("/tweet-sentiment/api/predict", json={"texts": chunk})
            answer.raise_for_status()
            assert len(answer.json()["predictions"]) == len(chunk)

        pid = stack._procs["api-server"].pid
        for i in range(3):
            post(texts[predictions + i * batch:predictions + (i + 1) * batch])
        before = peak = tree_rss_mb(pid)
        started = time.monotonic()
        for n, start in enumerate(range(0, predictions, batch), 1):
            post(texts[start:start + batch])
            if n % 20 == 0:
                peak = max(peak, tree_rss_mb(pid))
                log.info("api: %d/%d predictions, api-server tree RSS %.0f MB", start + batch, predictions, peak)
        after = tree_rss_mb(pid)
    return {"api_rss_growth_mb": round(after - before, 1), "api_rss_mb_before": before, "api_rss_mb_after": after,
            "api_rss_mb_peak": max(peak, after), "api_predictions": predictions, "api_request_texts": batch,
            "api_predictions_per_s": round(predictions / (time.monotonic() - started), 1)}


def extended(booster: lgb.Booster, first: int, trees: int) -> lgb.Booster:
    """``booster`` with its trees from index ``first`` on (its continuations') repeated in order until it holds
    ``trees`` trees: a model of the size and tree shapes that many such continuations grow (what a prediction
    costs; its answers are not a trained model's)."""
    head, rest = booster.model_to_string().split("\nTree=0\n", 1)
    body, tail = rest.split("\nend of trees", 1)
    blocks = [block.split("\n", 1)[1] for block in ("0\n" + body.rstrip("\n")).split("\n\nTree=")]
    grown = blocks[first:] or blocks
    kept = blocks[:first] + [grown[i % len(grown)] for i in range(max(trees - first, 0))]
    head = re.sub(r"^tree_sizes=.*\n", "", head, flags=re.MULTILINE)  # optional: LightGBM parses without it
    text = head + "\n" + "\n\n".join(f"Tree={i}\n{tree}" for i, tree in enumerate(kept)) + "\n\n\nend of trees"
    return lgb.Booster(model_str=text + tail)


def _p50_ms(settings: Settings, texts: list[str]) -> float:
    """p50 of one-text predictions with the registry's champion (loaded by a first call), each text new."""
    with infinity_client(settings) as client:
        predictor = Predictor(ModelRegistry.of(settings), client, settings.layout().embeddings)
        predictor.predict(["a first call loads the champion"])
        times = []
        for text in texts:
            start = time.perf_counter()
            predictor.predict([text])
            times.append((time.perf_counter() - start) * 1000)
    return median(times, 3)


def _saved(registry: ModelRegistry, base: Champion, booster: lgb.Booster) -> str:
    """``booster`` saved as a version with the bootstrap card's schema (a continued champion's card); its id."""
    return registry.save(booster, {**base.card, "strategy": "continue", "num_trees": booster.num_trees()})


def grown_trees(settings: Settings, batches: int) -> tuple[lgb.Booster, dict]:
    """Real continuations of the bootstrap champion (continuations.grow: early stopping, each promoted), at most
    MEASURED_CONTINUATIONS of them; the continued booster and the champions' tree counts: ``v500`` (every one of
    ``batches`` continuations promoted, each adding the measured mean) and ``bounded`` (the largest the refit DAG's
    bound lets through: the bound plus the largest measured continuation)."""
    chain = grow(settings, min(batches, MEASURED_CONTINUATIONS))
    first = chain.booster.num_trees() - sum(chain.trees_added)
    classes = len(LABEL_TO_ID)  # a multiclass round adds one tree per class
    per_batch = sum(chain.trees_added) / len(chain.trees_added)
    v500 = first + classes * round(per_batch * batches / classes)
    bounded = min(v500, max(settings.max_champion_trees, first) + max(chain.trees_added))
    return chain.booster, {"bootstrap": first, "v500": v500, "bounded": bounded,
                           "trees_per_continuation": chain.trees_added,
                           "mean_trees_per_continuation": round(per_batch, 1)}


def measure_prediction_growth(settings: Settings, batches: int, runs: int) -> dict:
    """``predict_p50_ratio_v500`` and ``predict_p50_ratio_v500_unbounded`` (see the module doc), medians of ``runs``
    samples each."""
    registry = ModelRegistry.of(settings)
    base = registry.champion()
    continued, counts = grown_trees(settings, batches)
    trees = {name: counts[name] for name in ("bootstrap", "v500", "bounded")}
    versions = {name: base.version if name == "bootstrap" else _saved(registry, base, extended(
        continued, trees["bootstrap"], n)) for name, n in trees.items()}
    texts = new_texts(settings, PREDICT_CALLS * runs * len(versions))
    p50: dict[str, list[float]] = {name: [] for name in versions}
    names = list(versions)
    for run in range(runs):  # each run starts with another champion: a drift of the machine favours none
        for i, name in enumerate(names[run % len(names):] + names[:run % len(names)]):
            version = versions[name]
            registry.promote(version, f"bench: the {name} champion", expected=registry.champion_version())
            at = (run * len(versions) + i) * PREDICT_CALLS
            p50[name].append(_p50_ms(settings, texts[at:at + PREDICT_CALLS]))
            log.info("prediction run %d: %s champion (%d trees) p50 %.2f ms", run + 1, name, trees[name],
                     p50[name][-1])
    mid = {name: median(values, 3) for name, values in p50.items()}
    return {"predict_p50_ratio_v500": round(mid["bounded"] / mid["bootstrap"], 2),
            "predict_p50_ratio_v500_unbounded": round(mid["v500"] / mid["bootstrap"], 2),
            "predict_p50_ms": mid, "predict_trees": trees, "continued_batches": batches,
            "trees_per_continuation": counts["trees_per_continuation"],
            "mean_trees_per_continuation": counts["mean_trees_per_continuation"],
            "max_champion_trees": settings.max_champion_trees, "predict_calls": PREDICT_CALLS,
            "predict_path": "Predictor.predict in-process, one text per call, stand-in embeddings"}


def prediction_figures(base: Settings, options: ScaleOptions) -> dict:
    """Both figures (see the module doc) on a bootstrap champion in ``options.root``/prediction (removed after)."""
    scratch = options.root / "prediction"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        with standin_server() as url:
            settings = bootstrapped(base, scratch, url)
            log.info("prediction: bootstrap champion %s", ModelRegistry.of(settings).champion_version())
            figures = measure_api_memory(settings, scratch / "airflow", options.api_predictions) \
                if options.api_predictions else {}
            if options.continued_batches:
                figures.update(measure_prediction_growth(settings, options.continued_batches, options.runs))
        return {**figures, "prediction_load_avg_1m": round(os.getloadavg()[0], 2)}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale.prediction", description=__doc__.split("\n")[0])
    parser.add_argument("--api-predictions", type=int, default=ScaleOptions.api_predictions)
    parser.add_argument("--continued-batches", type=int, default=ScaleOptions.continued_batches)
    parser.add_argument("--runs", type=int, default=ScaleOptions.runs)
    parser.add_argument("--root", type=Path, default=ScaleOptions.root)
    args = parser.parse_args(argv)
    log_progress("tweet_sentiment")
    options = ScaleOptions(root=args.root.resolve(), runs=args.runs, api_predictions=args.api_predictions,
                           continued_batches=args.continued_batches)
    return print_figures(lambda: prediction_figures(Settings.from_env(), options))


if __name__ == "__main__":
    sys.exit(main())
