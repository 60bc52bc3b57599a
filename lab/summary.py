"""The headline figures of a `make quality` stream, from its per-cycle figures (see quality.cycle_figures)."""

from __future__ import annotations

import statistics

import pandas as pd

from lab.scenarios import Policy
from tweet_sentiment.config import Settings
from tweet_sentiment.label_check.check import HELD, KEPT, read_flagged
from tweet_sentiment.model.features import feature_matrix
from tweet_sentiment.model.gate import evaluate
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.resources import fixed_holdout, infinity_client
from tweet_sentiment.storage.fs import list_dir
from tweet_sentiment.storage.labelled_store import LabelledStore

ADAPTED_WITHIN = 0.015  # a policy champion within this of the plain one on the same rows has adapted
HORIZON = 3  # batches after the policy starts at which the policy figures are read


def summarise(cycles: list[dict], continued: Settings) -> dict:
    """Final champions, the largest shortfall of continued vs refit, training costs, promotions, supersessions."""
    later = cycles[1:] or cycles
    gaps = [c["refit_challenger_f1"] - c["continue_f1"] for c in later]
    continue_s = [c["continue_train_s"] for c in later if c["continue_strategy"] == "continue"]
    mean_continue = statistics.fmean(continue_s) if continue_s else None
    mean_refit = statistics.fmean(c["refit_train_s"] for c in later)
    store = LabelledStore(continued.layout().labelled)
    return {
        "final_macro_f1": cycles[-1]["continue_f1"],
        "recent_macro_f1": cycles[-1]["continue_recent_f1"],
        "refit_macro_f1": cycles[-1]["refit_challenger_f1"],
        "refit_champion_macro_f1": cycles[-1]["refit_f1"],
        "max_gap_to_refit": round(max(gaps), 5),
        "mean_continue_train_s": round(mean_continue, 3) if mean_continue is not None else None,
        "mean_refit_train_s": round(mean_refit, 3),
        "continue_to_refit_cost": round(mean_continue / mean_refit, 4) if mean_continue and mean_refit else None,
        "max_continue_cycle_s": max(c["continue_cycle_s"] for c in later),
        "promotions": sum(c["continue_promoted"] + c.get("continue_refit_promoted", False) for c in later),
        "refit_challengers": sum(c.get("continue_refit_version") is not None for c in later),
        "refit_cpu_s_per_batch": round(statistics.fmean(c.get("continue_refit_cpu_s", 0.0) for c in later), 3),
        "superseded_rows": len(store.read_all()) - len(store.current()),
        "cycles": len(cycles), "rows_streamed": cycles[-1]["rows_seen"],
        "policy_macro_f1": None, "plain_macro_f1_same_rows": None, "policy_gap_to_refit": None,
        "batches_to_adapt": None, "unaffected_macro_f1": None,
    }


def policy_figures(cycles: list[dict], policy: Policy) -> dict:
    """How fast the continued champion learnt the policy, on the recent window's current labels.

    ``batches_to_adapt``: the first batch after the policy starts (1 = its first batch) from which on the champion
    stays within ADAPTED_WITHIN of the plain scenario's champion on the same rows (right after the start the
    window is still mostly older rows, so being close once is not adapting); the other figures are read HORIZON
    batches after the start (or at the last batch, in a shorter stream).
    """
    after = [c for c in cycles if c["cycle"] >= policy.start_batch]
    if not after:
        return {}
    close = [c["continue_recent_f1"] >= c["plain_recent_f1"] - ADAPTED_WITHIN for c in after]
    decided = [i + 1 for i, c in enumerate(after) if c["continue_promoted"] or c.get("continue_ambiguous")]
    adapted = [i + 1 for i in range(len(after)) if all(close[i:])]
    at = after[min(HORIZON, len(after)) - 1]
    streamed = after[-1]["rows_seen"] - cycles[policy.start_batch - 1]["rows_seen"]
    return {"policy_macro_f1": at["continue_recent_f1"], "plain_macro_f1_same_rows": at["plain_recent_f1"],
            "policy_gap_to_refit": round(at["refit_challenger_recent_f1"] - at["continue_recent_f1"], 5),
            "batches_to_adapt": adapted[0] if adapted else None,
            # batches after the start until the continued pipeline promotes a challenger or asks a person
            "batches_to_decision": decided[0] if decided else None,
            "rows_relabelled_share": round(sum(c["rows_touched"] for c in after) / streamed, 4)}


def unaffected_macro_f1(settings: Settings, policy: Policy) -> float:
    """The champion's fixed-holdout macro-F1 on the rows the policy does not touch."""
    holdout = fixed_holdout(settings)
    keep = [i for i, text in enumerate(holdout.texts) if not policy.matches(text)]
    champion = ModelRegistry.of(settings).champion()
    with infinity_client(settings) as client:
        features = feature_matrix([holdout.texts[i] for i in keep], champion.schema, client,
                                  settings.layout().embeddings)
    return evaluate(champion.booster, features, holdout.labels[keep])["macro_f1"]


def held_figures(settings: Settings, policy: Policy | None) -> dict:
    """What the label check did over a whole stream of one pipeline: rows flagged, held, kept as systematic
    corrections, and (in a policy scenario) how many held rows the policy relabelled: the loop must not lose them."""
    flagged = [read_flagged(p) for p in list_dir(settings.layout().labels / "flagged") if p.suffix == ".parquet"]
    rows = (pd.concat(flagged, ignore_index=True) if flagged
            else pd.DataFrame(columns=["action", "raw_text", "batch_id"]))
    held = rows[rows["action"] == HELD]
    figures = {"label_check_flagged": len(rows), "label_check_held": len(held),
               "label_check_kept_as_correction": int((rows["action"] == KEPT).sum())}
    if policy:  # the held rows the policy touched: its batches on (the stream's batch ids are b0000, b0001, ...)
        since = held[held["batch_id"] >= f"b{policy.start_batch:04d}"]
        figures["policy_rows_held"] = int(sum(policy.matches(t) for t in since["raw_text"]))
    return figures
