"""The prediction API over months (issue 26): memory of the api-server under new texts, and prediction cost as the
champion grows. Both on a champion bootstrapped by the product (``python -m tweet_sentiment bootstrap``, today's
``bootstrap_rows``) with the stand-in embedding server (standin.py: the figures measure the API and the model,
not infinity, whose rate docs/speed.md gives):

- ``api_rss_growth_mb``: the real Airflow api-server (with the plugin, as tests/ui start it) answers
  ``predictions`` predictions of texts it never saw through ``POST /tweet-sentiment/api/predict``, in requests of
  ``TWEET_SENTIMENT_PREDICT_MAX_TEXTS`` (256) texts, the most one request may carry; the growth of the RSS of its
  process tree from after a warm-up (3 requests) to the end (``api_rss_mb_peak``: the highest sample);
- ``predict_p50_ratio_v500``: the p50 of one-text predictions (``Predictor.predict``, the function behind the API)
  with the bootstrap champion continued through ``continued_batches`` (500) batches, over the same with the
  bootstrap champion. Each continuation is taken at its cap, ``continue_rounds`` rounds (early stopping may add
  fewer): the growth's upper bound. One real continuation at the cap is trained on the bootstrap's rows; its
  trees are repeated ``continued_batches`` times (``repeated``: the size and tree shapes 500 such continuations
  grow; training 15,000 rounds would take hours here);
- ``predict_p50_ratio_v500_bounded``: the same with the refit DAG's bound on (``TWEET_SENTIMENT_MAX_CHAMPION_TREES``):
  past the bound a compacting refit replaces the champion, so the largest champion it serves has the bound's trees
  plus one continuation's.
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
from benchmarks.scale.options import ScaleOptions
from benchmarks.scale.standin import standin_server
from tweet_sentiment.__main__ import bootstrap
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows
from tweet_sentiment.model.boosting import BoostingParams
from tweet_sentiment.model.features import feature_matrix
from tweet_sentiment.model.prediction import Predictor
from tweet_sentiment.model.registry import Champion, ModelRegistry
from tweet_sentiment.pipeline.resources import infinity_client
from tweet_sentiment.schema import LABEL_TO_ID, TEXT_COLUMN
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.text import clean_tweet

log = logging.getLogger(__name__)
PREDICT_CALLS = 200  # one-text predictions per champion (the p50's sample)


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


def _continued(champion: lgb.Booster, settings: Settings, rounds: int) -> lgb.Booster:
    """``champion`` continued by ``rounds`` rounds (no early stopping) on the bootstrap's rows: one continuation at
    its cap."""
    rows = LabelledStore(settings.layout().labelled).read_all(columns=["text", "label"])
    schema = ModelRegistry.of(settings).champion().schema
    with infinity_client(settings) as client:
        features = feature_matrix(rows["text"].tolist(), schema, client, settings.layout().embeddings)
    params = BoostingParams()
    data = lgb.Dataset(features, rows["label"].map(LABEL_TO_ID).to_numpy(), free_raw_data=False)
    return lgb.train(params.lgb_params(params.continue_learning_rate), data, num_boost_round=rounds,
                     init_model=champion, keep_training_booster=True)


def repeated(booster: lgb.Booster, first: int, copies: int) -> lgb.Booster:
    """``booster`` with its trees from index ``first`` on (a continuation's) there ``copies`` times: a model of the
    size and tree shapes as many continuations grow (what a prediction costs; its answers are not a trained
    model's)."""
    head, rest = booster.model_to_string().split("\nTree=0\n", 1)
    body, tail = rest.split("\nend of trees", 1)
    blocks = [block.split("\n", 1)[1] for block in ("0\n" + body.rstrip("\n")).split("\n\nTree=")]
    trees = blocks[:first] + blocks[first:] * copies
    head = re.sub(r"^tree_sizes=.*\n", "", head, flags=re.MULTILINE)  # optional: LightGBM parses without it
    text = head + "\n" + "\n\n".join(f"Tree={i}\n{tree}" for i, tree in enumerate(trees)) + "\n\n\nend of trees"
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


def measure_prediction_growth(settings: Settings, batches: int, runs: int) -> dict:
    """``predict_p50_ratio_v500`` and ``predict_p50_ratio_v500_bounded`` (see the module doc), medians of ``runs``
    samples each."""
    registry = ModelRegistry.of(settings)
    base = registry.champion()
    first = base.booster.num_trees()
    continued = _continued(base.booster, settings, BoostingParams().continue_rounds)
    per_batch = continued.num_trees() - first
    # the largest champion the bound lets through: past the bound's trees by one continuation at most
    copies = {"bootstrap": 0, "v500": batches, "bounded": max(settings.max_champion_trees - first, 0) // per_batch + 1}
    versions = {name: base.version if not n else _saved(registry, base, repeated(continued, first, n))
                for name, n in copies.items()}
    trees = {name: first + n * per_batch for name, n in copies.items()}
    texts = new_texts(settings, PREDICT_CALLS * runs * len(versions))
    p50: dict[str, list[float]] = {name: [] for name in versions}
    for run in range(runs):
        for i, (name, version) in enumerate(versions.items()):
            registry.promote(version, f"bench: the {name} champion", expected=registry.champion_version())
            at = (run * len(versions) + i) * PREDICT_CALLS
            p50[name].append(_p50_ms(settings, texts[at:at + PREDICT_CALLS]))
            log.info("prediction run %d: %s champion (%d trees) p50 %.2f ms", run + 1, name, trees[name],
                     p50[name][-1])
    mid = {name: median(values, 3) for name, values in p50.items()}
    return {"predict_p50_ratio_v500": round(mid["v500"] / mid["bootstrap"], 2),
            "predict_p50_ratio_v500_bounded": round(mid["bounded"] / mid["bootstrap"], 2),
            "predict_p50_ms": mid, "predict_trees": trees, "continued_batches": batches,
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
