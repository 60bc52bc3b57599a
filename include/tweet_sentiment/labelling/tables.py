"""The labelling queue's tables in the state database (storage/database.py).

- ``labelling_items``: one row per tweet ever queued, pending or gone (``send_no`` set when a send took it out:
  its id keeps a later load from queueing it again, and its row is the answer log's record);
- ``labelling_answers``: one row per person's answer on a tweet (what the agreement figures count);
- ``labelling_skips``: one row per person who passed a tweet on;
- ``labelling_steps``: each annotator's undo history since their last send;
- ``labelling_batches``: every batch sent, with its correction rate;
- ``labelling_cursors``: how far each source file was read; ``labelling_counters``: the overlap share's counts
  and the number of sends so far;
- ``labelling_answer_counts``, ``labelling_pair_counts``: the agreement figures' counts (below).
"""

from __future__ import annotations

import sqlalchemy as sa

from tweet_sentiment.storage.database import METADATA

_JSON = sa.JSON(none_as_null=True)

ITEMS = sa.Table(
    "labelling_items", METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("loaded_no", sa.Integer, nullable=False),  # the order of loading (the answer log's within a send)
    sa.Column("source", sa.String, nullable=False),
    sa.Column("row", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("fields", _JSON),  # the source's optional columns (UserName, ScreenName, Location, TweetAt)
    sa.Column("suggested", sa.String(32)),
    sa.Column("probabilities", _JSON),
    sa.Column("margin", sa.Float),
    sa.Column("version", sa.String(64)),
    sa.Column("pair_first", sa.String(256)),  # the two annotators an overlap tweet is reserved for
    sa.Column("pair_second", sa.String(256)),
    sa.Column("adjudication", _JSON),
    sa.Column("label", sa.String(32)),  # the outcome, once decided
    sa.Column("annotator", sa.String(256)),  # who decided it
    sa.Column("status", sa.String(16), nullable=False),  # answers.status: open | waiting | disputed | decided
    sa.Column("send_no", sa.Integer),  # the send that took it out of the queue (None: still queued)
    sa.Column("batch", sa.String),  # the inbox file it went out in (None: pending or set aside)
    sa.Index("ix_labelling_items_queue", "send_no", "status"),
    sa.Index("ix_labelling_items_decider", "annotator", "send_no"),
)

ANSWERS = sa.Table(
    "labelling_answers", METADATA,
    sa.Column("item_id", sa.String(32), primary_key=True),
    sa.Column("annotator", sa.String(256), primary_key=True),
    sa.Column("label", sa.String(32), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)  # no index by annotator: the queries start from the queue's tweets (the agreement figures read counts.py's)

SKIPS = sa.Table(
    "labelling_skips", METADATA,
    sa.Column("item_id", sa.String(32), primary_key=True),
    sa.Column("annotator", sa.String(256), primary_key=True),
    sa.Index("ix_labelling_skips_annotator", "annotator"),
)

STEPS = sa.Table(
    "labelling_steps", METADATA,
    sa.Column("step", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("annotator", sa.String(256), nullable=False),
    sa.Column("item_id", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # answer | skip
    sa.Column("before", _JSON),  # the answer replaced (answer) or the pair released (skip)
    sa.Index("ix_labelling_steps_annotator", "annotator", "step"),
)

BATCHES = sa.Table(
    "labelling_batches", METADATA,
    sa.Column("batch_no", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("file", sa.String, nullable=False, unique=True),
    sa.Column("annotator", sa.String(256), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("record", _JSON, nullable=False),
)

CURSORS = sa.Table(
    "labelling_cursors", METADATA,
    sa.Column("source", sa.String, primary_key=True),
    sa.Column("last_row", sa.Integer, nullable=False),
)

COUNTERS = sa.Table(
    "labelling_counters", METADATA,
    sa.Column("name", sa.String(32), primary_key=True),  # loaded | overlap | sends
    sa.Column("value", sa.Integer, nullable=False),
)

# The agreement figures' counts, kept up to date by every change of an answer (state.py), so the Labels page
# reads a few hundred counts instead of joining every answer: answers per (annotator, answer, the model's
# suggestion), and tweets per (two annotators who both answered, the first's answer, the second's).
ANSWER_COUNTS = sa.Table(
    "labelling_answer_counts", METADATA,
    sa.Column("annotator", sa.String(256), primary_key=True),
    sa.Column("label", sa.String(32), primary_key=True),
    sa.Column("suggested", sa.String(32), primary_key=True),  # "" when the tweet had no suggestion
    sa.Column("n", sa.Integer, nullable=False),
)

PAIR_COUNTS = sa.Table(
    "labelling_pair_counts", METADATA,
    sa.Column("first", sa.String(256), primary_key=True),
    sa.Column("second", sa.String(256), primary_key=True),
    sa.Column("first_label", sa.String(32), primary_key=True),
    sa.Column("second_label", sa.String(32), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
)
