"""The model registry: versions with a model file and a card, an index of them and the champion pointer in the
state database.

Files: ``versions/<version>/model.txt`` and ``card.json`` (what it was trained on and gated by), under the registry
folder (local or object storage). The state database (model/registry_index.py) holds the index of versions (one row
each, written last: a version without one is incomplete and ignored) with their decisions, and the champion pointer
with its history. Versions are never overwritten; promotion, approval and rollback switch the pointer by a
compare-and-swap against the champion they decided on, so of two that race exactly one wins and the other is told
(:class:`ChampionMovedError`). The index is the one truth about a version's status: :meth:`ModelRegistry.card`
reads it over the card's file.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import lightgbm as lgb
from upath import UPath

from tweet_sentiment.config import Settings
from tweet_sentiment.model import registry_index as index
from tweet_sentiment.model.registry_index import AWAITING, ChampionMovedError
from tweet_sentiment.model.registry_migration import LEGACY_POINTER
from tweet_sentiment.schema import FeatureSchema, ModelCard
from tweet_sentiment.storage.fs import read_json, write_bytes_atomic, write_json_atomic

__all__ = ["AWAITING", "VERSION_ID_PATTERN", "Champion", "ChampionMovedError", "ChampionUnavailableError",
           "ModelRegistry", "RegistryNotMigratedError", "now_iso"]

VERSION_ID_PATTERN = r"^v\d{8}T\d{6}-[0-9a-f]{6}$"  # what new_version_id makes: v<UTC date>T<time>-<6 hex>
DECISION_FIELDS = ("status", "decided_at", "reason")  # a card's fields the index holds


RECOVERY_HINT = ("Recover with `python -m tweet_sentiment bootstrap --refit`, which trains a new champion from "
                 "the labelled store, or roll back to an earlier version on the model page.")


class RegistryNotMigratedError(RuntimeError):
    """The registry folder was written before the state database and has not been converted (migrate)."""


class ChampionUnavailableError(RuntimeError):
    """The champion pointer names a model that cannot be loaded."""


class Champion(NamedTuple):
    """The champion model: its version id, its booster and its card."""

    version: str
    booster: lgb.Booster
    card: ModelCard

    @property
    def schema(self) -> FeatureSchema:
        """The features the champion reads."""
        return FeatureSchema.from_dict(self.card["feature_schema"])


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ModelRegistry:
    """Model versions under one folder; their index and the champion pointer in the state database ``db_url``."""

    def __init__(self, folder: UPath, db_url: str) -> None:
        self.folder = folder
        self.versions_dir = folder / "versions"
        self.db_url = db_url

    @classmethod
    def of(cls, settings: Settings) -> ModelRegistry:
        """The registry of the configured data root and state database."""
        return cls(settings.layout().registry, settings.state_db)

    @staticmethod
    def new_version_id() -> str:
        return f"v{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"

    @staticmethod
    def is_version_id(text: str) -> bool:
        """Whether ``text`` has the form of a version id (checked before any path is built from it)."""
        return re.fullmatch(VERSION_ID_PATTERN, text) is not None

    def save(self, booster: lgb.Booster, card: ModelCard) -> str:
        """Store a new version (model, card, then its index row) and return its id; an id is never reused."""
        version = self.new_version_id()
        folder = self.versions_dir / version
        if folder.exists():
            raise FileExistsError(f"model version {version} already exists")
        created = datetime.now(UTC).isoformat(timespec="microseconds")  # orders versions saved within a second
        card = {**card, "version": version, "created_at": created, "status": "candidate"}
        write_bytes_atomic(folder / "model.txt", booster.model_to_string().encode("utf-8"))
        write_json_atomic(folder / "card.json", card)
        index.add_version(self.db_url, card)
        return version

    def exists(self, version: str) -> bool:
        """Whether ``version`` is a complete version (indexed)."""
        return bool(index.rows(self.db_url, [version]))

    def card(self, version: str) -> ModelCard:
        """The version's card, its decision as the index records it."""
        found = index.rows(self.db_url, [version])
        if not found:
            raise FileNotFoundError(f"no complete model version {version} in {self.versions_dir}")
        return self._with_decision(read_json(self.versions_dir / version / "card.json"), found[0])

    @staticmethod
    def _with_decision(card: ModelCard, row: dict) -> ModelCard:
        return {**card, **{k: row[k] for k in DECISION_FIELDS if row[k] is not None}}

    def cards(self, rows: list[dict]) -> list[ModelCard]:
        """The cards of these index rows, in their order."""
        return [self._with_decision(read_json(self.versions_dir / r["version"] / "card.json"), r) for r in rows]

    def update_card(self, version: str, **fields: object) -> ModelCard:
        """Add ``fields`` to the card (its decision changes only by promote, reject, hold); the index follows."""
        if decided := set(fields) & set(DECISION_FIELDS):
            raise ValueError(f"{sorted(decided)} change by promote, reject or hold, not on the card")
        card = {**self.card(version), **fields}
        write_json_atomic(self.versions_dir / version / "card.json", card)
        index.set_columns(self.db_url, version, **index.metric_columns(fields))
        return card

    def load(self, version: str) -> lgb.Booster:
        return lgb.Booster(model_str=(self.versions_dir / version / "model.txt").read_text("utf-8"))

    def versions(self) -> list[ModelCard]:
        """Cards of every complete version, oldest first (every card is read: a page reads :meth:`index_rows`)."""
        return self.cards(index.rows(self.db_url))

    def index_rows(self, **query: object) -> list[dict]:
        """Index rows, no card read (see registry_index.rows for the query: a page, a status, ...)."""
        return index.rows(self.db_url, **query)

    def count(self) -> int:
        return index.count(self.db_url)

    def champion_version(self) -> str | None:
        """The pointer (one row read; the history is not). RegistryNotMigratedError when there is none but the
        folder holds a registry written before the state database."""
        version = index.champion_version(self.db_url)
        if version is None and (self.folder / LEGACY_POINTER).exists():
            raise RegistryNotMigratedError(
                f"{self.folder} holds a registry written before the state database ({LEGACY_POINTER}) and "
                f"{self.db_url.split('@')[-1]} has no champion: convert it with `python -m tweet_sentiment migrate`")
        return version

    def history(self, newest: int | None = None) -> list[dict]:
        """Promotions and rollbacks, oldest first (the ``newest`` ones only when given)."""
        return index.history(self.db_url, newest)

    def was_champion(self, version: str) -> bool:
        return index.was_champion(self.db_url, version)

    def champion(self) -> Champion | None:
        """The champion's version, model and card; None before the first promotion."""
        version = self.champion_version()
        if version is None:
            return None
        try:
            return Champion(version, self.load(version), self.card(version))
        except Exception as exc:  # a corrupt or missing file: any reader error means the same to the user
            raise ChampionUnavailableError(
                f"champion {version} in {self.versions_dir / version} cannot be loaded ({exc}). {RECOVERY_HINT}"
            ) from exc

    def promote(self, version: str, reason: str, expected: str | None, action: str = "promote") -> None:
        """Make ``version`` the champion if the pointer still names ``expected`` (the champion the decision was
        made against; None: no champion yet), and record why in the history, in one transaction.

        ChampionMovedError when another promotion, approval or rollback changed the pointer first: nothing is
        switched, and the caller decides again against the new champion.
        """
        if not self.exists(version) or not (self.versions_dir / version / "model.txt").exists():
            raise FileNotFoundError(f"no complete model version {version} in {self.versions_dir}")
        index.switch_champion(self.db_url, version, expected,
                              {"at": now_iso(), "action": action, "reason": reason})

    def rollback(self, version: str, reason: str, expected: str | None) -> None:
        """Make an earlier version champion again (against ``expected``), recorded in the history like a promotion."""
        self.promote(version, reason, expected, action="rollback")

    def reject(self, version: str, reason: str) -> bool:
        """Record ``version`` as rejected; False (nothing changed) if it is or was champion meanwhile."""
        return index.decide(self.db_url, version, "rejected", now_iso(), reason)

    def hold(self, version: str, reason: str) -> bool:
        """Leave ``version`` waiting for a person's decision (an ambiguous challenger); the champion stays."""
        return index.decide(self.db_url, version, AWAITING, now_iso(), reason)

    def drop_rejected_models(self, retention_s: float) -> list[str]:
        """Remove the model file of every version rejected more than ``retention_s`` ago (its card and index row
        stay); the versions dropped now. A version that is or was champion is never rejected, so never dropped."""
        cutoff = (datetime.now(UTC) - timedelta(seconds=retention_s)).isoformat(timespec="seconds")
        dropped = []
        for row in index.expired_rejections(self.db_url, cutoff):
            model = self.versions_dir / row["version"] / "model.txt"
            if model.exists():
                model.unlink()
            index.set_columns(self.db_url, row["version"], model_dropped_at=now_iso())
            dropped.append(row["version"])
        return dropped
