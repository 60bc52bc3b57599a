"""A person decides an ambiguous challenger: the approval request, the staleness rule, and the decision recorded.

The approval DAG reads the candidate from its asset event, asks (Airflow's human-in-the-loop branch), then calls
:func:`decide`. The registry is checked again when the answer comes: an answer given after the champion changed
(another promotion, a rollback) promotes nothing. Every decision, a person's or the timeout's default, is written
on the challenger's card (``approval``) and a promotion in the champion pointer's history, like any promotion.
"""

from __future__ import annotations

import re

from tweet_sentiment.config import Settings
from tweet_sentiment.model.registry import AWAITING, ChampionMovedError, ModelRegistry, now_iso
from tweet_sentiment.pipeline.assets import champion_event
from tweet_sentiment.schema import LABELS

PROMOTE = "Promote"
KEEP = "Keep champion"
OPTIONS = [PROMOTE, KEEP]
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&])")
_HOLDOUTS = (("fixed", "metrics"), ("recent", "recent_metrics"))


def md_escape(text: str) -> str:
    """Tweet text safe inside Markdown (and a table cell): one line, every Markdown character escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _f1(figures: dict | None) -> str:
    return f"{figures['macro_f1']:.4f}" if figures else "–"


def _figures(candidate: dict) -> list[str]:
    lines = ["| holdout | rows | champion macro-F1 | challenger macro-F1 | change | p-value |",
             "|---|---|---|---|---|---|"]
    for name, suffix in _HOLDOUTS:
        champion, challenger = candidate.get(f"champion_{suffix}"), candidate.get(f"challenger_{suffix}")
        gate = (candidate.get("gate") or {}).get(name) or {}
        rows = (challenger or {}).get("rows", "–")
        change = f"{gate['gain']:+.4f}" if "gain" in gate else "–"
        p_value = gate.get("p_value", "–")
        lines.append(f"| {name} | {rows} | {_f1(champion)} | {_f1(challenger)} | {change} | {p_value} |")
    return lines


def per_class_change(candidate: dict) -> dict[str, dict[str, float | None]]:
    """Challenger minus champion F1 of each class, on each holdout (None where a holdout was not scored)."""
    change: dict[str, dict[str, float | None]] = {}
    for label in LABELS:
        change[label] = {}
        for name, suffix in _HOLDOUTS:
            champion = (candidate.get(f"champion_{suffix}") or {}).get("per_class_f1") or {}
            challenger = (candidate.get(f"challenger_{suffix}") or {}).get("per_class_f1") or {}
            both = label in champion and label in challenger
            change[label][name] = round(challenger[label] - champion[label], 5) if both else None
    return change


def _per_class(candidate: dict) -> list[str]:
    lines = ["| class | fixed F1 change | recent F1 change |", "|---|---|---|"]
    for label, change in per_class_change(candidate).items():
        cells = [f"{v:+.4f}" if v is not None else "–" for v in (change["fixed"], change["recent"])]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return lines


def _examples(card: dict) -> list[str]:
    rows = [(name, row) for name, found in (card.get("disagreements") or {}).items() for row in found]
    if not rows:
        return ["No holdout tweet where the two models disagree was recorded."]
    lines = ["| holdout | label | champion says | challenger says | tweet |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {r['label']} | {r['champion']} | {r['challenger']} | {md_escape(r['text'])} |"
              for name, r in rows]
    return lines


def _slices(card: dict) -> list[str]:
    """The systematic corrections' slices the gate tested (model/slices.py), if any, as a table."""
    found = (card.get("slices") or {}).get("slices") or []
    if not found:
        return []
    lines = ["### The team's corrections (rows labelled since each began)",
             "| correction | holdout rows | accuracy change | fixed / broken | p (Holm) |", "|---|---|---|---|---|"]
    return lines + [f"| {md_escape(s['correction'])} | {s['rows']} | {s['gain']:+.3f} | {s['wins']} / {s['losses']} "
                    f"| {s['adjusted_p']} |" for s in found]


def request_body(candidate: dict, card: dict) -> str:
    """The approval request's Markdown: the gate's reason, both holdouts' figures (and the corrections' slices),
    the per-class F1 change, and tweets where champion and challenger disagree (escaped)."""
    parts = [f"Challenger **{candidate['version']}** against champion **{candidate['champion']}**.",
             f"Gate: {md_escape(candidate.get('reason') or '')}", "### Both holdouts", *_figures(candidate),
             *_slices(card),
             "### Per-class F1 change (challenger − champion)", *_per_class(candidate),
             "### Tweets where the two models disagree", *_examples(card),
             f"Choose **{PROMOTE}** to make the challenger the champion; without an answer the champion stays."]
    return "\n".join(part if part.startswith("|") else f"\n{part}\n" for part in parts).strip()


def build_request(settings: Settings, candidates: list[dict]) -> dict:
    """The request for the newest candidate of the run's events (older ones, if several came at once, are recorded
    as superseded): the candidate itself, a subject, the Markdown body, and ``timeout_s``: how long it waits (the
    retrain run's ``approval_timeout_s`` Param, else the setting)."""
    if not candidates:
        raise ValueError("no candidate event: the approval DAG runs on the retrain DAG's candidate events")
    registry = ModelRegistry.of(settings)
    candidate = candidates[-1]
    for older in candidates[:-1]:
        if registry.card(older["version"]).get("status") == AWAITING:
            _record(registry, older, "superseded", None, f"superseded by {candidate['version']} before anyone "
                                                           "was asked", promoted=False)
    return {"candidate": candidate, "subject": f"Promote challenger {candidate['version']}?",
            "body": request_body(candidate, registry.card(candidate["version"])),
            "timeout_s": candidate.get("approval_timeout_s") or settings.approval_timeout_s}


def stale_reason(registry: ModelRegistry, candidate: dict) -> str | None:
    """Why an answer to ``candidate`` can no longer promote it (None: it still can): the champion is not the one
    it was judged against, or the challenger is no longer waiting for a decision."""
    champion = registry.champion_version()
    if champion != candidate["champion"]:
        last = (registry.history(newest=1) or [{}])[-1]
        how = "a rollback" if last.get("action") == "rollback" else "a promotion"
        return (f"the champion changed since the evaluation ({candidate['champion']} → {champion}, by {how}); "
                "the challenger was judged against a champion no longer in use")
    status = registry.card(candidate["version"]).get("status")
    return None if status == AWAITING else f"the challenger is no longer waiting for a decision (status {status})"


def _record(registry: ModelRegistry, candidate: dict, decision: str, by: str | None, reason: str,
            promoted: bool) -> dict:
    """Write the decision on the challenger's card (a refusal or a keep also rejects it) and return it."""
    approval = {"decision": decision, "by": by, "at": now_iso(), "reason": reason,
                "champion_at_evaluation": candidate["champion"]}
    if not promoted:
        registry.reject(candidate["version"], reason)
    registry.update_card(candidate["version"], approval=approval)
    return {"version": candidate["version"], "promoted": promoted, **approval}


def decide(settings: Settings, candidate: dict, choice: str, by: str | None) -> dict:
    """Apply the answer ``choice`` of user ``by`` (None: nobody answered in time, the default applies).

    A promotion re-checks the registry (see :func:`stale_reason`) and returns the champion event's extra as
    ``event``; a stale one promotes nothing and says why on the card.
    """
    registry = ModelRegistry.of(settings)
    version = candidate["version"]
    if registry.champion_version() == version and registry.card(version).get("approval"):  # a re-run
        return {"version": version, "promoted": True, **registry.card(version)["approval"],
                "event": champion_event(registry, "approve")}
    if choice != PROMOTE:
        reason = (f"kept champion: {KEEP!r} chosen by {by}" if by else
                  f"kept champion: no answer within the timeout, the default {KEEP!r} applies")
        return _record(registry, candidate, "kept" if by else "timeout", by, reason, promoted=False)
    if stale := stale_reason(registry, candidate):
        return _record(registry, candidate, "refused", by, f"approval by {by} refused: {stale}; nothing promoted",
                       promoted=False)
    reason = f"approved by {by}: {candidate.get('reason') or ''}"
    try:
        registry.promote(version, reason, expected=candidate["champion"])
    except ChampionMovedError as moved:  # a promotion or rollback won the race after the check above
        return _record(registry, candidate, "refused", by, f"approval by {by} refused: the champion changed "
                       f"({moved.expected} → {moved.actual}) while it was applied; nothing promoted", promoted=False)
    return {**_record(registry, candidate, "promoted", by, reason, promoted=True),
            "event": champion_event(registry, "approve")}
