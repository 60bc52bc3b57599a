"""The agreement figures' counts (tables.ANSWER_COUNTS, PAIR_COUNTS): changed with every answer, in the same
transaction, so the Labels page reads a few hundred counts, never every answer.

An item's *cells* are what its answers add to the counts: one per answer (annotator, answer, the model's
suggestion) and one per two people who both answered it (first, second, first's answer, second's). A change adds
the cells of the item after it and takes away those of the item before it. :func:`recount` counts everything
again from the answers (after a bulk load, and what the tests compare the kept counts with).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import combinations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from tweet_sentiment.labelling.tables import ANSWER_COUNTS, ANSWERS, ITEMS, PAIR_COUNTS, SKIPS

_UPSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
_ANSWER_KEY = ("annotator", "label", "suggested")
_PAIR_KEY = ("first", "second", "first_label", "second_label")


def _cells(items: Iterable[dict], sign: int, answers: Counter, pairs: Counter) -> None:
    for item in items:
        given = {name: a["label"] for name, a in item.get("answers", {}).items()}
        for name, label in given.items():
            answers[(name, label, item.get("suggested") or "")] += sign
        for a, b in combinations(sorted(given), 2):
            pairs[(a, b, given[a], given[b])] += sign


def _add(connection: Connection, table: sa.Table, key: tuple[str, ...], deltas: Counter) -> None:
    """Add each delta to its count (created at the delta when missing: an upsert on SQLite and PostgreSQL)."""
    upsert = _UPSERTS.get(connection.dialect.name)
    for values, delta in sorted(deltas.items()):
        if not delta:
            continue
        row = dict(zip(key, values, strict=True))
        if upsert is not None:
            connection.execute(upsert(table).values(**row, n=delta).on_conflict_do_update(
                index_elements=list(key), set_={"n": table.c.n + delta}))
            continue
        match = sa.and_(*(table.c[k] == v for k, v in row.items()))
        if connection.execute(sa.update(table).where(match).values(n=table.c.n + delta)).rowcount == 0:
            connection.execute(sa.insert(table).values(**row, n=delta))


def count_change(connection: Connection, before: Iterable[dict], after: Iterable[dict]) -> None:
    """Count the items as ``after`` instead of as ``before`` (new items: no ``before``)."""
    answers: Counter = Counter()
    pairs: Counter = Counter()
    _cells(after, 1, answers, pairs)
    _cells(before, -1, answers, pairs)
    _add(connection, ANSWER_COUNTS, _ANSWER_KEY, answers)
    _add(connection, PAIR_COUNTS, _PAIR_KEY, pairs)


def recount(connection: Connection) -> None:
    """Count every answer again (one pass over the answers: after a bulk load)."""
    connection.execute(sa.delete(ANSWER_COUNTS))
    connection.execute(sa.delete(PAIR_COUNTS))
    suggested = sa.func.coalesce(ITEMS.c.suggested, "")
    connection.execute(sa.insert(ANSWER_COUNTS).from_select([*_ANSWER_KEY, "n"], sa.select(
        ANSWERS.c.annotator, ANSWERS.c.label, suggested, sa.func.count())
        .join(ITEMS, ITEMS.c.id == ANSWERS.c.item_id).group_by(ANSWERS.c.annotator, ANSWERS.c.label, suggested)))
    first, second = ANSWERS.alias("first"), ANSWERS.alias("second")
    connection.execute(sa.insert(PAIR_COUNTS).from_select([*_PAIR_KEY, "n"], sa.select(
        first.c.annotator, second.c.annotator, first.c.label, second.c.label, sa.func.count())
        .join(second, (first.c.item_id == second.c.item_id) & (first.c.annotator < second.c.annotator))
        .group_by(first.c.annotator, second.c.annotator, first.c.label, second.c.label)))


def pair_cells(connection: Connection) -> list[tuple[str, str, str, str, int]]:
    """(first annotator, second, first's answer, second's, tweets) for every two people who answered a tweet."""
    query = sa.select(*(PAIR_COUNTS.c[k] for k in _PAIR_KEY), PAIR_COUNTS.c.n).where(PAIR_COUNTS.c.n > 0)
    return [tuple(r) for r in connection.execute(query.order_by(*(PAIR_COUNTS.c[k] for k in _PAIR_KEY)))]


def answer_cells(connection: Connection) -> list[tuple[str, str, str, int]]:
    """(annotator, answer, the model's suggestion, tweets)."""
    query = sa.select(*(ANSWER_COUNTS.c[k] for k in _ANSWER_KEY), ANSWER_COUNTS.c.n).where(ANSWER_COUNTS.c.n > 0)
    return [tuple(r) for r in connection.execute(query.order_by(*(ANSWER_COUNTS.c[k] for k in _ANSWER_KEY)))]


def skip_counts(connection: Connection) -> dict[str, int]:
    """Skips per annotator."""
    query = sa.select(SKIPS.c.annotator, sa.func.count()).group_by(SKIPS.c.annotator)
    return {name: n for name, n in connection.execute(query)}
