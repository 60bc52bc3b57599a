"""`make quality SCENARIO=policy`: how much of what annotators teach the loop learns, over several policies.

Each policy (scenarios.POLICIES) gets one stream through the product's own cycle (``retrain.run_cycle``, the
DAG's default options), on its own temporary data root sharing the feature cache, twice (:func:`both_holdouts`):
once as the team re-annotates the fixed-holdout tweets the label check queues (lab/reannotate.py, after every
batch: the gate's holdout follows the team), once with the fixed holdout keeping its old labels (nobody
re-annotates it). The lab alone scores every champion on the policy's *annotators' holdout*: a copy of the fixed
holdout relabelled by the rule (never written where the gate reads). Per policy:

- ``policy_rows_accuracy``: per batch from the rule's start, the champion's accuracy on the holdout rows whose
  label the rule changed; ``batches_to_policy_accuracy_0_8``: the first of those batches (1 = the start batch)
  where it reaches 0.8.
- ``gap_closed``: (champion at the end − bootstrap champion) / (ceiling − bootstrap champion), macro-F1 on the
  annotators' holdout; the ceiling is a lab refit (the same boosting parameters, every row weighing the same) on
  the loop's trainable rows at the end with the rule applied to every one of them, from the first batch on.
- ``unaffected_macro_f1``: the final champion on the fixed-holdout rows the rule's pattern does not match.
- ``batches_to_decision``: batches from the rule's start (1 = the start batch) until the loop promotes a challenger
  that follows the rule (more of the rule's holdout rows right than the champion it replaces) or asks a person
  (an ambiguous challenger).

The medians over policies treat "never" as later than any batch (None when the median falls there). The headline
figures come from the run whose holdout follows the team, except ``batches_to_decision_median``: from the
old-label run, where only the recent window and the correction's slices can show the rule.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from lab.reannotate import reannotate_holdout
from lab.scenarios import POLICIES, Policy, with_feedback
from lab.stream import QualityOptions, batch_bounds, refit_after_cycle
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows, write_rows
from tweet_sentiment.model.boosting import BoostingParams, train_fresh, validation_mask
from tweet_sentiment.model.comparison import Holdout
from tweet_sentiment.model.features import PROJECTION_SAMPLE_ROWS, feature_matrix, fit_schema
from tweet_sentiment.model.gate import metrics, predict_ids
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.model.terms import with_terms
from tweet_sentiment.pipeline.resources import fixed_holdout, infinity_client
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.schema import LABEL_TO_ID, LABELS
from tweet_sentiment.storage.fs import write_json_atomic
from tweet_sentiment.storage.labelled_store import LabelledStore

log = logging.getLogger(__name__)
# the per-batch figures of each run, by whether the team re-annotates the fixed holdout
POLICY_JSON = {True: "quality_policy_team_holdout.json", False: "quality_policy_old_holdout.json"}
HOLDOUTS = ("both", "team", "old")  # which runs: both, the team re-annotating only, the old labels only
ACCURACY_MARK = 0.8  # batches_to_policy_accuracy_0_8: the first batch the rule's holdout rows reach this accuracy


@dataclasses.dataclass(frozen=True)
class AnnotatorsHoldout:
    """The fixed holdout relabelled by a policy: its rows, which labels the rule changed (``touched``), and which
    rows the rule's pattern matches (the others are ``unaffected``)."""

    holdout: Holdout
    touched: np.ndarray
    matching: np.ndarray


def annotators_holdout(fixed: Holdout, policy: Policy) -> AnnotatorsHoldout:
    """``fixed`` with the policy's labels where its pattern matches (a lab-only copy; the gate never sees it)."""
    matching = np.array([policy.matches(t) for t in fixed.texts], dtype=bool)
    labels = np.array([LABEL_TO_ID[policy.relabel.get(LABELS[y], LABELS[y])] if m else y
                       for y, m in zip(fixed.labels, matching, strict=True)], dtype=np.int64)
    return AnnotatorsHoldout(Holdout(fixed.texts, labels), labels != fixed.labels, matching)


def scores(predicted: np.ndarray, annotators: AnnotatorsHoldout) -> dict:
    """Macro-F1 on the annotators' holdout, accuracy on the rows the rule relabelled, macro-F1 on the unmatched."""
    labels, touched, rest = annotators.holdout.labels, annotators.touched, ~annotators.matching
    return {"macro_f1": metrics(labels, predicted)["macro_f1"],
            "policy_rows_accuracy": round(float(np.mean(predicted[touched] == labels[touched])), 4)
            if touched.any() else None,
            "unaffected_macro_f1": metrics(labels[rest], predicted[rest])["macro_f1"]}


def champion_predictions(settings: Settings, texts: list[str]) -> np.ndarray:
    """The pipeline's champion's class ids on ``texts`` (features from the cache)."""
    champion = ModelRegistry.of(settings).champion()
    with infinity_client(settings) as client:
        features = feature_matrix(texts, champion.schema, client, settings.layout().embeddings)
    return predict_ids(champion.booster, features)[0]


def ceiling_predictions(settings: Settings, policy: Policy, texts: list[str]) -> np.ndarray:
    """A lab refit on the pipeline's trainable rows with the rule applied to every row (uniform weights, the
    product's boosting parameters and design, the terms of the corrections the loop found in the champion's term
    slots), predicting ``texts``."""
    rows = LabelledStore(settings.layout().labelled).trainable(["text", "text_hash", "label"])
    labels = [policy.relabel.get(y, y) if policy.matches(t) else y for t, y in zip(rows["text"], rows["label"],
                                                                                 strict=True)]
    params = BoostingParams()
    valid = validation_mask(rows["text_hash"].tolist(), params.validation_fraction)
    champion_schema = ModelRegistry.of(settings).champion().schema
    cache = settings.layout().embeddings
    with infinity_client(settings) as client:
        sample = rows.loc[~valid, "text"].head(PROJECTION_SAMPLE_ROWS).tolist()
        schema = with_terms(fit_schema(champion_schema.design(), sample, client, cache), champion_schema.terms)
        result = train_fresh(feature_matrix(rows["text"].tolist(), schema, client, cache),
                             np.array([LABEL_TO_ID[y] for y in labels]), params, valid)
        return predict_ids(result.booster, feature_matrix(texts, schema, client, cache))[0]


def _decided(figures: dict, before: dict) -> str | None:
    """What the batch's gate did about the rule (the cycle's challenger, the refit's): ``promoted`` (a challenger
    following it: more of the rule's holdout rows right than the champion before), ``asked`` (a person asked:
    ambiguous), or None."""
    if figures["promoted"] and (figures["policy_rows_accuracy"] or 0) > (before["policy_rows_accuracy"] or 0):
        return "promoted"
    return "asked" if figures["ambiguous"] else None


def run_policy(settings: Settings, policy: Policy, header: list[str], rows: list[list[str]],
               bounds: list[tuple[int, int]], options: QualityOptions, root: Path) -> dict:
    """One policy's stream on its own data root, scored on its annotators' holdout after every batch."""
    pipeline = dataclasses.replace(settings, data_root=str(root), file_settle_s=0.0,
                                   cache_root=str(settings.layout().embeddings))
    annotators = annotators_holdout(fixed_holdout(pipeline), policy)
    layout, started, batches, bootstrap = pipeline.layout(), time.perf_counter(), [], {}
    layout.ensure()
    for k, (lo, hi) in enumerate(bounds):
        batch = rows[lo:hi]
        sent, changed = policy.apply(header, batch) if k >= policy.start_batch else (batch, 0)
        write_rows(layout.inbox, f"rows-{lo:05d}-{hi:05d}.csv", *with_feedback(header, sent, batch))
        report = run_cycle(pipeline, f"b{k:04d}", options.run_options(k))
        refitted = refit_after_cycle(pipeline, options.run_options(k)) if k else {}
        holdout_version = reannotate_holdout(pipeline, policy)["holdout_version"] if options.reannotate else None
        now = scores(champion_predictions(pipeline, annotators.holdout.texts), annotators)
        bootstrap = bootstrap or now
        version = report.challenger.version
        card = ModelRegistry.of(pipeline).card(version) if version else {}
        figures = {"batch": k, "rows_relabelled": changed,
                   "promoted": bool(report.decision and report.decision.promoted) or refitted.get("refit_promoted",
                                                                                                  False),
                   "ambiguous": report.evaluation.ambiguous or refitted.get("refit_ambiguous", False),
                   "strategy": report.challenger.strategy, "reason": report.evaluation.reason,
                   "slices": report.evaluation.slices, "holdout_version": holdout_version,
                   "train_cpu_s": card.get("train_cpu_s"), "rows_outdated": card.get("rows_outdated"),
                   **{key: v for key, v in refitted.items() if not key.endswith("metrics")}, **now}
        figures["decision"] = _decided(figures, batches[-1] if batches else now) if k >= policy.start_batch else None
        batches.append(figures)
        log.info("policy %s: batch %d/%d (%d relabelled): %s; annotators' holdout %.4f, rule's rows %s",
                 policy.name, k, len(bounds) - 1, changed, "promoted" if figures["promoted"] else
                 "asked a person" if figures["ambiguous"] else "kept", now["macro_f1"], now["policy_rows_accuracy"])
    ceiling = scores(ceiling_predictions(pipeline, policy, annotators.holdout.texts), annotators)
    return policy_summary(policy, batches, bootstrap, ceiling, int(annotators.touched.sum()),
                          round(time.perf_counter() - started, 1))


def _first(values: list, predicate) -> int | None:
    """1-based position of the first value satisfying ``predicate`` (None: none does)."""
    return next((i + 1 for i, v in enumerate(values) if predicate(v)), None)


def policy_summary(policy: Policy, batches: list[dict], bootstrap: dict, ceiling: dict, holdout_rows: int,
                   seconds: float) -> dict:
    """One policy's figures (see the module doc) from its per-batch figures."""
    after = [b for b in batches if b["batch"] >= policy.start_batch]
    final, room = batches[-1], ceiling["macro_f1"] - bootstrap["macro_f1"]
    accuracy = [b["policy_rows_accuracy"] for b in after]
    return {"policy": policy.name, "pattern": policy.pattern, "start_batch": policy.start_batch,
            "rows_relabelled": sum(b["rows_relabelled"] for b in after),
            "holdout_rows_relabelled": holdout_rows,
            "bootstrap_macro_f1": bootstrap["macro_f1"], "final_macro_f1": final["macro_f1"],
            "ceiling_macro_f1": ceiling["macro_f1"], "ceiling_policy_rows_accuracy": ceiling["policy_rows_accuracy"],
            "gap_closed": round((final["macro_f1"] - bootstrap["macro_f1"]) / room, 4) if room > 0 else None,
            "policy_rows_accuracy": accuracy,
            "batches_to_policy_accuracy_0_8": _first(accuracy, lambda a: a is not None and a >= ACCURACY_MARK),
            "batches_to_decision": _first(after, lambda b: b["decision"] is not None),
            "unaffected_macro_f1": final["unaffected_macro_f1"],
            "promotions": sum(b["promoted"] for b in batches[1:]),
            "asked_a_person": sum(b["ambiguous"] for b in batches[1:]),
            "refit_challengers": sum(b.get("refit_version") is not None for b in batches[1:]),
            "refit_promotions": sum(b.get("refit_promoted", False) for b in batches[1:]),
            "refit_cpu_s_per_batch": round(sum(b.get("refit_cpu_s", 0.0) for b in batches[1:])
                                           / max(len(batches) - 1, 1), 3),
            "train_cpu_s_per_batch": round(sum(b["train_cpu_s"] or 0 for b in batches[1:])
                                           / max(len(batches) - 1, 1), 3),
            "seconds": seconds, "per_batch": batches}


def median_or_never(values: list[float | None]) -> float | None:
    """The median, "never" (None) counting as later / larger than any value; None if the median is "never"."""
    ordered = sorted(values, key=lambda v: (v is None, v or 0))
    if not ordered:
        return None
    low, high = ordered[(len(ordered) - 1) // 2], ordered[len(ordered) // 2]
    return None if low is None or high is None else statistics.fmean([low, high])


def policy_stream(settings: Settings, options: QualityOptions, names: list[str] | None = None) -> dict:
    """Every policy's stream in turn (or those ``names``); the per-policy figures and their medians (written to
    ``reports/``)."""
    started = time.perf_counter()
    policies = [POLICIES[n] for n in (names or list(POLICIES))]
    header, rows = chronological_rows(settings.train_file)
    bounds = batch_bounds(len(rows), options.bootstrap_rows, options.batch_rows, options.max_batches)
    results = []
    with tempfile.TemporaryDirectory(prefix="tweet-sentiment-policy-") as tmp:
        for i, policy in enumerate(policies, start=1):
            log.info("policy %d/%d: %s (%s from batch %d)", i, len(policies), policy.name, policy.pattern,
                     policy.start_batch)
            results.append(run_policy(settings, policy, header, rows, bounds, options, Path(tmp) / policy.name))
    summary = {
        "scenario": "policy", "flagged_rows": options.flagged_rows, "batches": len(bounds) - 1,
        "teaching_weights": dataclasses.asdict(options.teaching),
        "holdout_for_the_gate": ("fixed, re-annotated by the team where the label check queued it" if options.reannotate
                                 else "fixed, old labels, no re-annotation"),
        "gap_closed_median": median_or_never([r["gap_closed"] for r in results]),
        "batches_to_policy_accuracy_0_8_median": median_or_never([r["batches_to_policy_accuracy_0_8"]
                                                                  for r in results]),
        "batches_to_decision_median": median_or_never([r["batches_to_decision"] for r in results]),
        "unaffected_macro_f1_min": min(r["unaffected_macro_f1"] for r in results),
        "refit_cpu_s_per_batch_median": statistics.median(r["refit_cpu_s_per_batch"] for r in results),
        "seconds": round(time.perf_counter() - started, 1),
        "policies": {r["policy"]: {k: v for k, v in r.items() if k != "per_batch"} for r in results}}
    write_json_atomic(settings.layout().reports / POLICY_JSON[options.reannotate],
                      {**summary, "per_batch": {r["policy"]: r["per_batch"] for r in results}})
    return summary


def both_holdouts(settings: Settings, options: QualityOptions, names: list[str] | None = None,
                  holdout: str = "both") -> dict:
    """The policies' streams with the fixed holdout following the team, then keeping its old labels (or only
    one of the two, ``holdout``); with both, the headline figures (see the module doc) and each run's summary."""
    if holdout not in HOLDOUTS:
        raise ValueError(f"unknown holdout {holdout!r}; known: {', '.join(HOLDOUTS)}")
    if holdout != "both":
        return policy_stream(settings, dataclasses.replace(options, reannotate=holdout == "team"), names)
    team = policy_stream(settings, dataclasses.replace(options, reannotate=True), names)
    old = policy_stream(settings, dataclasses.replace(options, reannotate=False), names)
    return {"scenario": "policy", "batches": team["batches"],
            "gap_closed_median": team["gap_closed_median"],
            "batches_to_policy_accuracy_0_8_median": team["batches_to_policy_accuracy_0_8_median"],
            "batches_to_decision_median": old["batches_to_decision_median"],
            "unaffected_macro_f1_min": min(team["unaffected_macro_f1_min"], old["unaffected_macro_f1_min"]),
            "refit_cpu_s_per_batch_median": team["refit_cpu_s_per_batch_median"],
            "seconds": round(team["seconds"] + old["seconds"], 1), "team_holdout": team, "old_holdout": old}
