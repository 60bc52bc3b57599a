"""People's answers on queued tweets: label, unsure, skip, undo, overlap pairs and adjudication.

Pure rules on the queue's item dicts (``queue.py`` runs them in the state database's transactions). An item keeps
every answer (``answers``: annotator -> {label, at}); :func:`settle` derives its outcome from them:

- an ordinary item is decided by its one answer; an overlap item (``pair``: two annotators) by two equal answers;
- two different answers (an overlap pair, or two people who answered the same tweet) make it *disputed*: it waits
  for a third person's answer (:func:`adjudicate`), which decides;
- a decided item belongs to the person whose answer decided it and leaves in their next batch; ``Unsure`` is an
  answer too, but an item decided as unsure is set aside, never sent.

Skip is no answer: the tweet is hidden from the skipper (an overlap item it was reserved for loses its pair and
is open to anyone else). Each annotator's answers since their last send can be undone, newest first. Who sees
which tweet, in which order, is views.py's query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import combinations

from tweet_sentiment.schema import LABELS, normalise_label

UNSURE = "Unsure"
ANSWERS: tuple[str, ...] = (*LABELS, UNSURE)


class AnswerRefused(ValueError):
    """An answer the queue cannot take in its present state (nothing was changed); the message says why."""


class NotQueued(LookupError):
    """An answer for a tweet that was never in the queue."""


class UnknownAnswer(ValueError):
    """An answer that is neither a class nor ``Unsure``."""


def parse_answer(label: str) -> str:
    """The canonical answer for a class name in any case, or ``Unsure``."""
    canonical = UNSURE if label.strip().lower() == UNSURE.lower() else normalise_label(label)
    if canonical is None:
        raise UnknownAnswer(f"unknown label {label!r}; expected one of: {', '.join(ANSWERS)}")
    return canonical


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def answers_of(item: dict) -> dict[str, str]:
    """annotator -> answer (a class or ``Unsure``)."""
    return {name: a["label"] for name, a in item.get("answers", {}).items()}


def upgrade(item: dict) -> dict:
    """An item of a queue file written before answers were kept: its one label becomes its annotator's answer."""
    if "answers" not in item:
        label, annotator = item.get("label"), item.get("annotator")
        item["answers"] = {annotator: {"label": label, "at": item.get("labelled_at", "")}} if label else {}
    return item


def status(item: dict) -> str:
    """``decided`` | ``disputed`` (two different answers, no adjudication yet) | ``waiting`` (one answer of an
    overlap pair) | ``open``."""
    if item.get("label") is not None:
        return "decided"
    answers = answers_of(item)
    if len(set(answers.values())) > 1:
        return "disputed"
    return "waiting" if answers else "open"


def settle(item: dict) -> None:
    """Set the item's outcome (``label``, ``annotator``: who decided) from its answers and adjudication."""
    answers = item.get("answers", {})
    needed = 2 if item.get("pair") else 1
    label, decider = None, None
    if item.get("adjudication"):
        label, decider = item["adjudication"]["label"], item["adjudication"]["annotator"]
    elif len(answers) >= needed and len({a["label"] for a in answers.values()}) == 1:
        decider = max(answers, key=lambda name: answers[name]["at"])  # the newest answer decides
        label = answers[decider]["label"]
    item.update(label=label, annotator=decider)


def _check_open_to(item: dict, annotator: str) -> None:
    if item.get("adjudication"):
        raise AnswerRefused(f"tweet {item['id']} was already decided by {item['adjudication']['annotator']}'s "
                            "adjudication")
    if status(item) == "disputed" and annotator not in item.get("answers", {}):
        raise AnswerRefused(f"tweet {item['id']} has two different answers and waits for adjudication on the "
                            "Labels page")
    if item.get("pair") and annotator not in item["pair"]:
        raise AnswerRefused(f"tweet {item['id']} is reserved for {' and '.join(item['pair'])} (overlap)")


def answer(item: dict, annotator: str, label: str, history: list[dict]) -> None:
    """Record ``annotator``'s answer (a class or ``Unsure``; their earlier answer is replaced). A second person's
    different answer on a decided, unsent tweet makes it disputed."""
    _check_open_to(item, annotator)
    answers = item.setdefault("answers", {})
    history.append({"id": item["id"], "kind": "answer", "previous": answers.get(annotator)})
    answers[annotator] = {"label": label, "at": _now()}
    settle(item)


def skip(item: dict, annotator: str, history: list[dict]) -> None:
    """Hide the tweet from ``annotator``; an overlap pair they belong to is released (anyone else may answer)."""
    if item.get("label") is not None or annotator in item.get("answers", {}):
        raise AnswerRefused(f"tweet {item['id']} is answered already: undo the answer instead")
    if annotator in item.get("skipped_by", []):
        raise AnswerRefused(f"{annotator} skipped tweet {item['id']} already")
    history.append({"id": item["id"], "kind": "skip", "pair": item.get("pair")})
    item.setdefault("skipped_by", []).append(annotator)
    if item.get("pair") and annotator in item["pair"]:
        item["pair"] = None
    settle(item)


def undo(item: dict, annotator: str, step: dict) -> None:
    """Take back one step of ``annotator``'s history (the newest) on its item."""
    if item.get("adjudication"):
        raise AnswerRefused(f"tweet {item['id']} was decided by {item['adjudication']['annotator']}'s adjudication "
                            "since: nothing to undo")
    if step["kind"] == "skip":
        item["skipped_by"] = [name for name in item.get("skipped_by", []) if name != annotator]
        item["pair"] = step["pair"]
    elif step["previous"] is None:
        item.get("answers", {}).pop(annotator, None)
    else:
        item["answers"][annotator] = step["previous"]
    settle(item)


def adjudicate(item: dict, annotator: str, label: str) -> None:
    """The third answer on a disputed tweet, from someone who gave neither of the two: it decides."""
    if status(item) != "disputed":
        raise AnswerRefused(f"tweet {item['id']} is not waiting for adjudication (it is {status(item)})")
    if annotator in item.get("answers", {}):
        raise AnswerRefused(f"{annotator} gave one of the answers on tweet {item['id']}: a third person decides")
    item["adjudication"] = {"label": label, "annotator": annotator, "at": _now()}
    settle(item)


def assign_pairs(items: list[dict], annotators: list[str], share: float, counts: dict) -> None:
    """Reserve ``share`` of newly loaded items for two different annotators each (overlap), the pairs in turn.

    ``counts`` (``loaded``, ``overlap``) carries over loads, so the share holds across them within one item.
    With fewer than two annotators nothing is reserved.
    """
    pairs = list(combinations(sorted(set(annotators)), 2))
    for item in items:
        counts["loaded"] = counts.get("loaded", 0) + 1
        if pairs and counts.get("overlap", 0) < round(share * counts["loaded"]):
            item["pair"] = list(pairs[counts.get("overlap", 0) % len(pairs)])
            counts["overlap"] = counts.get("overlap", 0) + 1


def log_record(item: dict, batch: str | None) -> dict:
    return {"id": item["id"], "suggested": item["suggested"], "answers": answers_of(item), "pair": item.get("pair"),
            "skipped_by": item.get("skipped_by", []), "adjudication": item.get("adjudication"),
            "final": item["label"], "decided_by": item["annotator"], "batch": batch, "status": status(item)}
