"""File-based model registry: versions with a model file and a card, a champion pointer switched atomically.

Layout: ``versions/<version>/model.txt`` and ``card.json`` (the card is written last: a version without a card
is incomplete and ignored), and ``champion.json`` naming the champion and its history. Versions are never
overwritten; promotion and rollback switch the pointer in one atomic write. The pointer is the one truth about
who is champion: a card's status is read from it (see :meth:`ModelRegistry.card`).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import NamedTuple

import lightgbm as lgb
from upath import UPath

from tweet_sentiment.schema import FeatureSchema, ModelCard
from tweet_sentiment.storage.fs import list_dir, read_json, write_bytes_atomic, write_json_atomic

AWAITING = "awaiting_approval"  # a card waiting for a person's decision
VERSION_ID_PATTERN = r"^v\d{8}T\d{6}-[0-9a-f]{6}$"  # what new_version_id makes: v<UTC date>T<time>-<6 hex>


RECOVERY_HINT = ("Recover with `python -m tweet_sentiment bootstrap --refit`, which trains a new champion from "
                 "the labelled store, or roll back to an earlier version on the model page.")


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
    """Model versions and the champion pointer under one folder."""

    def __init__(self, folder: UPath) -> None:
        self.folder = folder
        self.versions_dir = folder / "versions"
        self.pointer = folder / "champion.json"

    @staticmethod
    def new_version_id() -> str:
        return f"v{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"

    @staticmethod
    def is_version_id(text: str) -> bool:
        """Whether ``text`` has the form of a version id (checked before any path is built from it)."""
        return re.fullmatch(VERSION_ID_PATTERN, text) is not None

    def save(self, booster: lgb.Booster, card: ModelCard) -> str:
        """Store a new version (model first, card last) and return its id; an existing id is never reused."""
        version = self.new_version_id()
        folder = self.versions_dir / version
        if folder.exists():
            raise FileExistsError(f"model version {version} already exists")
        write_bytes_atomic(folder / "model.txt", booster.model_to_string().encode("utf-8"))
        write_json_atomic(folder / "card.json", {**card, "version": version, "created_at": now_iso()})
        return version

    def card(self, version: str) -> ModelCard:
        """The version's card, its status as the champion pointer says (see :func:`_status_from_pointer`)."""
        return _status_from_pointer(read_json(self.versions_dir / version / "card.json"), self._pointer())

    def _pointer(self) -> dict:
        return read_json(self.pointer) if self.pointer.exists() else {"history": []}

    def update_card(self, version: str, **fields: object) -> ModelCard:
        card = {**self.card(version), **fields}
        write_json_atomic(self.versions_dir / version / "card.json", card)
        return card

    def load(self, version: str) -> lgb.Booster:
        return lgb.Booster(model_str=(self.versions_dir / version / "model.txt").read_text("utf-8"))

    def versions(self) -> list[ModelCard]:
        """Cards of every complete version, oldest first."""
        pointer = self._pointer()
        cards = [_status_from_pointer(read_json(p / "card.json"), pointer)
                 for p in list_dir(self.versions_dir) if (p / "card.json").exists()]
        return sorted(cards, key=lambda c: (c["created_at"], c["version"]))

    def champion_version(self) -> str | None:
        return read_json(self.pointer)["version"] if self.pointer.exists() else None

    def history(self) -> list[dict]:
        """Every promotion and rollback, oldest first (from the champion pointer)."""
        return read_json(self.pointer).get("history", []) if self.pointer.exists() else []

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

    def promote(self, version: str, reason: str, action: str = "promote") -> None:
        """Make ``version`` the champion (one atomic pointer write) and record why in the pointer's history.

        The pointer is switched first and the cards' files after it; a crash in between leaves the files behind
        the pointer, and :meth:`card` reads their statuses from the pointer, so no reader sees two champions.
        """
        if not (self.versions_dir / version / "card.json").exists():
            raise FileNotFoundError(f"no complete model version {version} in {self.versions_dir}")
        previous = self._pointer()
        event = {"version": version, "at": now_iso(), "action": action, "reason": reason,
                 "previous": previous.get("version")}
        write_json_atomic(self.pointer, {"version": version, "since": event["at"],
                                         "history": [*previous["history"], event]})
        self.update_card(version, status="champion", decided_at=event["at"], reason=reason)
        if previous.get("version") and previous["version"] != version:
            self.update_card(previous["version"], status="retired")

    def reject(self, version: str, reason: str) -> None:
        self.update_card(version, status="rejected", decided_at=now_iso(), reason=reason)

    def hold(self, version: str, reason: str) -> None:
        """Leave ``version`` waiting for a person's decision (an ambiguous challenger); the champion stays."""
        self.update_card(version, status=AWAITING, decided_at=now_iso(), reason=reason)

    def rollback(self, version: str, reason: str = "rollback") -> None:
        """Make an earlier version champion again, recorded in the history like a promotion."""
        self.promote(version, reason, action="rollback")


def _status_from_pointer(card: ModelCard, pointer: dict) -> ModelCard:
    """``card`` with the status the champion pointer gives it: ``champion`` (with the decision's time and reason)
    for the version the pointer names, ``retired`` for one it named before; other cards as written.

    The card files are updated after the pointer is switched; a process killed in between leaves the old
    champion's file saying ``champion`` and the new one's ``candidate``. Read through here, they agree with
    the pointer.
    """
    version = card.get("version")
    history = pointer.get("history", [])
    if version is not None and version == pointer.get("version"):
        decided = next((e for e in reversed(history) if e["version"] == version), {})
        return {**card, "status": "champion", "decided_at": decided.get("at", card.get("decided_at")),
                "reason": decided.get("reason", card.get("reason"))}
    if card.get("status") == "champion" or any(e["version"] == version for e in history):
        return {**card, "status": "retired"}
    return card
