"""The Labels page's data (pages/labels.py): agreement from the database's counts, a page of disputed tweets from
an offset, and the label check's held rows with their counts, the flagged files read once."""

from __future__ import annotations

from support import write_held_row

import tweet_sentiment.label_check.review as review
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.state import insert_items
from tweet_sentiment.pages.labels import labels_page
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.database import write_transaction
from tweet_sentiment.storage.fs import DataLayout, as_path


def test_the_labels_page_pages_its_disputes_and_reads_the_held_rows_once(tmp_path, monkeypatch):
    layout = DataLayout(as_path(tmp_path / "data"))
    db = f"sqlite:///{tmp_path / 'state.sqlite'}"
    items = [{"id": i, "row": 1, "source": "x.csv", "text": f"tweet {i}", "label": None, "annotator": None,
              "suggested": LABELS[2], "probabilities": {}, "margin": 0.1, "version": "v1"} for i in ("a", "b")]
    with write_transaction(db) as connection:
        insert_items(connection, items, loaded_from=0)
    queue = LabellingQueue(layout, db, None, 1000, annotators=["ann", "ben"], overlap_share=0.1)
    for item_id in ("a", "b"):  # a before b: the older dispute first
        queue.record(item_id, LABELS[0], "ann")
        queue.record(item_id, LABELS[4], "ben")
    write_held_row(layout, "masks gone again", "2020-03-16", LABELS[4])
    reads = []
    monkeypatch.setattr(review, "held_rows", lambda lay, read=review.held_rows: reads.append(1) or read(lay))

    page = labels_page(queue)
    assert [i["id"] for i in page["disputed"]] == ["a", "b"]
    assert [i["id"] for i in labels_page(queue, disputed_offset=1)["disputed"]] == ["b"]
    (pair,) = page["pairs"]
    assert pair["annotators"] == ["ann", "ben"] and pair["tweets"] == 2 and pair["confusion"][0][4] == 2
    assert [r["review_id"] for r in page["flagged"]["pending"]] == ["b1--0"]
    assert page["flagged"]["counts"] == {"pending": 1, "accept": 0, "relabel": 0, "drop": 0}
    assert len(reads) == 2  # once per page load
