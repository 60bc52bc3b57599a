"""Mood alerts: what the public says that changed in the newest period, found in the scored stream's counts.

``detect.py`` holds the function the scoring DAG calls (:func:`detect_mood_alerts`), ``reads.py`` the reads of
the stream's tables (only the periods a check needs), ``method.py`` the test on those counts (pure: frames in,
alerts out) and ``statistics.py`` its arithmetic (log-odds z-scores with an informative Dirichlet prior, the
between-period variance, Benjamini-Hochberg, the share interval). The method: docs/mood-alerts.md.
"""

from tweet_sentiment.monitoring.mood_alerts.detect import detect_mood_alerts

__all__ = ["detect_mood_alerts"]
