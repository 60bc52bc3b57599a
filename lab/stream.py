"""`make quality`: stream the whole training file through the pipeline's own cycle and report how it learns.

Pipelines, each on its own temporary data root (sharing the configured feature cache), get the same
chronological batches: bootstrap on the first ``bootstrap_rows`` tweets, then ``batch_rows`` at a time, each
through ``tasks.run_cycle`` (claim + ingest, embed, train, evaluate on both holdouts, promote or keep, archive).
``continue`` runs the DAG's default strategy, ``refit`` refits on every labelled row (the full refit that the
continued champion is held to). Batches are sent as annotators' batches (scenarios.with_feedback: eight simulated
people shown the lexicon's label). In a policy scenario (scenarios.POLICIES) both stream the relabelled rows, and a
third pipeline, ``plain``, streams the original rows: the reference for how well a champion can do on its labels.
Reports (learning curve, confusion matrix, the per-cycle figures) go to ``<data_root>/reports/``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lab.charts import CONFUSION_PNG, LEARNING_CURVE_PNG, confusion_png, learning_curve_png
from lab.reannotate import reannotate_holdout
from lab.scenarios import POLICIES, Policy, with_feedback
from lab.summary import held_figures, policy_figures, summarise, unaffected_macro_f1
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows, write_rows
from tweet_sentiment.label_check.teaching import TeachingWeights
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.model.registry_index import AWAITING
from tweet_sentiment.pipeline import refit
from tweet_sentiment.pipeline.contracts import RunReport
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.storage.csvio import to_csv_bytes
from tweet_sentiment.storage.fs import write_json_atomic

log = logging.getLogger(__name__)
QUALITY_JSON = "quality.json"


@dataclass(frozen=True)
class QualityOptions:
    """The stream: bootstrap size, batch size, optionally fewer batches, the scenario (plain, policy: every policy
    in turn (lab/policies.py), or one policy's name), and what the label check does with flagged rows."""

    bootstrap_rows: int = 8000
    batch_rows: int = 2000
    max_batches: int | None = None
    scenario: str = "plain"
    flagged_rows: str = "hold"  # the label check's Param for every run of the stream
    flip_seeds: int = 3  # the noisy scenario: how many seeds of the label flips (held and unchecked run per seed)
    teaching: TeachingWeights = field(default_factory=TeachingWeights)  # the rows that teach, in every run
    reannotate: bool = False  # a policy's team re-annotates the fixed-holdout tweets the label check queues

    def run_options(self, k: int, strategy: str = "continue") -> RunOptions:
        """Batch ``k``'s options: the bootstrap (0) is a forced refit, every later batch runs ``strategy``."""
        if k == 0:
            return RunOptions(strategy="refit", force_promote=True, flagged_rows=self.flagged_rows,
                              teaching=self.teaching)
        return RunOptions(strategy=strategy, flagged_rows=self.flagged_rows, teaching=self.teaching)

    @property
    def policy(self) -> Policy | None:
        if self.scenario not in ("plain", "policy") and self.scenario not in POLICIES:
            raise ValueError(f"unknown scenario {self.scenario!r}; known: plain, policy, {', '.join(POLICIES)}")
        return POLICIES.get(self.scenario)


def batch_bounds(total: int, bootstrap_rows: int, batch_rows: int, max_batches: int | None) -> list[tuple[int, int]]:
    """Row ranges of the stream: the bootstrap, then consecutive batches up to the end of the file."""
    batches = [(lo, min(lo + batch_rows, total)) for lo in range(bootstrap_rows, total, batch_rows)]
    return [(0, min(bootstrap_rows, total)), *batches[:max_batches]]


def _champion_after(report: RunReport) -> tuple[dict, dict | None]:
    """The champion's metrics after the cycle, on the fixed holdout and on the recent window."""
    evaluation = report.evaluation
    if report.decision and report.decision.promoted:
        return evaluation.challenger_metrics or {}, evaluation.challenger_recent_metrics
    return evaluation.champion_metrics or {}, evaluation.champion_recent_metrics


def cycle_figures(name: str, report: RunReport) -> dict:
    """One pipeline's figures of one cycle (keys prefixed with the pipeline's name)."""
    evaluation, challenger = report.evaluation, report.challenger
    champion, recent = _champion_after(report)
    return {f"{name}_f1": champion["macro_f1"], f"{name}_promoted": bool(report.decision.promoted),
            f"{name}_reason": evaluation.reason, f"{name}_ambiguous": evaluation.ambiguous,
            f"{name}_slices": evaluation.slices,
            f"{name}_recent_f1": (recent or {}).get("macro_f1"),
            f"{name}_challenger_f1": (evaluation.challenger_metrics or {}).get("macro_f1"),
            f"{name}_challenger_recent_f1": (evaluation.challenger_recent_metrics or {}).get("macro_f1"),
            f"{name}_challenger_max_abs_raw": (evaluation.challenger_metrics or {}).get("max_abs_raw"),
            f"{name}_validation_f1": challenger.validation_macro_f1,
            f"{name}_strategy": challenger.strategy, f"{name}_train_s": challenger.train_s,
            f"{name}_cycle_s": round(sum(report.timings_s.values()), 2),
            f"{name}_confusion": champion["confusion"]}


def refit_after_cycle(settings: Settings, options: RunOptions) -> dict:
    """The off-cycle refit path after a cycle, as the refit DAG runs it (due → train → judge): a refit challenger
    when one pays (pipeline/refit_policy.py); what became of it."""
    due = refit.refit_due(settings, force=False)
    if not due.due:
        return {"refit_version": None, "refit_promoted": False, "refit_ambiguous": False, "refit_cpu_s": 0.0,
                "refit_reason": due.reason}
    trained = refit.train_refit(settings, due, options)
    outcome = refit.judge_refit(settings, trained, options)
    card = ModelRegistry.of(settings).card(trained.version) if trained.version else {}
    return {"refit_version": trained.version, "refit_promoted": outcome.promoted,
            "refit_ambiguous": card.get("status") == AWAITING, "refit_cpu_s": card.get("train_cpu_s") or 0.0,
            "refit_rows_outdated": card.get("rows_outdated"),
            "refit_reason": f"{due.reason}; {outcome.reason}", "refit_metrics": card.get("metrics"),
            "refit_recent_metrics": card.get("recent_metrics")}


def _relabelled_dataset(settings: Settings, policy: Policy, folder: Path) -> str:
    """A dataset folder whose holdout file the policy relabelled (the training file linked as it is)."""
    folder.mkdir(parents=True)
    (folder / settings.train_file.name).symlink_to(settings.train_file)
    header, rows = chronological_rows(settings.holdout_file)
    (folder / settings.holdout_file.name).write_bytes(to_csv_bytes(header, policy.apply(header, rows)[0]))
    return str(folder)


def _pipelines(settings: Settings, policy: Policy | None, tmp: str) -> dict[str, tuple[Settings, bool]]:
    """name → (the pipeline's settings, whether it streams the policy's labels)."""
    common = {"file_settle_s": 0.0, "cache_root": str(settings.layout().embeddings)}
    dataset = (_relabelled_dataset(settings, policy, Path(tmp) / "dataset")
               if policy and policy.relabel_holdout else settings.dataset_dir)
    pipelines = {name: (dataclasses.replace(settings, data_root=os.path.join(tmp, name), dataset_dir=dataset,
                                            **common), policy is not None) for name in ("continue", "refit")}
    if policy:
        pipelines["plain"] = (dataclasses.replace(settings, data_root=os.path.join(tmp, "plain"), **common), False)
    return pipelines


def stream(settings: Settings, options: QualityOptions) -> dict:
    """Run the stream, write the reports, return the summary (with the per-cycle figures under ``per_cycle``)."""
    policy = options.policy
    header, rows = chronological_rows(settings.train_file)
    bounds = batch_bounds(len(rows), options.bootstrap_rows, options.batch_rows, options.max_batches)
    cycles: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="tweet-sentiment-quality-") as tmp:
        pipelines = _pipelines(settings, policy, tmp)
        for k, (lo, hi) in enumerate(bounds):
            batch, touched = rows[lo:hi], 0
            if policy and k >= policy.start_batch:
                relabelled, touched = policy.apply(header, batch)
            cycle: dict = {"cycle": k, "rows_seen": hi, "rows_touched": touched}
            for name, (pipeline, relabel) in pipelines.items():
                layout = pipeline.layout()
                layout.ensure()
                write_rows(layout.inbox, f"rows-{lo:05d}-{hi:05d}.csv",
                           *with_feedback(header, relabelled if relabel and touched else batch, batch))
                run_options = options.run_options(k, "refit" if name == "refit" else "continue")
                cycle.update(cycle_figures(name, run_cycle(pipeline, f"b{k:04d}", run_options)))
                if name == "continue" and k:  # the product's loop: its refit path too
                    cycle.update(_after_refit(refit_after_cycle(pipeline, run_options)))
                if relabel and options.reannotate:
                    cycle[f"{name}_holdout_version"] = reannotate_holdout(pipeline, policy)["holdout_version"]
            cycles.append(cycle)
            log.info("cycle %d/%d (%d rows, %d relabelled): continued %.4f (recent %s, %s), refit challenger %.4f",
                     k, len(bounds) - 1, hi, touched, cycle["continue_f1"], cycle["continue_recent_f1"],
                     "promoted" if cycle["continue_promoted"] else "kept", cycle["refit_challenger_f1"])
        summary = {**summarise(cycles, pipelines["continue"][0]), **held_figures(pipelines["continue"][0], policy)}
        if policy:
            summary.update(policy_figures(cycles, policy),
                           unaffected_macro_f1=unaffected_macro_f1(pipelines["continue"][0], policy))
    return {"scenario": options.scenario, "flagged_rows": options.flagged_rows, "reannotate": options.reannotate,
            **summary,
            **_write_reports(settings, options, summary, cycles)}


def _after_refit(refitted: dict) -> dict:
    """The continued pipeline's figures of the refit path; a promoted refit is the champion after the cycle."""
    figures = {f"continue_{k}": v for k, v in refitted.items() if not k.endswith("metrics")}
    if refitted["refit_promoted"]:
        figures.update(continue_f1=refitted["refit_metrics"]["macro_f1"],
                       continue_recent_f1=(refitted["refit_recent_metrics"] or {}).get("macro_f1"),
                       continue_confusion=refitted["refit_metrics"]["confusion"])
    return figures


def _write_reports(settings: Settings, options: QualityOptions, summary: dict, cycles: list[dict]) -> dict:
    reports = settings.layout().reports
    curve = learning_curve_png(cycles, reports / LEARNING_CURVE_PNG,
                               f"Streaming the training file in batches of {options.batch_rows:,} "
                               f"({options.scenario} scenario)")
    confusion = confusion_png(cycles[-1]["continue_confusion"], reports / CONFUSION_PNG,
                              f"Continued champion on the holdout (macro-F1 {summary['final_macro_f1']:.4f})")
    write_json_atomic(reports / QUALITY_JSON, {"scenario": options.scenario, **summary, "per_cycle": cycles})
    return {"reports": [str(curve), str(confusion)]}
