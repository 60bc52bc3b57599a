"""Writing a replayed day into a scored stream through the product's own writers: the day's tweets as the ingest
stores them (``ScoredStream.write_batch``), then their scores, counts and word counts as a scoring run commits
them (``scoring.score_frame``, ``mood.count_rows``, ``mood.count_words``, ``ScoredStream.write_scores``), from
class probabilities computed once (the lab scores every tweet once and caches the answer)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from tweet_sentiment.intake.unlabelled import DATED_BY_DAY
from tweet_sentiment.monitoring.mood import count_rows, count_words
from tweet_sentiment.monitoring.scoring import score_frame
from tweet_sentiment.storage.scored_stream import ScoredStream
from tweet_sentiment.text import text_hash


def day_rows(batch_id: str, day: pd.Timestamp, texts: Sequence[str], dated_by: str = DATED_BY_DAY) -> pd.DataFrame:
    """The ``rows`` of one file of tweets dated ``day`` (by default dated by day, as the Kaggle files' TweetAt)."""
    return pd.DataFrame({"batch_id": batch_id, "text": list(texts), "text_hash": [text_hash(t) for t in texts],
                         "raw_text": list(texts), "tweet_at": day, "dated_by": dated_by, "annotated": "",
                         "arrived_at": datetime.now(UTC), "source_file": f"{batch_id}.csv",
                         "source_row": np.arange(1, len(texts) + 1)})


def write_scored_day(tables: ScoredStream, batch_id: str, day: pd.Timestamp, texts: Sequence[str],
                     probabilities: np.ndarray, version: str, dated_by: str = DATED_BY_DAY) -> None:
    """Store one day's (or hour's) tweets as a batch, then commit ``version``'s answers for them
    (``probabilities`` row for row, in the order of LABELS)."""
    rows = day_rows(batch_id, pd.Timestamp(day), texts, dated_by)
    tables.write_batch(batch_id, rows)
    rescore(tables, batch_id, rows.assign(seq=np.arange(len(rows))), probabilities, version)


def rescore(tables: ScoredStream, batch_id: str, rows: pd.DataFrame, probabilities: np.ndarray,
            version: str) -> None:
    """Commit ``version``'s answers for a stored batch's ``rows`` (with their ``seq``)."""
    scores = score_frame(rows, probabilities, version)
    tables.write_scores([batch_id], version, {"scores": scores, "counts": count_rows(rows, scores),
                                              "words": count_words(rows, scores)})
