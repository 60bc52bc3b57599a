"""Scoring the unlabelled stream (issue 16), on the history's champion:

- ``score_per_s``: the scoring task's ``score_stream`` on ``score_texts`` uncached tweets (embedding included),
  beside ``embed_per_s_unlabelled``: infinity alone on ``embed_texts`` other tweets of the same source, just before
  and just after (the mean; ``score_vs_embed`` their ratio), and beside the scoring's own embedding calls on the
  same tweets at the same moment (``embed_per_s_in_scoring``; ``score_vs_embed_same_tweets``: the share of the
  scoring's time spent waiting for infinity, robust to the shared machine's changing load);
- ``rescore_per_s``: the same tweets re-scored (a new champion's run: the stream's stored vectors), median of
  ``runs``;
- ``drift_check_s``: ``drift_check.run_drift_check`` of the scored window against ``drift_reference_rows`` of the
  champion's training rows (the window's vectors from the stream's table, the reference's from the cache, the
  reference scored by the champion, the domain classifier, the class mix, the confidence, drift.json written),
  median of ``runs``;
- with the 2022 file as the source (half of the tweets from each snapshot): the drift of the 2022 snapshot against
  the 2021 one (``drift_2022_*``: the stream check, the first half as the reference).
The source is ``unlabelled_source`` (the 2022 file), else the holdout file (its labels are ignored).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.embedding import measure_embedding
from benchmarks.options import BenchOptions, median
from tweet_sentiment.config import DatasetMissingError, Settings
from tweet_sentiment.intake.feed import chronological_rows, write_rows
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.model.registry import Champion, ModelRegistry
from tweet_sentiment.monitoring.drift_check import run_drift_check
from tweet_sentiment.monitoring.scoring import read_scores, score_stream
from tweet_sentiment.pipeline.score import claim_unlabelled
from tweet_sentiment.schema import DATE_COLUMN, TEXT_COLUMN
from tweet_sentiment.text import clean_tweet

log = logging.getLogger(__name__)


class TimedClient:
    """The pipeline's infinity client, adding up the seconds its ``embed`` calls take (the scoring's own wait for
    infinity: the same tweets at the same moment, whatever the shared machine's load does meanwhile)."""

    def __init__(self, client: InfinityClient) -> None:
        self.client, self.model, self.url = client, client.model, client.url
        self.seconds = 0.0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        start = time.perf_counter()
        try:
            return self.client.embed(texts)
        finally:
            self.seconds += time.perf_counter() - start


def _source(settings: Settings, n: int, spare: int) -> tuple[Path, list[str], list[list[str]], list[str]]:
    """(source, header, ``n`` rows to score: half of each snapshot of the 2022 file, else the first ``n``; ``spare``
    other texts of the source to embed, drawn alike)."""
    try:
        source = settings.unlabelled_source_file
    except DatasetMissingError:
        source = settings.holdout_file
    header, rows = chronological_rows(source)
    col, text = header.index(DATE_COLUMN), header.index(TEXT_COLUMN)
    years = [[r for r in rows if r[col].startswith(y)] for y in ("2021", "2022")]
    half, other = n // 2, spare // 2
    if min(len(y) for y in years) >= half + other + 1:
        chosen = years[0][:half] + years[1][:n - half]
        rest = years[0][half:half + other] + years[1][n - half:n - half + spare - other]
    else:
        chosen, rest = rows[:n], rows[n:n + spare]
    return source, header, chosen, [clean_tweet(r[text]) for r in rest]


def measure_scoring(base: Settings, client: InfinityClient, options: BenchOptions, scratch: Path) -> dict:
    """The scoring figures (see the module docstring) on a fresh data root and cache under ``scratch``."""
    root = dataclasses.replace(base, data_root=str(scratch / "score"), cache_root=str(scratch / "score-cache"))
    source, header, rows, spare = _source(base, options.score_texts, options.embed_texts)
    layout = root.layout()
    layout.ensure()
    write_rows(layout.unlabelled, "bench.csv", header, rows)
    ledger = claim_unlabelled(root, "bench")
    champion = ModelRegistry.of(base).champion()
    figures: dict = {"score_source": source.name, "score_rows": ledger["rows_accepted"]}
    embed_before = measure_embedding(client, spare, 1, None)["embed_per_s"]
    log.info("scoring %d uncached tweets of %s", ledger["rows_accepted"], source.name)
    timed = TimedClient(client)
    scored = score_stream(layout, champion, timed)  # type: ignore[arg-type]
    # infinity alone on like tweets just before and just after (the machine is shared: the load drifts)
    figures["embed_per_s_unlabelled"] = round((embed_before + measure_embedding(client, spare, 1, None)[
        "embed_per_s"]) / 2, 1)
    figures["score_per_s"] = round(scored["scored_rows"] / scored["scored_s"], 1)
    figures["score_vs_embed"] = round(figures["score_per_s"] / figures["embed_per_s_unlabelled"], 3)
    figures["embed_per_s_in_scoring"] = round(scored["scored_rows"] / timed.seconds, 1)
    figures["score_vs_embed_same_tweets"] = round(timed.seconds / scored["scored_s"], 3)
    rescored = [score_stream(layout, champion, client, rescore_all=True) for _ in range(options.runs)]
    figures["rescore_per_s"] = median([r["rescored_rows"] / r["rescored_s"] for r in rescored], 1)
    figures.update(_drift_figures(base, root, champion, client, options))
    return figures


def _drift_figures(base: Settings, root: Settings, champion: Champion, client: InfinityClient,
                   options: BenchOptions) -> dict:
    """The drift check as the scoring DAG runs it: the scored window against the champion's training rows (its
    seconds, median of runs), and, with two snapshots scored, the 2022 one against the 2021 one."""
    texts = read_scores(root.layout())["text"].tolist()  # the window's vectors: in the stream's own table
    shutil.copytree(base.layout().labelled, root.layout().labelled, dirs_exist_ok=True)  # the training rows
    check = dataclasses.replace(root, cache_root=base.cache_root, drift_window_rows=len(texts),
                                drift_reference_max_rows=options.drift_reference_rows)
    seconds, report = [], {}
    for _ in range(options.runs):
        start = time.perf_counter()
        report = run_drift_check(check, champion, client, "training")
        seconds.append(time.perf_counter() - start)
    figures = {"drift_check_s": median(seconds, 2),
               "drift_check_rows": [report["window"]["rows"], report["reference"]["rows"]],
               "drift_vs_training_auc": report["embedding"]["auc"], "drift_vs_training_js": report["class_mix"]["js"]}
    dates = read_scores(root.layout())["tweet_at"]
    if dates.dt.year.nunique() > 1:
        halves = dataclasses.replace(check, drift_window_rows=len(texts) // 2)
        snapshots = run_drift_check(halves, champion, client, "stream")
        figures.update(drift_2022_rows_per_side=halves.drift_window_rows,
                       drift_2022_auc=snapshots["embedding"]["auc"], drift_2022_js=snapshots["class_mix"]["js"],
                       drift_2022_confidence_drop=snapshots["confidence"]["drop"])
    return figures
