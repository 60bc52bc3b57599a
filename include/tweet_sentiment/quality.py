"""`make quality`: stream the whole training file through the pipeline's own cycle, continued vs full refit.

Two pipelines, each on its own temporary data root (sharing the configured feature cache), get the same
chronological batches: bootstrap on the first ``bootstrap_rows`` tweets, then ``batch_rows`` at a time. Each
batch goes through ``tasks.run_cycle`` (claim + ingest, embed, train, evaluate on the holdout, promote or keep,
archive): one pipeline with the DAG's default strategy (continue), the other refitting on every labelled row.
The refit challenger of a cycle is the "full refit on the same data" that the continued champion is held to.
Reports (learning curve, confusion matrix, the per-cycle figures) go to ``<data_root>/reports/``.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import tempfile
from dataclasses import dataclass

from tweet_sentiment.config import Settings
from tweet_sentiment.datafs import write_json_atomic
from tweet_sentiment.feed import chronological_rows, write_rows
from tweet_sentiment.reports import CONFUSION_PNG, LEARNING_CURVE_PNG, confusion_png, learning_curve_png
from tweet_sentiment.run_options import RunOptions
from tweet_sentiment.tasks import run_cycle

log = logging.getLogger(__name__)
PIPELINES = ("continue", "refit")
QUALITY_JSON = "quality.json"


@dataclass(frozen=True)
class QualityOptions:
    """The stream: bootstrap size, batch size, and optionally fewer batches (a quick look)."""

    bootstrap_rows: int = 8000
    batch_rows: int = 2000
    max_batches: int | None = None


def batch_bounds(total: int, bootstrap_rows: int, batch_rows: int, max_batches: int | None) -> list[tuple[int, int]]:
    """Row ranges of the stream: the bootstrap, then consecutive batches up to the end of the file."""
    batches = [(lo, min(lo + batch_rows, total)) for lo in range(bootstrap_rows, total, batch_rows)]
    return [(0, min(bootstrap_rows, total)), *batches[:max_batches]]


def _cycle_figures(name: str, report: dict) -> dict:
    evaluation, challenger = report["evaluation"], report["challenger"]
    promoted = report["decision"]["promoted"]
    champion = evaluation["challenger_metrics"] if promoted else evaluation["champion_metrics"]
    return {f"{name}_f1": champion["macro_f1"], f"{name}_promoted": promoted,
            f"{name}_challenger_f1": (evaluation["challenger_metrics"] or {}).get("macro_f1"),
            f"{name}_challenger_max_abs_raw": (evaluation["challenger_metrics"] or {}).get("max_abs_raw"),
            f"{name}_validation_f1": challenger.get("validation_macro_f1"),
            f"{name}_strategy": challenger.get("strategy"), f"{name}_train_s": challenger.get("train_s"),
            f"{name}_cycle_s": round(sum(report["timings_s"].values()), 2),
            f"{name}_confusion": champion["confusion"]}


def summarise(cycles: list[dict]) -> dict:
    """The headline figures: final champions, the largest shortfall of continued vs refit, training costs."""
    later = cycles[1:] or cycles
    gaps = [c["refit_challenger_f1"] - c["continue_f1"] for c in later]
    continue_s = [c["continue_train_s"] for c in later if c["continue_strategy"] == "continue"]
    refit_s = [c["refit_train_s"] for c in later]
    mean_continue = statistics.fmean(continue_s) if continue_s else None
    mean_refit = statistics.fmean(refit_s)
    return {
        "final_macro_f1": cycles[-1]["continue_f1"],
        "refit_macro_f1": cycles[-1]["refit_challenger_f1"],
        "refit_champion_macro_f1": cycles[-1]["refit_f1"],
        "max_gap_to_refit": round(max(gaps), 5),
        "mean_continue_train_s": round(mean_continue, 3) if mean_continue is not None else None,
        "mean_refit_train_s": round(mean_refit, 3),
        "continue_to_refit_cost": round(mean_continue / mean_refit, 4) if mean_continue and mean_refit else None,
        "max_continue_cycle_s": max(c["continue_cycle_s"] for c in later),
        "continue_promotions": sum(c["continue_promoted"] for c in later),
        "cycles": len(cycles), "rows_streamed": cycles[-1]["rows_seen"],
    }


def stream(settings: Settings, options: QualityOptions) -> dict:
    """Run the stream, write the reports, return the summary (with the per-cycle figures under ``per_cycle``)."""
    header, rows = chronological_rows(settings.train_file)
    bounds = batch_bounds(len(rows), options.bootstrap_rows, options.batch_rows, options.max_batches)
    reports = settings.layout().reports
    cycles: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="tweet-sentiment-quality-") as tmp:
        pipelines = {name: dataclasses.replace(settings, data_root=f"{tmp}/{name}", file_settle_s=0.0,
                                               cache_root=str(settings.layout().embeddings))
                     for name in PIPELINES}
        for k, (lo, hi) in enumerate(bounds):
            cycle: dict = {"cycle": k, "rows_seen": hi}
            for name, pipeline in pipelines.items():
                layout = pipeline.layout()
                layout.ensure()
                write_rows(layout.inbox, f"rows-{lo:05d}-{hi:05d}.csv", header, rows[lo:hi])
                run_options = (RunOptions(strategy="refit", force_promote=True) if k == 0
                               else RunOptions(strategy=name))
                cycle.update(_cycle_figures(name, run_cycle(pipeline, f"b{k:04d}", run_options)))
            cycles.append(cycle)
            log.info("cycle %d (%d rows): continued %.4f, refit %.4f (challenger %.4f); train %.2f s vs %.2f s",
                     k, hi, cycle["continue_f1"], cycle["refit_f1"], cycle["refit_challenger_f1"],
                     cycle["continue_train_s"], cycle["refit_train_s"])
    summary = summarise(cycles)
    curve = learning_curve_png(cycles, reports / LEARNING_CURVE_PNG,
                               f"Streaming the training file in batches of {options.batch_rows:,}")
    confusion = confusion_png(cycles[-1]["continue_confusion"], reports / CONFUSION_PNG,
                              f"Continued champion on the holdout (macro-F1 {summary['final_macro_f1']:.4f})")
    summary["reports"] = [str(curve), str(confusion)]
    write_json_atomic(reports / QUALITY_JSON, {**summary, "per_cycle": cycles})
    return summary
