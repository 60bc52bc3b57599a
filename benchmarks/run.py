"""The whole bench: every figure of issue 6 in one dict (see the package docstring)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from benchmarks.cycle import cycle_figures, run_cycles
from benchmarks.embedding import measure_embedding, measure_in_process_embedding
from benchmarks.history import prepare_history
from benchmarks.infinity_server import backend, infinity_server
from benchmarks.options import BenchOptions, median
from benchmarks.prediction import measure_prediction
from benchmarks.processes import peak_rss_mb
from benchmarks.reaction import measure_reaction
from benchmarks.scoring import measure_scoring
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.resources import fixed_holdout, infinity_client
from tweet_sentiment.pipeline.retrain import train_challenger
from tweet_sentiment.schema import TEXT_COLUMN

log = logging.getLogger(__name__)


def run_bench(settings: Settings, options: BenchOptions, scratch: Path) -> dict:
    """Every figure of issues 6, 12 and 16; ``scratch`` is a temp folder, removed by the caller."""
    load_before = os.getloadavg()[0]
    header, rows = chronological_rows(settings.train_file)
    history, batch = rows[:-options.batch_rows], rows[-options.batch_rows:]
    holdout_texts = fixed_holdout(settings).texts
    figures: dict = {"cpu_count": os.cpu_count(), "runs": options.runs}
    with infinity_server(settings, scratch / "infinity.log") as server_pid, infinity_client(settings) as client:
        figures["infinity_engine"] = backend(settings)
        sample = holdout_texts[:options.embed_texts]
        figures.update(measure_embedding(client, sample, options.runs, server_pid))
        figures["embed_in_process_per_s"] = measure_in_process_embedding(sample, options.runs)
        if figures["embed_in_process_per_s"]:
            figures["http_over_in_process"] = round(figures["embed_per_s"] / figures["embed_in_process_per_s"], 2)
        base, bootstrap = prepare_history(settings, header, history, holdout_texts, scratch)
        figures["history_rows"] = bootstrap.challenger.rows_trained
        cycles, outcomes, last_root = run_cycles(base, header, batch, options.runs, scratch)
        figures["refit_train_s"] = median(refit_times(base, bootstrap.challenger.train_s, options.runs), 2)
        figures.update(cycle_figures(cycles, outcomes, figures["refit_train_s"]))
        raw_batch = [r[header.index(TEXT_COLUMN)] for r in batch]
        figures.update(measure_reaction(base, raw_batch, options.runs, scratch))
        registry = ModelRegistry.of(last_root)
        figures.update(measure_prediction(registry, client, raw_batch, options, scratch / "predict"))
        figures.update(measure_scoring(base, client, options, scratch / "scoring"))
        if server_pid:
            figures["infinity_peak_rss_mb"] = peak_rss_mb(server_pid)
    figures["load_avg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return figures


def refit_times(base: Settings, first_s: float, runs: int) -> list[float]:
    """Seconds of ``runs`` full refits on the history: the bootstrap's (``first_s``) and ``runs - 1`` more."""
    log.info("%d more refits on the history", runs - 1)
    more = [train_challenger(base, "history", RunOptions(strategy="refit")).train_s for _ in range(runs - 1)]
    return [first_s, *more]


def bench(settings: Settings, options: BenchOptions) -> dict:
    """Run the bench in a temp folder (removed after); print progress to the log and return the figures."""
    scratch = Path(tempfile.mkdtemp(prefix="tweet-sentiment-bench-"))
    try:
        return run_bench(settings, options, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
