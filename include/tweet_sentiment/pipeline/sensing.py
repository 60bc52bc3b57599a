"""What a run has to do, decided by its first task: go now, wait a little, or end skipped with the reason.

A run never holds the DAG's one active-run slot waiting for work that may not come: with nothing to do it ends
at once (after ``Settings.sensor_wait_s``, 0 by default), so the run an inbox event starts is never queued
behind an idle one. It only waits for files that are in the inbox but still being written.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from tweet_sentiment.intake.claim import inbox_files
from tweet_sentiment.storage.fs import DataLayout, is_hidden, list_dir
from tweet_sentiment.storage.labelled_store import LabelledStore

GO, WAIT, SKIP = "go", "wait", "skip"


class Work(NamedTuple):
    """The decision and, for people (the task log, the run's note), why."""

    action: Literal["go", "wait", "skip"]
    reason: str


def pending_work(layout: DataLayout, settle_s: float, strategy: str, waited_s: float, wait_s: float) -> Work:
    """Go: complete inbox files, a failed run's claimed files, or a refit with rows in the labelled store.

    Wait: files still being written (unchanged for less than ``settle_s``), or nothing yet but ``waited_s`` is
    below ``wait_s``. Skip: nothing to do, with the reason and what a person can do instead.
    """
    ready, arriving = inbox_files(layout.inbox, settle_s)
    left = [p for p in list_dir(layout.processing) if not is_hidden(p)]
    if ready or left:
        found = f"{len(ready)} new file(s) in the inbox"
        return Work(GO, f"{found}, {len(left)} claimed batch(es) of a failed run" if left else found)
    if arriving:
        return Work(WAIT, f"{len(arriving)} inbox file(s) still being written (changed less than {settle_s:g} s ago)")
    if strategy == "refit":
        batches = LabelledStore(layout.labelled).batch_ids()
        if batches:
            return Work(GO, f"no new files: refit on the labelled store ({len(batches)} batch(es))")
        nothing = "nothing to train on: the inbox is empty and the labelled store holds no rows"
    else:
        nothing = ("nothing new in the inbox, so strategy=continue has nothing to learn from "
                   "(a manual run with strategy=refit retrains on the labelled store at once)")
    if waited_s < wait_s:
        return Work(WAIT, f"{nothing}; waiting up to {wait_s:g} s")
    return Work(SKIP, nothing)
