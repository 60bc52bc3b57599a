"""Sent batches: one inbox file each, even when one annotator sends twice within a second (a storm)."""

import json

from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.schema import DATE_COLUMN
from tweet_sentiment.storage.fs import DataLayout, as_path


def queued(item_id: str, text: str) -> dict:
    return {"id": item_id, "row": 1, "source": "x.csv", "text": text, "UserName": "", "ScreenName": "",
            "Location": "", DATE_COLUMN: "", "label": None, "annotator": None, "suggested": "Neutral",
            "probabilities": {}, "margin": 0.1, "version": "v1"}


def test_two_sends_in_the_same_second_write_two_files(tmp_path):
    layout = DataLayout(as_path(tmp_path / "data"))
    layout.labelling.mkdir(parents=True)
    (layout.labelling / "queue.json").write_text(json.dumps(
        {"items": [queued("a", "masks again"), queued("b", "shops empty")], "cursors": {}, "sent_ids": []}))
    queue = LabellingQueue(layout, predictor=None, max_chars=1000)
    queue.record("a", "Negative", "ann")
    first = queue.send_batch("ann")
    queue.record("b", "Negative", "ann")
    second = queue.send_batch("ann")
    assert first["file"] != second["file"] and first["rows"] == second["rows"] == 1
    assert sorted(p.name for p in layout.inbox.iterdir()) == sorted([first["file"], second["file"]])
