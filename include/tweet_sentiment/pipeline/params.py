"""What a person chooses for one run: the DAGs' Params, defined once here, and the options built from them
(RunOptions for the retrain DAG, ScoreOptions for the scoring DAG)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tweet_sentiment.label_check.teaching import TeachingWeights
from tweet_sentiment.model.boosting import BoostingParams
from tweet_sentiment.model.gate import GateRules

STRATEGIES = ("continue", "refit")
_CAST = {"integer": int, "number": float, "boolean": bool, "string": str}


@dataclass(frozen=True)
class ParamSpec:
    """One Param of the trigger form: default, title, form section, description, JSON-schema constraints."""

    default: Any
    title: str
    section: str
    description: str
    schema: dict[str, Any]

    def cast(self, value: Any) -> Any:
        """``value`` as the Python type the schema names (the form may send numbers as floats)."""
        return _CAST[self.schema.get("type", "string")](value)


_B = BoostingParams()
# The keys of BoostingParams that a run may override.
BOOSTING_PARAMS = ("num_boost_round", "learning_rate", "continue_rounds", "continue_learning_rate")
PARAMS: dict[str, ParamSpec] = {
    "strategy": ParamSpec(
        "continue", "Strategy", "Training",
        "continue: boost the champion on the new rows plus replayed older rows; refit: train anew on every "
        "labelled row. With no new files in the inbox, a manual run with refit retrains on the labelled store at "
        "once, and one with continue ends skipped at once (the reason in sense_inbox's log and the run's note)",
        {"type": "string", "enum": list(STRATEGIES)}),
    "num_boost_round": ParamSpec(
        _B.num_boost_round, "Trees of a refit", "Training",
        "trees per class of a fresh (refit) model, at most (and at most TWEET_SENTIMENT_MAX_CHAMPION_TREES / 10)",
        {"type": "integer", "minimum": 10, "maximum": 3000}),
    "learning_rate": ParamSpec(
        _B.learning_rate, "Learning rate of a refit", "Training", "learning rate of a fresh (refit) model",
        {"type": "number", "exclusiveMinimum": 0, "maximum": 1}),
    "continue_rounds": ParamSpec(
        _B.continue_rounds, "Trees added when continuing", "Training",
        "trees per class added to the champion, at most", {"type": "integer", "minimum": 1, "maximum": 1000}),
    "continue_learning_rate": ParamSpec(
        _B.continue_learning_rate, "Learning rate when continuing", "Training",
        "learning rate of the continuation rounds", {"type": "number", "exclusiveMinimum": 0, "maximum": 1}),
    "replay_rows": ParamSpec(
        2000, "Replayed rows", "Training", "earlier labelled rows replayed beside the new batch when continuing",
        {"type": "integer", "minimum": 0, "maximum": 1_000_000}),
    "recency_half_life": ParamSpec(
        1.0, "Recency half-life (batches)", "Training",
        "older labelled rows weigh less in replay and refit: a row's weight halves every this many batches of "
        "age (0: every row weighs the same)", {"type": "number", "minimum": 0, "maximum": 1000}),
    "min_improvement": ParamSpec(
        0.002, "Minimum gain", "Promotion",
        "macro-F1 gain over the champion, on the recent or the fixed holdout, needed to promote",
        {"type": "number", "minimum": -1, "maximum": 1}),
    "significance": ParamSpec(
        0.01, "Significance level", "Promotion",
        "the paired bootstrap's p-value must be below this for a gain to count (small: the gate runs every "
        "cycle, and noise must not promote)", {"type": "number", "exclusiveMinimum": 0, "maximum": 1}),
    "tolerance": ParamSpec(
        0.005, "Tolerance on the other holdout", "Promotion",
        "macro-F1 a challenger better on one holdout may lose on the other (better on the recent window, it may "
        "also trade as much fixed-holdout macro-F1 as it gained there); more than this is ambiguous and the "
        "champion stays", {"type": "number", "minimum": 0, "maximum": 1}),
    "flagged_rows": ParamSpec(
        "hold", "Likely label errors", "Label check",
        "what becomes of the rows the label check flags as likely label errors (confident learning on "
        "cross-validated predictions; a row that makes a correction many annotators made the same way is never "
        "flagged out): hold: kept out of training until a person reviews them (the review queue); down_weight: "
        "trained on with the weight below; off: no check", {"type": "string", "enum": ["hold", "down_weight", "off"]}),
    "flagged_weight": ParamSpec(
        0.2, "Weight of a down-weighted row", "Label check",
        "with flagged_rows=down_weight, a flagged row's training weight is multiplied by this",
        {"type": "number", "minimum": 0, "maximum": 1}),
    "force_promote": ParamSpec(
        False, "Force promotion", "Promotion",
        "promote the challenger whatever its score (never a diverged one); with no new files there is a "
        "challenger only with strategy refit", {"type": "boolean"}),
    "approval_timeout_s": ParamSpec(
        0, "Approval timeout (s)", "Promotion",
        "if the gate calls this run's challenger ambiguous, how long a person has to decide before the champion "
        "stays (0: the setting TWEET_SENTIMENT_APPROVAL_TIMEOUT_S)", {"type": "integer", "minimum": 0,
                                                                      "maximum": 30 * 24 * 3600}),
}

# The refit DAG's Params: ``force`` (a refit now, whatever the policy), then the retrain Params a refit uses.
REFIT_PARAMS: dict[str, ParamSpec] = {
    "force": ParamSpec(
        False, "Refit now", "Refit",
        "refit on every labelled row now, whatever the policy (the champion's trees past "
        "TWEET_SENTIMENT_MAX_CHAMPION_TREES); the challenger still goes through the gate", {"type": "boolean"}),
    **{name: PARAMS[name] for name in ("num_boost_round", "learning_rate", "recency_half_life", "min_improvement",
                                       "significance", "tolerance", "force_promote", "approval_timeout_s")},
}


@dataclass(frozen=True)
class RunOptions:
    """The per-run choices (see PARAMS), plus what no Param changes: the divergence limit and the weights of the
    rows that teach."""

    strategy: str = PARAMS["strategy"].default
    replay_rows: int = PARAMS["replay_rows"].default
    recency_half_life: float = PARAMS["recency_half_life"].default
    min_improvement: float = PARAMS["min_improvement"].default
    significance: float = PARAMS["significance"].default
    tolerance: float = PARAMS["tolerance"].default
    force_promote: bool = PARAMS["force_promote"].default
    approval_timeout_s: int = PARAMS["approval_timeout_s"].default
    flagged_rows: str = PARAMS["flagged_rows"].default
    flagged_weight: float = PARAMS["flagged_weight"].default
    max_raw_score: float = 50.0
    boosting: BoostingParams = field(default_factory=BoostingParams)
    teaching: TeachingWeights = field(default_factory=TeachingWeights)  # the rows that teach (label_check.teaching)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, not {self.strategy!r}")
        if self.flagged_rows not in PARAMS["flagged_rows"].schema["enum"]:
            raise ValueError(f"flagged_rows must be one of {PARAMS['flagged_rows'].schema['enum']}, "
                             f"not {self.flagged_rows!r}")

    def gate_rules(self, min_recent_rows: int) -> GateRules:
        """The promotion rule's settings for this run."""
        return GateRules(self.significance, self.min_improvement, self.tolerance, min_recent_rows,
                         self.force_promote, self.max_raw_score)

    @classmethod
    def from_params(cls, params: dict) -> RunOptions:
        """Build from the DAG's Params (unknown keys are ignored, missing ones take the defaults)."""
        values = {name: spec.cast(params.get(name, spec.default)) for name, spec in PARAMS.items()}
        boosting = BoostingParams(**{name: values.pop(name) for name in BOOSTING_PARAMS})
        return cls(**values, boosting=boosting)


SCORE_PARAMS: dict[str, ParamSpec] = {
    "drift_reference": ParamSpec(
        "setting", "Drift reference", "Drift",
        "what the latest window of scored tweets is compared with: stream: the first scored window of the "
        "unlabelled stream; training: the champion's training rows; setting: TWEET_SENTIMENT_DRIFT_REFERENCE "
        "(stream unless configured)", {"type": "string", "enum": ["setting", "stream", "training"]}),
    "rescore_all": ParamSpec(
        False, "Re-score everything", "Scoring",
        "score every batch again with the champion, even those it scored already (a run re-scores the batches "
        "of another champion anyway)", {"type": "boolean"}),
}


@dataclass(frozen=True)
class ScoreOptions:
    """The scoring run's choices (see SCORE_PARAMS); ``drift_reference`` None: the setting's."""

    drift_reference: str | None = None
    rescore_all: bool = False

    @classmethod
    def from_params(cls, params: dict) -> ScoreOptions:
        values = {name: spec.cast(params.get(name, spec.default)) for name, spec in SCORE_PARAMS.items()}
        reference = values["drift_reference"]
        return cls(None if reference == "setting" else reference, values["rescore_all"])
