"""`make quality SCENARIO=noisy`: the label check on the chronological stream with 10 % of labels flipped at random.

Pipelines, each on its own temporary data root (sharing the feature cache), get the same batches (bootstrap, then
``batch_rows`` at a time, sent as annotators' batches) through ``tasks.run_cycle``: ``clean`` streams the labels as
they are (once); then, for each of ``flip_seeds`` seeds of the flips, ``held`` and ``unchecked`` stream the same
rows with ``NOISE`` of each batch's labels flipped to another class, with the flagged rows held (the default) and
with the check off. Per batch of ``held``: the flagger's recall of the flipped rows and its false-flag rate on the
others (over the rows the ingest accepted), and the check's seconds. At the end each pipeline makes a forced refit
on its whole store, scored and compared on true-label holdouts (noisy_refits.py; summary: label_check_summary.py).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import tempfile

import pandas as pd

from lab.noisy_summary import noisy_summary
from lab.refits import champion_probabilities, compare, scores, true_label_holdouts
from lab.scenarios import flip_labels, with_feedback
from lab.stream import QualityOptions, batch_bounds, cycle_figures
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows, write_rows
from tweet_sentiment.label_check.check import HELD, flagged_file, read_flagged
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.storage.fs import write_json_atomic
from tweet_sentiment.storage.labelled_store import LabelledStore

log = logging.getLogger(__name__)
NOISE = 0.1
NOISY_JSON = "quality_noisy.json"


def flag_figures(settings: Settings, batch_id: str, flipped: set[int], check: dict) -> dict:
    """Recall of the flipped rows and false-flag rate on the others, over the rows the ingest accepted."""
    layout = settings.layout()
    path = flagged_file(layout, batch_id)
    flagged = read_flagged(path) if path.exists() else pd.DataFrame(columns=["source_row", "action"])
    store = LabelledStore(layout.labelled)
    stored = set(store.read_batch(batch_id, ["source_row"])["source_row"]) if store.has_batch(batch_id) else set()
    checked = stored | set(flagged.loc[flagged["action"] == HELD, "source_row"])
    found, bad = set(flagged["source_row"]), flipped & checked
    return {"held_recall": round(len(found & bad) / max(1, len(bad)), 4),
            "held_false_flag_rate": round(len(found - bad) / max(1, len(checked - bad)), 4),
            "held_flagged": len(found), "held_rows_held": check.get("rows_held", 0),
            "held_flipped_checked": len(bad), "held_check_s": check.get("seconds"),
            "held_check_cpu_s": check.get("cpu_seconds")}


def _refit(settings: Settings, mode: str) -> None:
    """A forced refit on the pipeline's whole store (no new files): it becomes the pipeline's champion."""
    run_cycle(settings, "final_refit", RunOptions(strategy="refit", force_promote=True, flagged_rows=mode))


def _run_stream(pipeline: Settings, name: str, mode: str, header: list[str], batches: list[tuple[int, int, list]],
                noisy: list[tuple[list[list[str]], set[int]]] | None) -> list[dict]:
    """Send the batches (``noisy``: the flipped rows instead, and the label check's figures) through one
    pipeline's cycle, then refit it; its per-cycle figures."""
    pipeline.layout().ensure()
    cycles = []
    for k, (lo, hi, batch) in enumerate(batches):
        write_rows(pipeline.layout().inbox, f"rows-{lo:05d}-{hi:05d}.csv",
                   *with_feedback(header, noisy[k][0] if noisy else batch, batch))
        run_options = (RunOptions(strategy="refit", force_promote=True, flagged_rows=mode) if k == 0
                       else RunOptions(flagged_rows=mode))
        report = run_cycle(pipeline, f"b{k:04d}", run_options)
        cycle = {"cycle": k, "rows_seen": hi, **cycle_figures(name, report)}
        if noisy and mode == "hold":
            cycle.update(flag_figures(pipeline, f"b{k:04d}", noisy[k][1], report.label_check))
        cycles.append(cycle)
        log.info("noisy %s, cycle %d/%d: champion %.4f", name, k, len(batches) - 1, cycle[f"{name}_f1"])
    _refit(pipeline, mode)
    return cycles


def _seed_run(settings: Settings, tmp: str, header: list[str], batches: list[tuple[int, int, list]], seed: int,
              holdouts: dict, clean: dict) -> dict:
    """One seed of the flips: the held and the unchecked pipelines streamed and refitted, scored and compared."""
    rng = random.Random(seed)
    noisy = [flip_labels(header, batch, NOISE, rng) for _, _, batch in batches]
    probabilities, cycles = {}, {}
    for name, mode in (("held", "hold"), ("unchecked", "off")):
        pipeline = _pipeline(settings, tmp, f"{name}-{seed}")
        cycles[name] = _run_stream(pipeline, name, mode, header, batches, noisy)
        probabilities[name] = champion_probabilities(pipeline, holdouts)
    run = {"seed": seed, "rows_flipped": [len(f) for _, f in noisy],
           "cycles": [h | u for h, u in zip(cycles["held"], cycles["unchecked"], strict=True)],
           "scores": {name: scores(holdouts, p) for name, p in probabilities.items()},
           "held_vs_unchecked": compare(holdouts, probabilities["unchecked"], probabilities["held"]),
           "clean_vs_unchecked": compare(holdouts, probabilities["unchecked"], clean),
           "clean_vs_held": compare(holdouts, probabilities["held"], clean)}
    log.info("noisy seed %d: fixed holdout held %s, unchecked %s", seed, run["scores"]["held"]["fixed"],
             run["scores"]["unchecked"]["fixed"])
    return run


def _pipeline(settings: Settings, tmp: str, name: str) -> Settings:
    return dataclasses.replace(settings, data_root=os.path.join(tmp, name), file_settle_s=0.0,
                               cache_root=str(settings.layout().embeddings))


def noisy_stream(settings: Settings, options: QualityOptions) -> dict:
    """Run the noisy scenario (clean once, held and unchecked for ``options.flip_seeds`` seeds of the flips); the
    summary (everything, per seed and per cycle, in ``<reports>/quality_noisy.json``)."""
    header, rows = chronological_rows(settings.train_file)
    bounds = batch_bounds(len(rows), options.bootstrap_rows, options.batch_rows, options.max_batches)
    batches = [(lo, hi, rows[lo:hi]) for lo, hi in bounds]
    with tempfile.TemporaryDirectory(prefix="tweet-sentiment-noisy-") as tmp:
        clean = _pipeline(settings, tmp, "clean")
        clean_cycles = _run_stream(clean, "clean", "hold", header, batches, None)
        holdouts = true_label_holdouts(clean)
        reference = champion_probabilities(clean, holdouts)
        seeds = [_seed_run(settings, tmp, header, batches, settings.seed + i, holdouts, reference)
                 for i in range(options.flip_seeds)]
    clean_scores = scores(holdouts, reference)
    runs = {"clean_scores": clean_scores, "clean_cycles": clean_cycles, "seeds": seeds}
    write_json_atomic(settings.layout().reports / NOISY_JSON, runs)  # kept even if the summary fails
    summary = {"scenario": "noisy", "noise": NOISE, **noisy_summary(clean_scores, seeds, options.batch_rows)}
    write_json_atomic(settings.layout().reports / NOISY_JSON, {**summary, **runs})
    return summary
