"""What the model page shows: the champion, every version with its decision and metrics, the report pictures,
and the rollback rule (only to a version that was champion before)."""

from __future__ import annotations

from upath import UPath

from tweet_sentiment.registry import ModelRegistry

_CARD_FIELDS = ("version", "status", "strategy", "created_at", "decided_at", "reason", "parent", "batches",
                "batch_id", "rows_trained", "new_rows", "num_trees", "train_s", "note")


class RollbackRefused(ValueError):
    """The version asked for cannot be made champion again; the message says why."""


def report_images(reports: UPath) -> list[str]:
    """Paths (relative to the reports folder) of every PNG there, e.g. learning curves and confusion matrices."""
    if not reports.exists():
        return []
    return sorted(str(p.relative_to(reports)) for p in reports.rglob("*.png") if not p.name.startswith("."))


def report_image(reports: UPath, name: str) -> bytes:
    """The bytes of one listed PNG; a name not in the listing (``../x``) is refused as not found."""
    if name not in report_images(reports):
        raise FileNotFoundError(f"no report picture {name!r}")
    return (reports / name).read_bytes()


def overview(registry: ModelRegistry, reports: UPath) -> dict:
    """The model page's data: champion, versions newest first (decision, metrics, data seen), history, pictures."""
    history = registry.history()
    once_champion = {event["version"] for event in history}
    versions = []
    for card in reversed(registry.versions()):
        metrics = card.get("metrics") or {}
        versions.append({
            **{k: card.get(k) for k in _CARD_FIELDS},
            "macro_f1": metrics.get("macro_f1"), "accuracy": metrics.get("accuracy"),
            "per_class_f1": metrics.get("per_class_f1") or {},
            "can_roll_back": card["version"] in once_champion and card["version"] != registry.champion_version(),
        })
    return {"champion": registry.champion_version(), "versions": versions, "history": history,
            "images": report_images(reports)}


def roll_back(registry: ModelRegistry, version: str, user: str, reason: str) -> dict:
    """Make an earlier champion the champion again, recorded in the pointer's history with who and why."""
    current = registry.champion_version()
    if version == current:
        raise RollbackRefused(f"{version} is already the champion")
    if version not in {event["version"] for event in registry.history()}:
        raise RollbackRefused(f"{version} was never champion; only an earlier champion can be restored")
    registry.rollback(version, f"rollback by {user}: {reason.strip() or 'no reason given'}")
    return {"champion": version, "previous": current}
