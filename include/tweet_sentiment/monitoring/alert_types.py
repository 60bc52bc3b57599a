"""What an alert says, shared by those who raise alerts (mood detection, loop-health checks) and those who deliver,
keep and show them: typed, JSON-able (an alert is an asset event's extra), and grouped into episodes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Literal


def _own_fields(cls: type, extra: dict) -> dict:
    """The entries of an asset event's ``extra`` that are fields of the alert class ``cls`` (not derived ones)."""
    fields = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in extra.items() if k in fields}


@dataclasses.dataclass(frozen=True)
class DriverWord:
    """A word (or hashtag) whose use within the alert's class rose: its log-odds z-score and example tweets."""

    word: str
    z: float
    examples: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class MoodAlert:
    """A change in what the public says in one period: the class whose words (and perhaps share) moved against
    the trailing baseline, as scored by one champion version."""

    period_start: datetime
    resolution: Literal["hour", "day"]
    label: str
    champion_version: str
    words: tuple[DriverWord, ...]
    share: float  # the class's share of the period's tweets
    baseline_share: float  # its share over the trailing baseline
    share_low: float  # the interval the baseline allows for the period's share
    share_high: float
    tweets: int  # the period's tweets
    kind: Literal["mood"] = "mood"

    @property
    def episode_key(self) -> str:
        """Alerts with the same key in consecutive checks are one episode: one notification, one notice at its end."""
        return f"mood:{self.label}"

    def to_extra(self) -> dict:
        return {**dataclasses.asdict(self), "period_start": self.period_start.isoformat(),
                "episode_key": self.episode_key}

    @classmethod
    def from_extra(cls, extra: dict) -> MoodAlert:
        values = _own_fields(cls, extra)
        return cls(**{**values, "period_start": datetime.fromisoformat(values["period_start"]),
                      "words": tuple(DriverWord(w["word"], w["z"], tuple(w["examples"])) for w in values["words"])})


@dataclasses.dataclass(frozen=True)
class HealthAlert:
    """The loop itself falling behind: which check, what it measured against which limit, in words."""

    check: Literal["retrain_stalled", "scoring_behind", "quarantine_growing", "approval_waiting"]
    value: float
    limit: float
    detail: str
    raised_at: datetime
    kind: Literal["health"] = "health"

    @property
    def episode_key(self) -> str:
        return f"health:{self.check}"

    def to_extra(self) -> dict:
        return {**dataclasses.asdict(self), "raised_at": self.raised_at.isoformat(), "episode_key": self.episode_key}

    @classmethod
    def from_extra(cls, extra: dict) -> HealthAlert:
        values = _own_fields(cls, extra)
        return cls(**{**values, "raised_at": datetime.fromisoformat(values["raised_at"])})


Alert = MoodAlert | HealthAlert


@dataclasses.dataclass(frozen=True)
class EpisodeChange:
    """What one check changes: episodes that begin (notify), go on (stay quiet) and end (a notice)."""

    began: tuple[str, ...]
    ongoing: tuple[str, ...]
    ended: tuple[str, ...]


def episode_change(open_keys: Iterable[str], alerts: Iterable[Alert]) -> EpisodeChange:
    """Episodes after a check that raised ``alerts``, given the keys of the episodes open before it."""
    before, now = set(open_keys), {a.episode_key for a in alerts}
    return EpisodeChange(began=tuple(sorted(now - before)), ongoing=tuple(sorted(now & before)),
                         ended=tuple(sorted(before - now)))
