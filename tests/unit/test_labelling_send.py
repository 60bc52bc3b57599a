"""Sent batches: one inbox file each, even when one annotator sends twice within a second (a storm)."""

from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.state import insert_items
from tweet_sentiment.schema import DATE_COLUMN
from tweet_sentiment.storage.database import write_transaction
from tweet_sentiment.storage.fs import DataLayout, as_path


def queued(item_id: str, text: str) -> dict:
    return {"id": item_id, "row": 1, "source": "x.csv", "text": text, "UserName": "", "ScreenName": "",
            "Location": "", DATE_COLUMN: "", "label": None, "annotator": None, "suggested": "Neutral",
            "probabilities": {}, "margin": 0.1, "version": "v1"}


def test_two_sends_in_the_same_second_write_two_files(tmp_path):
    layout = DataLayout(as_path(tmp_path / "data"))
    db = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with write_transaction(db) as connection:
        insert_items(connection, [queued("a", "masks again"), queued("b", "shops empty")], loaded_from=0)
    queue = LabellingQueue(layout, db, predictor=None, max_chars=1000)
    queue.record("a", "Negative", "ann")
    first = queue.send_batch("ann")
    queue.record("b", "Negative", "ann")
    second = queue.send_batch("ann")
    assert first["file"] != second["file"] and first["rows"] == second["rows"] == 1
    assert sorted(p.name for p in layout.inbox.iterdir()) == sorted([first["file"], second["file"]])
