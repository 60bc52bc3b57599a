"""Settings read from the environment: a value a setting cannot take is refused with the variable's name and
what it may be (not a bare ``invalid literal for int()``)."""

from __future__ import annotations

import pytest

from tweet_sentiment.config import SettingError, Settings


@pytest.mark.parametrize(("variable", "value", "allowed"), [
    ("TWEET_SENTIMENT_PREDICT_MAX_TEXTS", "many", "an integer from 1 up"),
    ("TWEET_SENTIMENT_PREDICT_MAX_TEXTS", "0", "an integer from 1 up"),
    ("TWEET_SENTIMENT_LABEL_OVERLAP", "1.5", "a number from 0 to 1"),
    ("TWEET_SENTIMENT_LABEL_OVERLAP", "nan", "a number from 0 to 1"),
    ("INFINITY_TIMEOUT_S", "-3", "a number from 0.1 up"),
    ("TWEET_SENTIMENT_DRIFT_AUC_THRESHOLD", "0.2", "a number from 0.5 to 1"),
    ("TWEET_SENTIMENT_DRIFT_WINDOW_ROWS", "2k", "an integer from 10 up"),
    ("TWEET_SENTIMENT_DRIFT_REFERENCE", "yesterday", "one of stream, training"),
])
def test_a_bad_value_names_the_variable_and_what_it_may_be(monkeypatch, variable, value, allowed):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingError) as refused:
        Settings.from_env()
    assert str(refused.value).startswith(f"{variable}={value!r} ") and allowed in str(refused.value)


def test_values_in_range_are_read(monkeypatch):
    monkeypatch.setenv("TWEET_SENTIMENT_PREDICT_MAX_TEXTS", "7")
    monkeypatch.setenv("TWEET_SENTIMENT_LABEL_OVERLAP", "0.25")
    monkeypatch.setenv("TWEET_SENTIMENT_DRIFT_WINDOW_ROWS", "500")
    settings = Settings.from_env()
    assert (settings.predict_max_texts, settings.label_overlap_share, settings.drift_window_rows) == (7, 0.25, 500)
