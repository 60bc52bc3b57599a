"""The Mood page over a stream the scoring tasks really scored (real infinity, the UI's champion): 150 tweets of the
2021 snapshot of the 2022 file, then 150 of the 2022 snapshot. Its API behind Airflow's login, a labelling load that
draws its share from the drifted window, and the page in headless Chromium (screenshot in test-output/); then
mood alerts kept as the scoring DAG keeps them: marked on the chart, listed a page at a time with their words,
z-scores and examples, acknowledged in the browser (screenshot ui-mood-alert.png).

Runs after the other UI modules (file order): its drift check changes what the labelling queue loads.
"""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import UTC, datetime

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from support import DATASET_DIR

from tweet_sentiment.intake.feed import chronological_rows, write_rows
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.sources import DRIFT_SOURCE
from tweet_sentiment.monitoring.alert_store import record_check
from tweet_sentiment.monitoring.alert_types import DriverWord, MoodAlert
from tweet_sentiment.pipeline.params import ScoreOptions
from tweet_sentiment.pipeline.score import (
    archive_unlabelled,
    check_drift,
    claim_unlabelled,
    score_in_process,
    update_mood,
)
from tweet_sentiment.storage.fs import DataLayout, read_json

from .conftest import UNLABELLED
from .test_browser import browser, log_in, open_from_navigation, screenshot, wait

__all__ = ["browser"]
PER_SNAPSHOT = 150


@pytest.fixture(scope="module")
def scored(ui_server) -> dict:
    """Two unlabelled files, a snapshot each, scored by two scoring runs as the DAG's tasks do (the UI's champion)."""
    settings = dataclasses.replace(ui_server.settings, drift_window_rows=PER_SNAPSHOT, mood_hourly_min_tweets=50)
    header, rows = chronological_rows(DATASET_DIR / UNLABELLED)
    col = header.index("TweetAt")
    snapshots = [[r for r in rows if r[col].startswith(year)][:PER_SNAPSHOT] for year in ("2021", "2022")]
    inbox = settings.layout().unlabelled
    inbox.mkdir(parents=True, exist_ok=True)
    for run, snapshot in enumerate(snapshots):
        path = write_rows(inbox, f"snapshot-{run}.csv", header, snapshot)
        os.utime(path, (time.time() - 60 + run, time.time() - 60 + run))  # settled, in order
        ledger = claim_unlabelled(settings, f"mood_ui_{run}")
        done = score_in_process(settings, ScoreOptions())
        mood = update_mood(settings, done)
        drift = check_drift(settings, done, ScoreOptions())
        # the run ends as the DAG's does: archived (else the next claim takes over this batch, and only it)
        archive_unlabelled(settings, ledger, {"score": done, "mood": mood, "drift": drift})
    return drift


@pytest.mark.parametrize(("method", "path"), [("GET", "mood"), ("GET", "api/mood"), ("GET", "api/mood/chart.png"),
                                              ("GET", "static/mood.js")])
def test_the_mood_page_and_its_endpoints_refuse_anonymous_requests(ui_server, method, path):
    with ui_server.client(token="") as anonymous:
        assert anonymous.request(method, path).status_code == 401


def test_the_mood_api_gives_the_series_the_drift_and_who_scored_it(ui_server, scored):
    assert scored["status"] == "checked" and scored["reference"] == "stream", scored
    with ui_server.client() as api:
        mood = api.get("api/mood").json()
        chart = api.get("api/mood/chart.png")
    assert mood["rows"] == 2 * PER_SNAPSHOT and mood["scored_by"] == mood["champion"] and not mood["rescoring_pending"]
    periods = [(p["period"][:10], p["resolution"]) for p in mood["points"]]  # newest first
    assert periods == [("2022-12-30", "hour"), ("2021-12-30", "hour")]
    assert all(p["champion_version"] == mood["champion"] for p in mood["points"])
    assert mood["coverage"] == [{"version": mood["champion"], "rows": 2 * PER_SNAPSHOT, "share": 1.0}]
    drift = mood["drift"]
    assert drift["reference"]["rows"] == drift["window"]["rows"] == PER_SNAPSHOT
    assert drift["reference"]["to"].startswith("2021-12-30") and drift["window"]["from"].startswith("2022-12-30")
    assert drift["embedding"]["threshold"] == 0.55 and len(drift["examples"]) == 12
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")


def test_while_drift_holds_a_share_of_each_load_comes_from_the_drifted_window(ui_server, scored):
    if not scored["drifted"]:
        pytest.fail(f"the two snapshots did not drift: {scored}")
    with ui_server.client() as api:
        report = api.post("api/queue/load", data={"rows": "10"}).json()
    # every queued tweet, those reserved for the two annotators' overlap included (admin's own view leaves them out)
    queue = LabellingQueue(DataLayout(ui_server.data_root), ui_server.settings.state_db, predictor=None,
                           max_chars=1000).view(limit=500)
    assert report["queued"] == 10 and report["from_drifted_window"] == 5
    from_window = [i for i in queue["items"] if i["source"] == DRIFT_SOURCE]
    assert len(from_window) >= 5 and all(i["TweetAt"].startswith("2022-12-30") for i in from_window)


def test_the_mood_page_in_a_browser(ui_server, scored, browser):
    log_in(browser, ui_server)
    open_from_navigation(browser, "Mood")
    mood = read_json(ui_server.data_root / "mood" / "mood.json")
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "scored-by"), mood["champion_version"]))
    chart = wait(browser).until(ec.presence_of_element_located((By.ID, "mood-chart")))
    wait(browser).until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", chart))
    status = browser.find_element(By.ID, "drift-status").text
    assert status == ("DRIFT" if scored["drifted"] else "no drift")
    figures = browser.find_elements(By.CSS_SELECTOR, "#drift-figures tbody tr")
    names = [f.find_element(By.TAG_NAME, "td").text.split(":")[0] for f in figures]
    assert names == ["embedding drift", "predicted class mix", "mean confidence drop"]
    assert "first 150 scored tweets" in browser.find_element(By.ID, "drift-reference").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#examples tbody tr")) == 12
    assert len(browser.find_elements(By.CSS_SELECTOR, "#points tbody tr")) == 2
    coverage = browser.find_elements(By.CSS_SELECTOR, "#coverage tbody tr")
    assert [c.text for c in coverage] == [f"{mood['champion_version']} 300 100.0 %"]
    screenshot(browser, "ui-mood.png")
    wait(browser).until(ec.frame_to_be_available_and_switch_to_it((By.TAG_NAME, "iframe")))
    browser.execute_script("document.getElementById('drift-card').scrollIntoView()")
    screenshot(browser, "ui-mood-drift.png")


def _mood_alert(mood: dict, label: str, word: str) -> MoodAlert:
    """An alert on the newest period of the scored series, by its champion."""
    newest = max(mood["series"], key=lambda p: p["start"])
    return MoodAlert(period_start=datetime.fromisoformat(newest["start"]), resolution=newest["resolution"],
                     label=label, champion_version=mood["champion_version"],
                     words=(DriverWord(word, 5.3, (f"{word} again, shops shut", f"all this {word} talk",
                                                   f"{word} everywhere")), DriverWord("#lockdown", 3.9, ("day 3",))),
                     share=0.41, baseline_share=0.25, share_low=0.19, share_high=0.31, tweets=newest["n"])


@pytest.fixture(scope="module")
def alerted(ui_server, scored) -> dict:
    """Twelve mood-alert episodes kept as the scoring DAG keeps them (each check raises another class's alert, so
    each begins an episode), the last one still open; then the mood chart redrawn, with its marks."""
    settings = ui_server.settings
    mood = read_json(ui_server.data_root / "mood" / "mood.json")
    for i in range(12):
        label, word = ("Negative", "omicron") if i == 11 else (f"Class{i}", f"word{i}")
        at = datetime(2026, 12, 7, 1, i, tzinfo=UTC)
        record_check(settings.state_db, "mood", [_mood_alert(mood, label, word)], at)
    update_mood(settings, {"version": mood["champion_version"]})
    return mood


def test_the_alerts_api_pages_the_history_newest_first(ui_server, alerted):
    with ui_server.client() as api:
        first = api.get("api/alerts").json()
        second = api.get("api/alerts", params={"before": first["next_before"]}).json()
    assert len(first["episodes"]) == 10 and len(second["episodes"]) == 2 and second["next_before"] is None
    newest = first["episodes"][0]
    assert newest["episode_key"] == "mood:Negative" and newest["open"] and newest["alert"]["words"][0]["z"] == 5.3
    assert [e["open"] for e in first["episodes"] + second["episodes"]] == [True] + [False] * 11


def test_the_mood_page_marks_lists_and_acknowledges_an_alert(ui_server, alerted, browser):
    log_in(browser, ui_server)
    open_from_navigation(browser, "Mood")
    with ui_server.client() as api:
        newest = api.get("api/alerts", params={"limit": 1}).json()["episodes"][0]
    card = wait(browser).until(ec.presence_of_element_located((By.ID, f"alert-{newest['id']}")))
    assert "Negative talk rose (omicron, #lockdown)" in card.text and "OPEN" in card.text
    words = card.find_elements(By.CSS_SELECTOR, ".alert-words tbody tr")
    assert [w.find_element(By.TAG_NAME, "td").text for w in words] == ["omicron", "#lockdown"]
    assert "5.3" in words[0].text and "all this omicron talk" in words[0].text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#alerts .alert")) == 10  # one page; older on demand
    browser.find_element(By.ID, "alerts-older").click()
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#alerts .alert")) == 12)
    card.find_element(By.CSS_SELECTOR, "button.ack").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, f"#alert-{newest['id']} .alert-ack"),
                                                          "acknowledged by admin at"))
    with ui_server.client() as api:
        acked = api.get("api/alerts", params={"limit": 1}).json()["episodes"][0]
    assert acked["acked_by"] == "admin" and acked["acked_at"] >= newest["began_at"]
    browser.execute_script(f"document.getElementById('alert-{newest['id']}').scrollIntoView()")
    screenshot(browser, "ui-mood-alert.png")


def test_a_muted_key_shows_who_muted_it_until_when(ui_server, alerted):
    with ui_server.client() as api:
        muted = api.post("api/alerts/mute", json={"episode_key": "mood:Negative", "hours": 2}).json()
        newest = api.get("api/alerts", params={"limit": 1}).json()["episodes"][0]
        refused = api.post("api/alerts/mute", json={"episode_key": "mood:Negative", "hours": 0})
    assert muted["by"] == "admin" and newest["muted_by"] == "admin" and newest["muted_until"] == muted["until"]
    assert refused.status_code == 422
