"""The measured cycle: DAG runs under a real scheduler on copies of the history's data root, and their figures."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

from benchmarks.airflow_stack import AirflowStack
from benchmarks.options import median
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import write_rows
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.contracts import RunReport
from tweet_sentiment.storage.fs import read_json

log = logging.getLogger(__name__)


def run_cycles(base: Settings, header: list[str], batch: list[list[str]], runs: int,
               scratch: Path) -> tuple[list[dict], list[dict], Settings]:
    """``runs`` DAG runs under a real scheduler, each on a fresh copy of ``base`` with ``batch`` in the inbox
    (its vectors not cached)."""
    root = dataclasses.replace(base, data_root=str(scratch / "cycle"), cache_root=str(scratch / "cycle-cache"))
    cycles, outcomes = [], []
    with AirflowStack(root, scratch / "airflow") as stack:
        for run in range(runs):
            for target, source in ((root.data_root, base.data_root), (root.cache_root, base.cache_root)):
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(source, target)
            shutil.rmtree(Path(root.data_root) / "reports" / "runs", ignore_errors=True)
            write_rows(root.layout().inbox, f"batch-{run}.csv", header, batch)
            log.info("cycle %d/%d: a DAG run on a %d-tweet batch", run + 1, runs, len(batch))
            cycles.append(stack.run(first=run == 0))
            outcomes.append(cycle_outcome(root))
            log.info("cycle %d: %s", run, cycles[-1])
    return cycles, outcomes, root


def cycle_outcome(root: Settings) -> dict:
    """Ledger, decision and the challenger's training time, from the run report the archive task wrote."""
    layout = root.layout()
    report = RunReport.from_json(read_json(next((layout.reports / "runs").iterdir())))
    registry = ModelRegistry.of(root)
    champion = registry.card(registry.champion_version())
    return {"ledger": report.ledger, "promoted": bool(report.decision and report.decision.promoted),
            "continue_train_s": report.challenger.train_s, "strategy": report.challenger.strategy,
            "champion_macro_f1": (champion.get("metrics") or {}).get("macro_f1")}


def cycle_figures(cycles: list[dict], outcomes: list[dict], refit_s: float) -> dict:
    """The cycle's figures: medians over the runs, the last run's states, ledger and decision."""
    task_names = sorted({name for c in cycles for name in c["tasks_s"]})
    ledger = outcomes[-1]["ledger"]
    continue_s = median([o["continue_train_s"] for o in outcomes], 3)
    return {
        "cycle_s": median([c["decision_s"] for c in cycles], 2),
        "cycle_s_runs": [c["decision_s"] for c in cycles],
        "cycle_airflow_overhead_s": median([c["overhead_s"] for c in cycles], 2),
        "cycle_tasks_s": {n: median([c["tasks_s"][n] for c in cycles if n in c["tasks_s"]], 2) for n in task_names},
        "cycle_states": cycles[-1]["states"],
        "continue_train_s": continue_s,
        "continue_over_refit": round(continue_s / refit_s, 3),
        "challenger_strategy": outcomes[-1]["strategy"],
        "promoted": outcomes[-1]["promoted"],
        "champion_macro_f1": outcomes[-1]["champion_macro_f1"],
        "rows_in": ledger["rows_in"], "rows_accepted": ledger["rows_accepted"],
        "rows_quarantined": ledger["rows_quarantined"], "rows_held": ledger.get("rows_held", 0),
        "tasks_peak_rss_mb": max(c["peak_rss_mb"] for c in cycles),
        "task_processes_sampled": min(c["processes"] for c in cycles),
    }
