"""Mood alerts are marked on the chart at the period that holds each alert's period start, once per class."""

from tweet_sentiment.monitoring.alert_marks import alert_marks

POINTS = [{"start": "2020-03-16T00:00:00+00:00"}, {"start": "2020-03-17T00:00:00+00:00"},
          {"start": "2020-03-18T00:00:00+00:00"}]


def _extra(start: str, label: str = "Negative") -> dict:
    return {"period_start": start, "label": label, "words": [{"word": w} for w in ("a", "b", "c", "d")]}


def test_each_alert_at_its_period_once_per_class():
    marks = alert_marks(POINTS, [_extra("2020-03-17T00:00:00+00:00"), _extra("2020-03-17T00:00:00+00:00"),
                                 _extra("2020-03-18T05:00:00+00:00", "Positive")])
    assert marks == [{"x": 1, "label": "Negative", "words": ["a", "b", "c"]},
                     {"x": 2, "label": "Positive", "words": ["a", "b", "c"]}]


def test_an_alert_before_the_charted_periods_is_not_marked():
    assert alert_marks(POINTS, [_extra("2020-03-01T00:00:00+00:00")]) == []
