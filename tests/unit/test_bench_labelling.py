"""bench-scale's labelling history (benchmarks/scale/labelling.py): the answers built in bulk are what the
product's reads see, and the figures' clicks leave the queue as built."""

from __future__ import annotations

import sqlalchemy as sa

from benchmarks.scale.labelling import ANNOTATORS, PENDING, build_answers, labelling_figures
from benchmarks.scale.options import ScaleOptions
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.tables import ANSWERS
from tweet_sentiment.storage.database import read_connection
from tweet_sentiment.storage.fs import DataLayout, as_path


def test_the_bulk_built_answers_are_counted_and_the_clicks_undone(tmp_path):
    db = f"sqlite:///{tmp_path / 'state.sqlite'}"
    assert build_answers(db, 4000) >= 0
    queue = LabellingQueue(DataLayout(as_path(tmp_path / "data")), db, None, 1000, list(ANNOTATORS), 0.1)
    with read_connection(db) as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(ANSWERS)).scalar_one() == 4000
    assert sum(p["tweets"] for p in queue.agreement()["pairs"]) == 2000  # two answers a sent tweet
    assert sum(f["answers"] for f in queue.agreement()["annotators"]) == 4000
    assert queue.view(limit=0)["remaining"] == PENDING and len(queue.answer_log(limit=10)) == 10

    figures = labelling_figures(ScaleOptions(sizes=(4000,), root=tmp_path / "bench"))
    assert figures["labelling_answers"] == 4000 and 0 < figures["label_click_ms_p50"] <= figures["label_click_ms_p95"]
    again = LabellingQueue(DataLayout(as_path(tmp_path / "d")), f"sqlite:///{tmp_path}/bench/labelling/n-4000/state.sqlite",
                           None, 1000)
    assert again.view(limit=0)["remaining"] == PENDING  # every click undone
