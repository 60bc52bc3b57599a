import csv
import io

from tweet_sentiment.intake.feed import chronological_rows, next_batch
from tweet_sentiment.storage.fs import DataLayout


def write_kaggle(path, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["UserName", "ScreenName", "Location", "TweetAt", "OriginalTweet", "Sentiment"])
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode("latin-1"))


def test_feed_replays_rows_chronologically_in_batches_and_remembers_the_offset(tmp_path):
    train = tmp_path / "train.csv"
    write_kaggle(train, [[i, i, "", date, f"tweet {i}", "Neutral"] for i, date in
                         enumerate(["17-03-2020", "16-03-2020", "18-03-2020", "16-03-2020", "19-03-2020"])])
    assert [r[4] for r in chronological_rows(train)[1]] == ["tweet 1", "tweet 3", "tweet 0", "tweet 2", "tweet 4"]
    layout = DataLayout(tmp_path / "data")
    layout.ensure()
    first = next_batch(layout, train, batch_rows=2, start_at=1)
    second = next_batch(layout, train, batch_rows=2, start_at=1)
    assert (first.name, second.name) == ("feed-00001-00003.csv", "feed-00003-00005.csv")
    assert "tweet 3" in first.read_text() and "tweet 0" in first.read_text()
    assert "tweet 1" not in first.read_text() and "tweet 2" in second.read_text()
    assert next_batch(layout, train, 2, 1) is None
    assert [p.name for p in layout.inbox.iterdir() if p.name.startswith(".")] == []
