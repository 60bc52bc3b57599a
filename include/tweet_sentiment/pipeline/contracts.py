"""The typed results the retrain DAG's tasks hand each other through XComs, and the run report they add up to.

Each is a frozen dataclass: a task returns ``result.to_json()`` (an XCom must be JSON) and the next task reads it
back with ``Cls.from_json``, so no reader indexes a result by a key it spells itself. ``from_json`` ignores keys it
does not know and fills missing ones with their defaults: an XCom written by a run started on older code still
reads, and a shape it cannot read fails with the contract's name, not a ``KeyError`` deep in a task.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from tweet_sentiment.intake.engine import Ledger
from tweet_sentiment.label_check.check import LabelCheckRecord


class ContractError(ValueError):
    """An XCom that does not hold the contract it should (a run started on incompatible code)."""


class JsonContract:
    """``to_json`` / ``from_json`` for the frozen dataclasses below."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | Self) -> Self:
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise ContractError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        try:
            return cls(**{key: value for key, value in data.items() if key in names})
        except TypeError as exc:  # a required field is missing
            raise ContractError(f"{cls.__name__}: {exc}") from exc


@dataclass(frozen=True)
class Embedded(JsonContract):
    """The embed task: how many of the batch's accepted texts have vectors now."""

    batch_id: str
    rows: int
    seconds: float = 0.0


@dataclass(frozen=True)
class ChallengerResult(JsonContract):
    """The train task: the challenger's version (None: no accepted rows, so no challenger) and its training."""

    version: str | None
    strategy: str | None = None
    train_s: float | None = None
    rows_trained: int | None = None
    validation_macro_f1: float | None = None
    reason: str | None = None
    seconds: float = 0.0
    labelled_version: int | None = None  # the labelled table's version it trained on (lineage; on its card too)


@dataclass(frozen=True)
class Evaluation(JsonContract):
    """The evaluate task: both models' figures on both holdouts, the paired comparisons and the gate's decision.

    ``champion`` is the pointer as read at evaluation time: promotion checks that it has not moved since.
    """

    version: str | None
    champion: str | None
    promote: bool
    reason: str
    ambiguous: bool = False
    gate: dict[str, dict | None] = field(default_factory=dict)
    challenger_metrics: dict | None = None
    champion_metrics: dict | None = None
    challenger_recent_metrics: dict | None = None
    champion_recent_metrics: dict | None = None
    slices: dict | None = None  # the systematic corrections' slices the gate also tested (SliceEvidence.to_dict)
    holdout_version: int | None = None  # the fixed holdout's version the figures used (labelling/holdout.py)
    seconds: float = 0.0


@dataclass(frozen=True)
class Outcome(JsonContract):
    """What became of the challenger (promote or keep_champion); ``event``: the asset event's extra to record
    (a champion event for a real promotion, a candidate event for an ambiguous challenger), if any."""

    version: str | None
    promoted: bool
    reason: str
    event: dict | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class RunReport(JsonContract):
    """What one run did (``reports/runs/<batch_id>.json``), written by the archive task and by run_cycle alike.

    Each part is the result of one task; ``timings_s`` holds each task's seconds; ``decision`` is read from the
    registry (None: there was no challenger).
    """

    batch_id: str
    ledger: Ledger
    embedded: Embedded
    label_check: LabelCheckRecord
    challenger: ChallengerResult
    evaluation: Evaluation
    decision: Outcome | None
    timings_s: dict[str, float]
    archived: list[str]

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | Self) -> Self:
        if isinstance(data, cls):
            return data
        parts = {"embedded": Embedded, "challenger": ChallengerResult, "evaluation": Evaluation}
        report = super().from_json(data)
        decision = report.decision
        return dataclasses.replace(report, **{name: kind.from_json(getattr(report, name))
                                              for name, kind in parts.items()},
                                   decision=None if decision is None else Outcome.from_json(decision))
