"""The annotators' queue: unlabelled tweets pre-annotated by the champion, most uncertain first, sent as batches.

Its state is the state database's (``state.py``: it survives restarts, and the API server's workers and the
scoring DAG, which re-annotates the queue for a new champion, change it at once, each change one transaction);
who sees and decides what is ``answers.py``; a sent batch is one CSV in the inbox (``sent_batch.py``). This module
is the queue's operations: load, pre-annotate, view, answer, undo, send, and the agreement figures.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa

from tweet_sentiment.labelling import counts, state
from tweet_sentiment.labelling.agreement import annotator_figures, pair_agreement
from tweet_sentiment.labelling.answers import (
    UNSURE,
    AnswerRefused,
    NotQueued,
    adjudicate,
    answer,
    assign_pairs,
    log_record,
    parse_answer,
    skip,
    undo,
)
from tweet_sentiment.labelling.holdout import HOLDOUT_SOURCE, is_holdout_item, record_reannotations
from tweet_sentiment.labelling.sent_batch import write_sent_batch
from tweet_sentiment.labelling.sources import (
    LabellingInputError,
    LoadReport,
    items_from_drifted,
    items_from_file,
)
from tweet_sentiment.labelling.tables import ITEMS
from tweet_sentiment.labelling.views import queue_view
from tweet_sentiment.model.prediction import Prediction, Predictor
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.database import read_connection, write_transaction
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.text import clean_tweet

_PREDICT_CHUNK = 256


def _suggest(item: dict, prediction: Prediction) -> None:
    item.update(suggested=prediction.label, probabilities=prediction.probabilities,
                margin=round(prediction.margin, 5), version=prediction.version)


class LabellingQueue:
    """Load, pre-annotate, order, label and send, on the queue's tables in the state database ``db_url``."""

    def __init__(self, layout: DataLayout, db_url: str, predictor: Predictor, max_chars: int,
                 annotators: list[str] | None = None, overlap_share: float = 0.0) -> None:
        """``annotators``: the configured annotators; with two or more, ``overlap_share`` of each load is reserved
        for two of them."""
        self.layout = layout
        self.db = db_url
        self.predictor = predictor
        self.max_chars = max_chars
        self.annotators = sorted(set(annotators or []))
        self.overlap_share = overlap_share

    def batches(self) -> list[dict]:
        """Every batch sent so far, oldest first, with its correction rate."""
        with read_connection(self.db) as connection:
            return state.batches(connection)

    # -- loading -----------------------------------------------------------------------------------------
    def load(self, name: str, data: bytes, limit: int, resume: bool = False,
             drifted: pd.DataFrame | None = None, drift_share: float = 0.0) -> LoadReport:
        """Queue up to ``limit`` new tweets, each pre-annotated by the champion.

        With ``drifted`` (the drifted window's tweets, most unlike the reference first: see drift_watch), a
        ``drift_share`` of them comes from there, so people label what the model now sees; the rest from the CSV.
        ``resume`` continues where the previous load of the same file stopped (the configured 2022 file); an
        upload is read from its start. Tweets already queued or sent are not queued again. The champion
        annotates outside the transaction, so clicks do not wait for it.
        """
        report = LoadReport(name)
        with read_connection(self.db) as connection:
            known = state.KnownIds(connection)
            rows = [] if drifted is None else items_from_drifted(drifted, round(limit * drift_share), known,
                                                                  self.max_chars)
            report.drifted = len(rows)
            start = state.cursor(connection, name) if resume else 0
            file_rows, last_row = items_from_file(name, data, limit - len(rows), start, known, report,
                                                  self.max_chars)
        rows += file_rows
        self._annotate(rows)
        with write_transaction(self.db) as connection:
            rows = state.drop_known(connection, rows, report)  # queued by a load that ran meanwhile
            tally = state.counters(connection, lock=True)
            first = tally.get("loaded", 0)
            assign_pairs(rows, self.annotators, self.overlap_share, tally)
            state.insert_items(connection, rows, loaded_from=first)
            state.set_counters(connection, tally)
            if resume:
                state.set_cursor(connection, name, last_row)
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
        """Pre-annotate again, with the champion now, the pending tweets another version suggested; tweets answered
        meanwhile (sent or not) keep their answers and the suggestion their annotators saw (the correction rate's
        and the agreement with the model's)."""
        version = self.predictor.champion().version
        with read_connection(self.db) as connection:
            stale = [i for i in state.load_items(connection, state.PENDING & (ITEMS.c.source != HOLDOUT_SOURCE))
                     if not i["answers"] and i.get("version") != version]
        for i in range(0, len(stale), _PREDICT_CHUNK):
            chunk = stale[i:i + _PREDICT_CHUNK]
            for item, prediction in zip(chunk, self.predictor.predict_cleaned(
                    [clean_tweet(item["text"]) for item in chunk]), strict=True):
                _suggest(item, prediction)
        with write_transaction(self.db) as connection:
            rescored = sum(state.set_suggestion(connection, item) for item in stale)
            labelled = connection.execute(sa.select(sa.func.count()).where(
                state.QUEUED & ITEMS.c.label.is_not(None))).scalar_one()
        return {"version": version, "rescored": rescored, "labelled_kept": labelled}

    # -- the queue ---------------------------------------------------------------------------------------
    def view(self, predicted: str | None = None, limit: int = 50, annotator: str | None = None) -> dict:
        """One page of the pending tweets, most uncertain first (smallest top-2 margin), optionally of one predicted
        class, with the queue's counts (views.py).

        For an ``annotator``: the tweets in their queue, their overlap tweets first (those whose partner has
        answered before the rest), and their running counts.
        """
        if predicted is not None and predicted not in LABELS:
            raise LabellingInputError(f"unknown class {predicted!r}; expected one of: {', '.join(LABELS)}")
        with read_connection(self.db) as connection:
            return {**queue_view(connection, predicted, limit, annotator), "overlap": self.overlap()}

    def overlap(self) -> dict:
        """Whether overlap is on, its share and the annotators it pairs."""
        return {"on": len(self.annotators) >= 2, "share": self.overlap_share, "annotators": self.annotators}

    def _change(self, item_id: str, annotator: str, change: Callable[[dict, list[dict]], None]) -> dict:
        """Apply one answer-changing rule to a queued tweet in one transaction (its rows and the annotator's undo
        step); a tweet gone from the queue is refused with what became of it (nothing is changed)."""
        with write_transaction(self.db) as connection:
            item = state.load_item(connection, item_id, lock=True)
            if item is None or item["sent"]:
                raise self._gone(item_id, item)
            before = copy.deepcopy(item)
            steps: list[dict] = []
            change(item, steps)
            state.save_item(connection, before, item)
            state.push_steps(connection, annotator, steps)
        return item

    @staticmethod
    def _gone(item_id: str, item: dict | None) -> Exception:
        if item is None:
            return NotQueued(f"no queued tweet {item_id!r} (never loaded)")
        how = (f"decided as {item['label']} by {item['annotator']} ({item['batch'] or 'set aside, not sent'})"
               if item["label"] else "sent or set aside")
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
        with write_transaction(self.db) as connection:
            step = state.pop_step(connection, annotator)
            if step is None:
                raise AnswerRefused(f"{annotator} has nothing to undo since their last send")
            item = state.load_item(connection, step["id"], lock=True)
            gone = item is None or item["sent"]
            if not gone:
                before = copy.deepcopy(item)
                undo(item, annotator, step)
                state.save_item(connection, before, item)
        if gone:  # the step is used up all the same, so the next undo reaches further
            raise AnswerRefused(f"tweet {step['id']} has left the queue since (sent by another annotator): "
                                "nothing to undo")
        return {"undone": step["kind"], "item": item}

    def disputed(self, limit: int = 100, offset: int = 0) -> list[dict]:
        """Tweets with two different answers, waiting for a third person's, oldest first (one page of them)."""
        with read_connection(self.db) as connection:
            items = state.load_items(connection, state.QUEUED & (ITEMS.c.status == "disputed"))
        items.sort(key=lambda i: max(a["at"] for a in i["answers"].values()))
        return items[offset:offset + limit]

    def answer_log(self, limit: int | None = None, offset: int = 0) -> list[dict]:
        """Tweets decided and sent or set aside, oldest send first (one page of them): answers, outcome, decider,
        batch (ids sent before answers were logged, migrated without an outcome, are left out)."""
        with read_connection(self.db) as connection:
            gone = state.load_items(connection, ~state.QUEUED & ITEMS.c.label.is_not(None),
                                    (ITEMS.c.send_no, ITEMS.c.loaded_no), limit, offset)
        return [log_record(i, i["batch"]) for i in gone]

    def agreement(self) -> dict:
        """The agreement figures over every answer so far, sent or queued: per pair of annotators who answered
        the same tweets, and per annotator (agreement.py), from the counts each answer keeps (counts.py)."""
        with read_connection(self.db) as connection:
            return {"pairs": pair_agreement(counts.pair_cells(connection)),
                    "annotators": annotator_figures(counts.answer_cells(connection), counts.skip_counts(connection))}

    def send_batch(self, annotator: str) -> dict:
        """Write the tweets the annotator decided into the inbox as one CSV (atomically) and record the batch;
        those decided as unsure are set aside (kept in the answer log, never sent). Fixed-holdout tweets queued
        for re-annotation never go to the inbox: their answers become the holdout's next version (holdout.py).

        The CSV is written before the transaction commits: a crash in between can only send the rows twice, and
        the ingest drops the second copy as a duplicate.
        """
        if not annotator.isprintable():  # the name goes into the inbox CSV and its name: a NUL would spoil both
            raise LabellingInputError(f"an annotator's name must be printable, not {annotator!r}")
        with write_transaction(self.db) as connection:
            decided = state.load_items(connection, state.decided_by(annotator), (ITEMS.c.loaded_no,), lock=True)
            if not decided:
                raise LabellingInputError(f"{annotator} has no labelled tweets to send")
            labelled = [i for i in decided if i["label"] != UNSURE]
            holdout = [i for i in labelled if is_holdout_item(i)]
            mine = [i for i in labelled if not is_holdout_item(i)]
            record = write_sent_batch(self.layout.inbox, annotator, mine) if mine else {"file": None, "rows": 0}
            record["unsure_set_aside"] = len(decided) - len(labelled)
            if mine:
                state.add_batch(connection, record)
            state.mark_sent(connection, annotator, record["file"])
            record["holdout_version"] = record_reannotations(connection, holdout, annotator)
            record["holdout_rows"] = len(holdout)
            state.clear_steps(connection, annotator)
        return record
