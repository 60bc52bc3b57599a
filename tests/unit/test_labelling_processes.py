"""Several API-server workers label at once: three processes answer the same tweets together, each with its own
class. Each click reads the tweet's answers and writes its outcome in one transaction of the state database, so
every tweet ends with exactly two answers and waits for adjudication, and every third answer is refused: none
lost, none let through a dispute (without the transaction two clicks read the same answers and both decide), and
the agreement counts kept click by click equal the answers counted again. On SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest
from native_services import postgres_server

from tweet_sentiment.labelling.answers import AnswerRefused
from tweet_sentiment.labelling.counts import recount
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.state import QUEUED, insert_items, load_items
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.database import dispose_engines, read_connection, write_transaction
from tweet_sentiment.storage.fs import DataLayout, as_path

TWEETS = 150


def _answer_every_tweet(root: str, db: str, annotator: str, label: str, out: str) -> None:
    dispose_engines()  # a forked child opens its own connections
    queue = LabellingQueue(DataLayout(root), db, predictor=None, max_chars=1000)
    refused = 0
    for n in range(TWEETS):
        try:
            queue.record(f"t{n}", label, annotator)
        except AnswerRefused:
            refused += 1
    Path(out).write_text(str(refused))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> Iterator[str]:
    """The embedded default (SQLite in the data root) and production's PostgreSQL (a server of its own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite'}"
        return
    with postgres_server() as url:
        yield url
        dispose_engines()


def test_three_processes_answering_the_same_tweets_leave_two_answers_each_and_a_dispute(db, tmp_path):
    items = [{"id": f"t{n}", "row": n, "source": "x.csv", "text": f"tweet {n}", "label": None, "annotator": None,
              "suggested": LABELS[2], "probabilities": {}, "margin": 0.1, "version": "v1"} for n in range(TWEETS)]
    with write_transaction(db) as connection:
        insert_items(connection, items, loaded_from=0)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_answer_every_tweet,
                               args=(str(tmp_path / "data"), db, f"a{i}", LABELS[i], str(tmp_path / f"a{i}")))
               for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    with read_connection(db) as connection:
        queued = load_items(connection, QUEUED)
    assert [len(i["answers"]) for i in queued] == [2] * TWEETS, "an answer was lost or let through a dispute"
    assert {(i["label"], len(set(a["label"] for a in i["answers"].values()))) for i in queued} == {(None, 2)}
    assert sum(int((tmp_path / f"a{i}").read_text()) for i in range(3)) == TWEETS  # each tweet's third answer
    queue = LabellingQueue(DataLayout(as_path(tmp_path / "data")), db, predictor=None, max_chars=1000)
    assert len(queue.disputed(limit=TWEETS)) == TWEETS
    figures = queue.agreement()
    assert sum(p["tweets"] for p in figures["pairs"]) == TWEETS
    with write_transaction(db) as connection:
        recount(connection)  # the counts kept click by click are the answers' counts
    assert queue.agreement() == figures
