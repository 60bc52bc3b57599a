"""The team re-annotates the fixed-holdout tweets the label check queued (labelling/holdout.py), the way it labels
now: the policy's label where the policy applies, else the label it was shown. Sent as one batch, so the holdout's
next version holds the team's rule on the rows it touches (and only those: nothing reaches the inbox)."""

from __future__ import annotations

from lab.scenarios import Policy
from tweet_sentiment.config import Settings
from tweet_sentiment.labelling import state
from tweet_sentiment.labelling.holdout import HOLDOUT_SOURCE
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.tables import ITEMS
from tweet_sentiment.storage.database import read_connection

TEAM = "lab-team"


def reannotate_holdout(settings: Settings, policy: Policy) -> dict:
    """Answer every pending holdout tweet in the queue by ``policy`` and send them; the send's record
    (``holdout_version`` None: nothing was queued)."""
    with read_connection(settings.state_db) as connection:
        pending = state.load_items(connection, state.PENDING & (ITEMS.c.source == HOLDOUT_SOURCE))
    if not pending:
        return {"holdout_version": None, "holdout_rows": 0}
    queue = LabellingQueue(settings.layout(), settings.state_db, predictor=None, max_chars=settings.max_text_chars)
    for item in pending:
        shown = item["suggested"]
        queue.record(item["id"], policy.relabel.get(shown, shown) if policy.matches(item["text"]) else shown, TEAM)
    return queue.send_batch(TEAM)
