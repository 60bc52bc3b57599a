"""The systematic corrections the label check has found, remembered after they leave its window.

The check counts corrections over its recent batches (confident_learning.systematic_corrections); once the model
has learnt a rule, nobody corrects it any more and the check stops finding it. The older rows the rule contradicts
stay in the store, though, and keep being replayed and refitted on: training must still know the rule to weigh
them down (label_check.teaching.outdated_weights). So the check's task (the one writer) merges what each batch's
check found into ``labels/corrections.json``, one record per term: ``word``, ``direction``, ``since`` (the batch
the team began it in), ``moved_from`` (the labels it moves away from) and ``found_in`` (the batch whose check first
found it). The same term found again the same way keeps its start and adds the labels; found the other way (the
team changed its mind) it replaces the record. Its size is the number of terms a team ever corrected, not the
history's.
"""

from __future__ import annotations

import pandas as pd
from upath import UPath

from tweet_sentiment.storage.fs import DataLayout, read_json, write_json_atomic


def corrections_file(layout: DataLayout) -> UPath:
    return layout.labels / "corrections.json"


def known_corrections(layout: DataLayout) -> list[dict]:
    """Every systematic correction found so far (the module doc's records), by term; [] before the first."""
    path = corrections_file(layout)
    return read_json(path) if path.exists() else []


def merged(known: list[dict], found: pd.DataFrame, batch_id: str) -> list[dict]:
    """``known`` with the corrections ``found`` by the check of ``batch_id`` (see the module doc), by term."""
    by_word = {k["word"]: k for k in known}
    for c in found.to_dict("records"):
        old = by_word.get(c["word"])
        labels = [str(label) for label in c.get("moved_from") or []]
        if old and old["direction"] == c["direction"]:
            by_word[c["word"]] = {**old, "moved_from": sorted({*old["moved_from"], *labels})}
        else:
            by_word[c["word"]] = {"word": c["word"], "direction": c["direction"], "since": str(c["since"]),
                                  "moved_from": sorted(labels), "found_in": batch_id}
    return [by_word[w] for w in sorted(by_word)]


def remember_corrections(layout: DataLayout, batch_id: str, found: pd.DataFrame) -> list[dict]:
    """Merge the check's ``found`` corrections of ``batch_id`` into the file (idempotent: a retry of the batch
    changes nothing); every known correction."""
    known = known_corrections(layout)
    updated = merged(known, found, batch_id)
    if updated != known:
        write_json_atomic(corrections_file(layout), updated)
    return updated


def first_found_in(layout: DataLayout, batch_id: str) -> list[dict]:
    """The known corrections whose check first found them in ``batch_id`` (a rule the loop has just learnt of)."""
    return [c for c in known_corrections(layout) if c.get("found_in") == batch_id]
