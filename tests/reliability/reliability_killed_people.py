"""Run one person's write (a review decision, a sent labelling batch) and SIGKILL this process at a chosen point.

Usage: ``python reliability_killed_people.py <point>``; the data root comes from TWEET_SENTIMENT_DATA_ROOT and
must hold the held row ``b1--0`` (a review) or annotator ``ann``'s labelled tweets (a send). The kill points are
patched in here, in the child only (reliability_killed_run.py's helpers).
"""

from __future__ import annotations

import sys

from reliability_killed_run import die, kill_after_publishing, kill_once_published

from tweet_sentiment.config import Settings
from tweet_sentiment.label_check.review import resolve_review
from tweet_sentiment.labelling.queue import LabellingQueue


def review() -> None:
    resolve_review(Settings.from_env().layout(), "b1--0", "relabel", "Negative", "rev")


def send() -> None:
    settings = Settings.from_env()
    LabellingQueue(settings.layout(), settings.state_db, predictor=None, max_chars=1000).send_batch("ann")


POINTS = {
    # the review's CSV is in the inbox, its record not yet written
    "review-csv-published": (lambda: kill_after_publishing("review-b1--0.csv"), review),
    # the batch's CSV is in the inbox; the queue still holds its tweets (its transaction not committed)
    "send-csv-published": (lambda: kill_once_published(lambda p: p.parent.name == "inbox"), send),
    # the send is complete; the plugin has not recorded the inbox event yet
    "send-before-event": (lambda: None, lambda: (send(), die())),
}


def main(point: str) -> None:
    arm, act = POINTS[point]
    arm()
    act()
    print(f"kill point {point} was never reached", file=sys.stderr)
    sys.exit(3)


if __name__ == "__main__":
    main(sys.argv[1])
