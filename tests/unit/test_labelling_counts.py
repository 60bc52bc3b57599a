"""The agreement counts kept click by click (labelling/counts.py) equal the answers counted again, whatever the
people do in whatever order: answers, changed answers, unsure, skips, undos, adjudications, sends (Hypothesis)."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tweet_sentiment.labelling.answers import UNSURE, AnswerRefused
from tweet_sentiment.labelling.counts import recount
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.sources import LabellingInputError
from tweet_sentiment.labelling.state import insert_items
from tweet_sentiment.labelling.tables import ANSWER_COUNTS, PAIR_COUNTS
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.database import read_connection, write_transaction
from tweet_sentiment.storage.fs import DataLayout, as_path

PEOPLE = ("ann", "ben", "cat")
TWEETS = ("a", "b", "c", "d")
actions = st.tuples(st.sampled_from(("record", "skip", "undo", "adjudicate", "send")), st.sampled_from(TWEETS),
                    st.sampled_from((*LABELS, UNSURE)), st.sampled_from(PEOPLE))


def queued(item_id: str) -> dict:
    return {"id": item_id, "row": 1, "source": "x.csv", "text": f"tweet {item_id}", "label": None, "annotator": None,
            "suggested": LABELS[ord(item_id) % 5], "probabilities": {}, "margin": 0.1, "version": "v1",
            "pair": ["ann", "ben"] if item_id == "d" else None}


def act(queue: LabellingQueue, kind: str, item_id: str, label: str, who: str) -> None:
    calls = {"record": lambda: queue.record(item_id, label, who), "skip": lambda: queue.skip(item_id, who),
             "undo": lambda: queue.undo(who), "adjudicate": lambda: queue.adjudicate(item_id, label, who),
             "send": lambda: queue.send_batch(who)}
    with contextlib.suppress(AnswerRefused, LabellingInputError):  # refused: nothing changed, nor may the counts
        calls[kind]()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, min_size=1, max_size=25))
def test_the_kept_counts_are_the_answers_counted_again(steps):
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'state.sqlite'}"
        with write_transaction(db) as connection:
            insert_items(connection, [queued(t) for t in TWEETS], loaded_from=0)
        queue = LabellingQueue(DataLayout(as_path(Path(tmp) / "data")), db, None, 1000, list(PEOPLE), 0.0)
        for step in steps:
            act(queue, *step)
        kept = counted(db)
        with write_transaction(db) as connection:
            recount(connection)
        assert counted(db) == kept


def counted(db: str) -> dict[str, set[tuple]]:
    """Every count not zero (a negative one would be a bug the figures' reads hide)."""
    with read_connection(db) as connection:
        return {t.name: {tuple(r) for r in connection.execute(sa.select(t).where(t.c.n != 0))}
                for t in (ANSWER_COUNTS, PAIR_COUNTS)}
