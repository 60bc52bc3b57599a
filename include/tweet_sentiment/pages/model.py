"""What the model page shows: the champion, every version with its decision, what the decision was gated on
(figures, p-values, tolerance, who approved) and its metrics on both holdouts, the pending approvals and where
the latest ambiguous challenger disagrees with the champion, the report pictures, and the rollback rule (only to
a version that was champion before)."""

from __future__ import annotations

from upath import UPath

from tweet_sentiment.model.charts import holdouts_curve_png
from tweet_sentiment.model.registry import AWAITING, ModelRegistry

_CARD_FIELDS = ("version", "status", "strategy", "created_at", "decided_at", "reason", "parent", "batches",
                "batch_id", "rows_trained", "new_rows", "num_trees", "train_s", "note", "gate", "approval",
                "labelled_version")
REQUIRED_ACTIONS = "/required_actions"  # Airflow's own list of the human-in-the-loop requests


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
            "recent_macro_f1": (card.get("recent_metrics") or {}).get("macro_f1"),
            "tolerance": (card.get("gate_rules") or {}).get("tolerance"),
            "per_class_f1": metrics.get("per_class_f1") or {},
            "can_roll_back": card["version"] in once_champion and card["version"] != registry.champion_version(),
        })
    return {"champion": registry.champion_version(), "versions": versions, "history": history,
            "images": report_images(reports), **approvals(registry)}


def approvals(registry: ModelRegistry) -> dict:
    """The challengers waiting for a person (newest first, with the link to Airflow's required actions), and the
    rows where the latest ambiguous challenger and the champion disagree."""
    cards = list(reversed(registry.versions()))
    pending = [{"version": c["version"], "created_at": c.get("created_at"), "reason": c.get("reason")}
               for c in cards if c.get("status") == AWAITING]
    latest = next((c for c in cards if c.get("disagreements") and (c.get("status") == AWAITING or (
        c.get("approval") or {}).get("decision"))), None)
    rows = [{"holdout": name, **row} for name, found in ((latest or {}).get("disagreements") or {}).items()
            for row in found]
    return {"pending": pending, "required_actions": REQUIRED_ACTIONS,
            "disagreements": {"version": latest["version"] if latest else None, "rows": rows}}


def holdouts_png(registry: ModelRegistry) -> bytes:
    """The two-holdout learning curve of the live registry (every version's card), drawn now."""
    return holdouts_curve_png(registry.versions(), {event["version"] for event in registry.history()})


def roll_back(registry: ModelRegistry, version: str, user: str, reason: str) -> dict:
    """Make an earlier champion the champion again, recorded in the pointer's history with who and why."""
    if not registry.is_version_id(version):
        raise RollbackRefused(f"{version!r} is not a model version id (v<date>T<time>-<6 hex digits>)")
    current = registry.champion_version()
    if version == current:
        raise RollbackRefused(f"{version} is already the champion")
    if version not in {event["version"] for event in registry.history()}:
        raise RollbackRefused(f"{version} was never champion; only an earlier champion can be restored")
    registry.rollback(version, f"rollback by {user}: {reason.strip() or 'no reason given'}")
    return {"champion": version, "previous": current}
