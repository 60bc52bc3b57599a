"""The refit off the cycle's path (dags/tweet_sentiment_refit.py): is one due, then a fresh model on every
trainable row (challenger.refit, chunk by chunk), judged by the cycle's own gate.

Due when asked for (the DAG's ``force`` Param), or when the champion holds more than ``MAX_CHAMPION_TREES`` trees
(continuation only ever adds trees: a compacting refit bounds the model), unless the champion is itself a fresh
fit or a refit was already judged against it (a rejected one is not tried again every hour); or when a refit pays
(pipeline/refit_policy.py: an error pattern the champion keeps making, or every K batches), judged then at half
the significance since the cycle's challenger of the same batch is judged too. The decision is the cycle's
(retrain.evaluate_challenger, then promote_challenger or keep_champion): promotion is a compare-and-swap on the
champion pointer expecting the champion the refit was trained against, so a refit that ends after the cycle
promoted another model is rejected, with the reason.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from tweet_sentiment.config import Settings
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline import retrain
from tweet_sentiment.pipeline.contracts import ChallengerResult, Evaluation, JsonContract, Outcome
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.refit_policy import refit_pays
from tweet_sentiment.storage.labelled_store import LabelledStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefitDue(JsonContract):
    """The policy's answer: whether a refit runs, why, and the newest batch (the refit's card names it)."""

    due: bool
    reason: str
    batch_id: str | None = None
    shares_batch: bool = False  # a refit that pays (refit_policy): judged at half the significance


def refit_due(settings: Settings, force: bool) -> RefitDue:
    """Whether a refit is due now (see the module doc)."""
    order = LabelledStore(settings.layout().labelled).batch_order()
    if not order:
        return RefitDue(False, "no labelled rows yet")
    if force:
        return RefitDue(True, "asked for", order[-1])
    registry = ModelRegistry.of(settings)
    champion = registry.champion_version()
    if champion is None:
        return RefitDue(False, "no champion yet: the retrain cycle trains the first")
    compaction = _compaction(registry, champion, settings.max_champion_trees)
    if compaction.due:
        return dataclasses.replace(compaction, batch_id=order[-1])
    pays = refit_pays(settings)
    if pays.pays:
        return RefitDue(True, f"a refit pays: {pays.reason}", order[-1], shares_batch=True)
    return RefitDue(False, f"{compaction.reason}; no refit pays: {pays.reason}")


def _compaction(registry: ModelRegistry, champion: str, bound: int) -> RefitDue:
    """Whether the champion holds too many trees (and is not a fresh fit, nor already tried against)."""
    card = registry.card(champion)
    trees = card.get("num_trees", 0)
    if not bound or trees <= bound:
        return RefitDue(False, f"champion {champion} has {trees} trees (bound {bound or 'off'})")
    if card.get("strategy") == "refit":
        return RefitDue(False, f"champion {champion} is a fresh fit ({trees} trees): nothing to compact")
    tried = registry.index_rows(strategy="refit", newest_first=True, limit=1)
    if tried and registry.card(tried[0]["version"]).get("champion_at_training") == champion:
        return RefitDue(False, f"refit {tried[0]['version']} was already judged against champion {champion}")
    return RefitDue(True, f"champion {champion} has {trees} trees, more than {bound}: a compacting refit")


def refit_options(options: RunOptions) -> RunOptions:
    """The run's options with the refit strategy (whatever the Params said)."""
    return dataclasses.replace(options, strategy="refit")


def train_refit(settings: Settings, due: RefitDue, options: RunOptions) -> ChallengerResult:
    """The refit's challenger (a candidate version), trained on every trainable row of the store that weighs
    (challenger.refit)."""
    if not due.due or due.batch_id is None:
        return ChallengerResult(version=None, reason=due.reason)
    log.info("refit: %s", due.reason)
    trained = retrain.train_challenger(settings, due.batch_id, refit_options(options))
    if due.shares_batch and trained.version:  # judged at half the significance (refit_policy.gate_options)
        ModelRegistry.of(settings).update_card(trained.version, shares_batch=True)
    return trained


def judge_refit(settings: Settings, trained: ChallengerResult, options: RunOptions) -> Outcome:
    """Evaluate the refit's challenger against the champion by the cycle's gate, then promote it or keep the
    champion; the outcome holds the asset event to record, if any. The promotion expects the champion the refit
    was trained against: if the cycle promoted another model meanwhile (trained on rows the refit did not see),
    the refit is rejected with the reason, unevaluated."""
    if trained.version is None:
        return Outcome(None, False, trained.reason or "no challenger")
    registry = ModelRegistry.of(settings)
    trained_against = registry.card(trained.version).get("champion_at_training")
    if registry.champion_version() != trained_against:
        moved = Evaluation(trained.version, trained_against, True, "not evaluated")
        return retrain.promote_challenger(settings, moved)  # refused by the compare-and-swap: rejected, with why
    evaluation = retrain.evaluate_challenger(settings, trained, refit_options(options))
    log.info("refit %s: %s", trained.version, evaluation.reason)
    evaluation = dataclasses.replace(evaluation, champion=trained_against)
    if evaluation.promote:
        return retrain.promote_challenger(settings, evaluation)
    return retrain.keep_champion(settings, evaluation, options)
