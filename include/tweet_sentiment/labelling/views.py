"""The queue as the Labelling page sees it, as queries of the state database: who sees which tweet, in which
order, one page of them, and each annotator's running counts (counted by the database, not read whole).

Who sees what (the rules of answers.py): a tweet is in an annotator's queue while it is undecided and undisputed,
they have neither answered nor skipped it, and (an overlap tweet) it is reserved for them. Order: overlap tweets
whose partner has answered first (finish the pair), then the other overlap tweets, then the rest; within each,
the smallest top-2 margin (the most uncertain) first.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tweet_sentiment.labelling.answers import UNSURE
from tweet_sentiment.labelling.state import PENDING, QUEUED, load_items, rows_sent
from tweet_sentiment.labelling.tables import ANSWERS, ITEMS, SKIPS
from tweet_sentiment.schema import LABELS


def _count(connection: Connection, where: sa.ColumnElement) -> int:
    return connection.execute(sa.select(sa.func.count()).select_from(ITEMS).where(where)).scalar_one()


def visible(annotator: str | None) -> sa.ColumnElement:
    """The tweets in ``annotator``'s queue (None: every pending tweet)."""
    if annotator is None:
        return PENDING
    answered = sa.exists().where((ANSWERS.c.item_id == ITEMS.c.id) & (ANSWERS.c.annotator == annotator))
    skipped = sa.exists().where((SKIPS.c.item_id == ITEMS.c.id) & (SKIPS.c.annotator == annotator))
    reserved = (ITEMS.c.pair_first == annotator) | (ITEMS.c.pair_second == annotator)
    return PENDING & ~answered & ~skipped & (ITEMS.c.pair_first.is_(None) | reserved)


def _order() -> tuple:
    """Overlap tweets a partner answered, other overlap tweets, the rest; the most uncertain first."""
    answered = sa.exists().where(ANSWERS.c.item_id == ITEMS.c.id)
    return sa.case((ITEMS.c.pair_first.is_(None), 2), (answered, 0), else_=1), ITEMS.c.margin, ITEMS.c.id


def running_counts(connection: Connection, annotator: str) -> dict[str, int]:
    """The annotator's figures: answers in the queue (labelled, unsure), skips, tweets to send, answers waiting
    for a partner or an adjudication, and rows sent so far."""
    answers = connection.execute(
        sa.select(ITEMS.c.status, ANSWERS.c.label == UNSURE, sa.func.count())
        .join(ITEMS, ITEMS.c.id == ANSWERS.c.item_id).where(QUEUED & (ANSWERS.c.annotator == annotator))
        .group_by(ITEMS.c.status, ANSWERS.c.label == UNSURE)).all()
    skipped = sa.exists().where((SKIPS.c.item_id == ITEMS.c.id) & (SKIPS.c.annotator == annotator))
    return {
        "labelled": sum(n for _, unsure, n in answers if not unsure),
        "unsure": sum(n for _, unsure, n in answers if unsure),
        "skipped": _count(connection, QUEUED & skipped),
        "to_send": _count(connection, to_send(annotator)),
        "waiting_for_pair": sum(n for status, _, n in answers if status == "waiting"),
        "disputed": sum(n for status, _, n in answers if status == "disputed"),
        "sent": rows_sent(connection, annotator),
    }


def to_send(annotator: str | None) -> sa.ColumnElement:
    """Queued tweets decided as a class (by ``annotator``; None: by anyone): the next batches."""
    mine = sa.true() if annotator is None else ITEMS.c.annotator == annotator
    return QUEUED & ITEMS.c.label.is_not(None) & (ITEMS.c.label != UNSURE) & mine


def queue_view(connection: Connection, predicted: str | None, limit: int, annotator: str | None) -> dict:
    """One page of the queue (``limit`` tweets, of one predicted class if ``predicted``) with its counts."""
    where = visible(annotator)
    by_class = dict(connection.execute(sa.select(ITEMS.c.suggested, sa.func.count()).where(where)
                                       .group_by(ITEMS.c.suggested)).all())
    if predicted:
        where = where & (ITEMS.c.suggested == predicted)
    return {"items": load_items(connection, where, _order(), limit=max(0, limit)),
            "remaining": _count(connection, where),
            "pending_by_class": {label: by_class.get(label, 0) for label in LABELS},
            "labelled_unsent": _count(connection, to_send(annotator)),
            "disputed": _count(connection, QUEUED & (ITEMS.c.status == "disputed")),
            "mine": running_counts(connection, annotator) if annotator else None}
