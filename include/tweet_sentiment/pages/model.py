"""What the model page shows: the champion, its versions a page at a time with their decisions, what each was
gated on (figures, p-values, tolerance, who approved) and its metrics on both holdouts, the pending approvals and where
the latest ambiguous challenger disagrees with the champion, the report pictures, and the rollback rule (only to
a version that was champion before)."""

from __future__ import annotations

from upath import UPath

from tweet_sentiment.model.charts import holdouts_curve_png
from tweet_sentiment.model.registry import AWAITING, ChampionMovedError, ModelRegistry
from tweet_sentiment.schema import batch_span

_CARD_FIELDS = ("version", "status", "strategy", "created_at", "decided_at", "reason", "parent", "batch_id",
                "rows_trained", "new_rows", "num_trees", "train_s", "note", "gate", "approval", "labelled_version",
                "holdout_version", "slices")
REQUIRED_ACTIONS = "/required_actions"  # Airflow's own list of the human-in-the-loop requests
PAGE_ROWS = 50  # versions on one page of the model page
HISTORY_ROWS = 50  # the newest promotions and rollbacks shown
ASKED_ROWS = 5  # the newest challengers put to a person, searched for the latest disagreements


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


def overview(registry: ModelRegistry, reports: UPath, offset: int = 0, limit: int = PAGE_ROWS) -> dict:
    """The model page's data: the champion, one page of versions newest first (decision, metrics, data seen; only
    that page's cards are read), the newest history entries, the pictures and the pending approvals."""
    champion = registry.champion_version()
    rows = registry.index_rows(newest_first=True, limit=limit, offset=offset)
    page = [_version_row(card) for card in registry.cards(rows)]
    return {"champion": champion, "champion_card": _version_row(registry.card(champion)) if champion else None,
            "versions": page, "total": registry.count(), "offset": offset, "limit": limit,
            "history": registry.history(newest=HISTORY_ROWS), "images": report_images(reports),
            **approvals(registry)}


def _version_row(card: dict) -> dict:
    """What the page shows of one version (a retired version, once champion and no longer, may be rolled back
    to; ``terms``: the corrections' terms its features carry, model/terms.py)."""
    metrics = card.get("metrics") or {}
    return {**{k: card.get(k) for k in _CARD_FIELDS}, "batches": batches_seen(card),
            "macro_f1": metrics.get("macro_f1"), "accuracy": metrics.get("accuracy"),
            "recent_macro_f1": (card.get("recent_metrics") or {}).get("macro_f1"),
            "tolerance": (card.get("gate_rules") or {}).get("tolerance"),
            "per_class_f1": metrics.get("per_class_f1") or {}, "can_roll_back": card.get("status") == "retired",
            "terms": list((card.get("feature_schema") or {}).get("terms") or [])}


def batches_seen(card: dict) -> str:
    """The data a version saw, in words: its batches (the first … the last and how many, when more than two)."""
    span = batch_span(card.get("batches"))
    if span["count"] <= 2:
        return ", ".join(dict.fromkeys(b for b in (span["first"], span["last"]) if b))
    return f"{span['first']} … {span['last']} ({span['count']} batches)"


def approvals(registry: ModelRegistry) -> dict:
    """The challengers waiting for a person (newest first, with the link to Airflow's required actions), and the
    rows where the latest ambiguous challenger and the champion disagree (read from the index, then that card)."""
    pending = [{"version": r["version"], "created_at": r["created_at"], "reason": r["reason"]}
               for r in registry.index_rows(status=AWAITING, newest_first=True)]
    latest = next((c for c in registry.cards(registry.index_rows(asked=True, newest_first=True, limit=ASKED_ROWS))
                   if c.get("disagreements")), None)
    rows = [{"holdout": name, **row} for name, found in ((latest or {}).get("disagreements") or {}).items()
            for row in found]
    return {"pending": pending, "required_actions": REQUIRED_ACTIONS,
            "disagreements": {"version": latest["version"] if latest else None, "rows": rows}}


def holdouts_png(registry: ModelRegistry) -> bytes:
    """The two-holdout learning curve of the live registry (every version's index row), drawn now."""
    points = [{"version": r["version"], "metrics": _f1(r["macro_f1"]), "recent_metrics": _f1(r["recent_macro_f1"])}
              for r in registry.index_rows()]
    return holdouts_curve_png(points, {r["version"] for r in registry.index_rows(once_champion=True)})


def _f1(value: float | None) -> dict | None:
    return None if value is None else {"macro_f1": value}


def roll_back(registry: ModelRegistry, version: str, user: str, reason: str) -> dict:
    """Make an earlier champion the champion again, recorded in the pointer's history with who and why."""
    if not registry.is_version_id(version):
        raise RollbackRefused(f"{version!r} is not a model version id (v<date>T<time>-<6 hex digits>)")
    current = registry.champion_version()
    if version == current:
        raise RollbackRefused(f"{version} is already the champion")
    if not registry.was_champion(version):
        raise RollbackRefused(f"{version} was never champion; only an earlier champion can be restored")
    try:
        registry.rollback(version, f"rollback by {user}: {reason.strip() or 'no reason given'}", expected=current)
    except ChampionMovedError as moved:
        raise RollbackRefused(f"the champion changed ({moved.expected} → {moved.actual}) while the rollback was "
                              "applied; nothing was rolled back: look again and retry") from None
    return {"champion": version, "previous": current}
