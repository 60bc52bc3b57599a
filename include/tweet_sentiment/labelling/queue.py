"""The annotators' queue: unlabelled tweets pre-annotated by the champion, most uncertain first, sent as batches.

Its state and lock are ``state.py``'s (so it survives restarts, and the API server and the scoring DAG, which
re-annotates the queue for a new champion, can both change it); who sees and decides what is ``answers.py``; a
sent batch is one CSV in the inbox (``sent_batch.py``). This module is the queue's operations: load, pre-annotate,
view, answer, undo, send.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from tweet_sentiment.labelling.answers import (
    UNSURE,
    AnswerRefused,
    NotQueued,
    adjudicate,
    answer,
    assign_pairs,
    log_record,
    overlap_rank,
    parse_answer,
    running_counts,
    skip,
    status,
    undo,
    visible_to,
)
from tweet_sentiment.labelling.sent_batch import write_sent_batch
from tweet_sentiment.labelling.sources import (
    LabellingInputError,
    LoadReport,
    items_from_drifted,
    items_from_file,
)
from tweet_sentiment.labelling.state import QueueState
from tweet_sentiment.model.prediction import Prediction, Predictor
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.text import clean_tweet

_PREDICT_CHUNK = 256
_HISTORY_STEPS = 200  # the undo history kept per annotator


def _suggest(item: dict, prediction: Prediction) -> None:
    item.update(suggested=prediction.label, probabilities=prediction.probabilities,
                margin=round(prediction.margin, 5), version=prediction.version)


class LabellingQueue:
    """Load, pre-annotate, order, label and send; one instance per process (its lock orders the writes)."""

    def __init__(self, layout: DataLayout, predictor: Predictor, max_chars: int, annotators: list[str] | None = None,
                 overlap_share: float = 0.0) -> None:
        """``annotators``: the configured annotators; with two or more, ``overlap_share`` of each load is reserved
        for two of them."""
        self.layout = layout
        self.predictor = predictor
        self.max_chars = max_chars
        self.annotators = sorted(set(annotators or []))
        self.overlap_share = overlap_share
        self.state = QueueState(layout)

    def batches(self) -> list[dict]:
        """Every batch sent so far, oldest first, with its correction rate."""
        return self.state.batches()

    # -- loading -----------------------------------------------------------------------------------------
    def load(self, name: str, data: bytes, limit: int, resume: bool = False,
             drifted: pd.DataFrame | None = None, drift_share: float = 0.0) -> LoadReport:
        """Queue up to ``limit`` new tweets, each pre-annotated by the champion.

        With ``drifted`` (the drifted window's tweets, most unlike the reference first: see drift_watch), a
        ``drift_share`` of them comes from there, so people label what the model now sees; the rest from the CSV.
        ``resume`` continues where the previous load of the same file stopped (the configured 2022 file); an
        upload is read from its start. Tweets already queued or sent are not queued again.
        """
        report = LoadReport(name)
        with self.state.locked():
            state = self.state.read()
            known = {item["id"] for item in state["items"]} | set(state["sent_ids"])
            rows = [] if drifted is None else items_from_drifted(drifted, round(limit * drift_share), known,
                                                                  self.max_chars)
            report.drifted = len(rows)
            start = state["cursors"].get(name, 0) if resume else 0
            file_rows, last_row = items_from_file(name, data, limit - len(rows), start, known, report,
                                                  self.max_chars)
            rows += file_rows
            self._annotate(rows)
            assign_pairs(rows, self.annotators, self.overlap_share, state.setdefault("overlap_counts", {}))
            state["items"].extend(rows)
            if resume:
                state["cursors"][name] = last_row
            self.state.save(state)
        report.queued = len(rows)
        return report

    def _annotate(self, rows: list[dict]) -> None:
        """Pre-annotate new items with the champion (their cleaned text leaves them)."""
        for i in range(0, len(rows), _PREDICT_CHUNK):
            chunk = rows[i:i + _PREDICT_CHUNK]
            for item, prediction in zip(chunk, self.predictor.predict_cleaned([r.pop("clean") for r in chunk]),
                                        strict=True):
                _suggest(item, prediction)

    def rescore(self) -> dict:
        """Pre-annotate again, with the champion now, the pending tweets another version suggested; tweets already
        answered (sent or not) keep their answers and the suggestion their annotators saw (the correction rate's
        and the agreement with the model's)."""
        with self.state.locked():
            state = self.state.read()
            version = self.predictor.champion().version
            stale = [i for i in state["items"] if not i["answers"] and i.get("version") != version]
            for i in range(0, len(stale), _PREDICT_CHUNK):
                chunk = stale[i:i + _PREDICT_CHUNK]
                for item, prediction in zip(chunk, self.predictor.predict_cleaned(
                        [clean_tweet(item["text"]) for item in chunk]), strict=True):
                    _suggest(item, prediction)
            if stale:
                self.state.save(state)
        labelled = sum(1 for i in state["items"] if i["label"] is not None)
        return {"version": version, "rescored": len(stale), "labelled_kept": labelled}

    # -- the queue ---------------------------------------------------------------------------------------
    def view(self, predicted: str | None = None, limit: int = 50, annotator: str | None = None) -> dict:
        """Pending tweets most uncertain first (smallest top-2 margin), optionally of one predicted class.

        For an ``annotator``: the tweets in their queue (see label_answers.visible_to), their overlap tweets first
        (those whose partner has answered before the rest), and their running counts.
        """
        if predicted is not None and predicted not in LABELS:
            raise LabellingInputError(f"unknown class {predicted!r}; expected one of: {', '.join(LABELS)}")
        items = self.state.read()["items"]
        if annotator is None:
            pending = [i for i in items if status(i) in ("open", "waiting")]
        else:
            pending = [i for i in items if visible_to(i, annotator)]
        by_class = {label: sum(1 for i in pending if i["suggested"] == label) for label in LABELS}
        if predicted:
            pending = [i for i in pending if i["suggested"] == predicted]
        pending.sort(key=lambda i: (overlap_rank(i), i["margin"], i["id"]))
        decided = [i for i in items if i["label"] not in (None, UNSURE) and annotator in (None, i["annotator"])]
        return {"items": pending[:max(0, limit)], "remaining": len(pending), "pending_by_class": by_class,
                "labelled_unsent": len(decided), "disputed": sum(1 for i in items if status(i) == "disputed"),
                "overlap": self.overlap(),
                "mine": running_counts(items, annotator, self.batches()) if annotator else None}

    def overlap(self) -> dict:
        """Whether overlap is on, its share and the annotators it pairs."""
        return {"on": len(self.annotators) >= 2, "share": self.overlap_share, "annotators": self.annotators}

    def _change(self, item_id: str, annotator: str, change: Callable[[dict, list[dict]], None]) -> dict:
        """Apply one answer-changing rule to a queued tweet under the lock; a tweet gone from the queue is refused
        with what became of it (nothing is changed)."""
        with self.state.locked():
            state = self.state.read()
            item = next((i for i in state["items"] if i["id"] == item_id), None)
            if item is None:
                raise self._gone(item_id, set(state["sent_ids"]))
            history = state.setdefault("history", {}).setdefault(annotator, [])
            change(item, history)
            del history[:-_HISTORY_STEPS]
            self.state.save(state)
        return item

    def _gone(self, item_id: str, sent: set[str]) -> Exception:
        if item_id not in sent:
            return NotQueued(f"no queued tweet {item_id!r} (never loaded)")
        done = next((r for r in reversed(self.answer_log()) if r["id"] == item_id), None)
        how = (f"decided as {done['final']} by {done['decided_by']} ({done['batch'] or 'set aside, not sent'})"
               if done else "sent or set aside")
        return AnswerRefused(f"tweet {item_id} has left the queue ({how}); this answer was not recorded and nothing "
                             "else changed")

    def record(self, item_id: str, label: str, annotator: str) -> dict:
        """Record a person's answer for one queued tweet: a class or ``Unsure`` (their earlier one is replaced)."""
        canonical = parse_answer(label)
        return self._change(item_id, annotator, lambda item, history: answer(item, annotator, canonical, history))

    def skip(self, item_id: str, annotator: str) -> dict:
        """Pass a tweet on: it leaves this annotator's queue and stays in everyone else's."""
        return self._change(item_id, annotator, lambda item, history: skip(item, annotator, history))

    def adjudicate(self, item_id: str, label: str, annotator: str) -> dict:
        """The third answer on a disputed tweet (a class or ``Unsure``); it goes in the adjudicator's next batch."""
        canonical = parse_answer(label)
        return self._change(item_id, annotator, lambda item, _: adjudicate(item, annotator, canonical))

    def undo(self, annotator: str) -> dict:
        """Take back the annotator's newest answer or skip since their last send; the tweet is theirs again."""
        with self.state.locked():
            state = self.state.read()
            history = state.setdefault("history", {}).get(annotator, [])
            if not history:
                raise AnswerRefused(f"{annotator} has nothing to undo since their last send")
            step = history.pop()
            item = next((i for i in state["items"] if i["id"] == step["id"]), None)
            if item is not None:
                undo(item, annotator, step)
            self.state.save(state)  # the step is used up even when refused below, so the next undo reaches further
        if item is None:
            raise AnswerRefused(f"tweet {step['id']} has left the queue since (sent by another annotator): "
                                "nothing to undo")
        return {"undone": step["kind"], "item": item}

    def disputed(self) -> list[dict]:
        """Tweets with two different answers, waiting for a third person's, oldest first."""
        items = [i for i in self.state.read()["items"] if status(i) == "disputed"]
        return sorted(items, key=lambda i: max(a["at"] for a in i["answers"].values()))

    def answer_log(self) -> list[dict]:
        """Every tweet that left the queue, oldest send first: its answers, outcome, decider and batch (one file
        per send under ``answers/``, so a send writes only its own tweets)."""
        return self.state.answer_log()

    def answer_records(self) -> list[dict]:
        """The answers of every tweet answered so far, left or still queued (what agreement is computed on)."""
        live = [log_record(i, None) for i in self.state.read()["items"] if i["answers"] or i.get("skipped_by")]
        return [*self.answer_log(), *live]

    def send_batch(self, annotator: str) -> dict:
        """Write the tweets the annotator decided into the inbox as one CSV (atomically) and record the batch;
        those decided as unsure are set aside (kept in the answer log, never sent).

        The CSV is written before the queue forgets the rows: a crash in between can only send them twice,
        and the ingest drops the second copy as a duplicate.
        """
        if not annotator.isprintable():  # the name goes into the inbox CSV and its name: a NUL would spoil both
            raise LabellingInputError(f"an annotator's name must be printable, not {annotator!r}")
        with self.state.locked():
            state = self.state.read()
            decided = [i for i in state["items"] if i["label"] is not None and i["annotator"] == annotator]
            if not decided:
                raise LabellingInputError(f"{annotator} has no labelled tweets to send")
            mine = [i for i in decided if i["label"] != UNSURE]
            record = write_sent_batch(self.layout.inbox, annotator, mine) if mine else {"file": None, "rows": 0}
            record["unsure_set_aside"] = len(decided) - len(mine)
            if mine:
                self.state.add_batch(record)
            self.state.add_answers([log_record(i, record["file"] if i["label"] != UNSURE else None)
                                    for i in decided])
            gone = {i["id"] for i in decided}
            state["items"] = [i for i in state["items"] if i["id"] not in gone]
            state["sent_ids"].extend(sorted(gone))
            state.setdefault("history", {})[annotator] = []
            self.state.save(state)
        return record
