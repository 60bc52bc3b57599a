"""What the Labels page shows: the overlap setting, the agreement figures, one page of disputed tweets, and the
rows the label check held for review (one page, the flagged files read once)."""

from __future__ import annotations

from tweet_sentiment.label_check.review import review_page
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.schema import LABELS

PAGE_ROWS = 100  # disputed tweets and held rows shown at a time


def labels_page(queue: LabellingQueue, disputed_offset: int = 0) -> dict:
    """The Labels page's figures (``disputed_offset``: where its page of disputed tweets starts)."""
    return {"overlap": queue.overlap(), **queue.agreement(),
            "disputed": queue.disputed(limit=PAGE_ROWS, offset=disputed_offset), "labels": list(LABELS),
            "flagged": review_page(queue.layout, PAGE_ROWS)}
