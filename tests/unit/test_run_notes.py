"""The run note's login from a connection's parts; a note that cannot be written is logged, never raised."""

import logging

from support import free_port

from tweet_sentiment.pipeline.api_login import ApiLogin, api_login
from tweet_sentiment.pipeline.run_notes import set_run_note


def test_a_connection_host_may_be_a_base_url_or_a_host_name():
    assert api_login("http://api:8080/", None, "bot", "pw") == ApiLogin("http://api:8080", "bot", "pw")
    assert api_login("localhost", 8080, "bot", "pw").url == "http://localhost:8080"
    assert api_login("airflow.example.org", None, "bot", "pw").url == "http://airflow.example.org"


def test_an_api_that_does_not_answer_leaves_the_note_out_with_a_warning(caplog):
    login = ApiLogin(f"http://127.0.0.1:{free_port()}", "bot", "pw")  # nothing listens there
    with caplog.at_level(logging.WARNING):
        assert set_run_note(login, "dag", "manual__2026-01-01T00:00:00+00:00", "Skipped: nothing", 2) is False
    assert "could not set the note of dag manual__2026-01-01T00:00:00+00:00" in caplog.text
