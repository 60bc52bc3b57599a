"""Labels people can trust, in headless Chromium on the shared UI server (annotators anna and ben, overlap on):
skip, unsure and undo by keyboard; an overlap tweet the two answer differently, adjudicated by a third person
(admin) on the Labels page, reaching the inbox in that person's sent batch; a stale answer for it then refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec

from tweet_sentiment.label_check.check import FLAG_COLUMNS, HELD, flagged_file
from tweet_sentiment.label_check.review import pending_reviews
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.fs import write_json_atomic
from tweet_sentiment.text import clean_tweet, text_hash

from .test_browser import browser, log_in, open_from_navigation, screenshot, wait

__all__ = ["browser"]  # the module-scoped Chromium fixture


def tweet_id(row: dict) -> str:
    return text_hash(clean_tweet(row["OriginalTweet"]))[:16]


def shown(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "tweet").get_attribute("data-id")


def press(driver: WebDriver, key: str) -> str:
    """Press a key on the current tweet; the id of the tweet shown next."""
    before = shown(driver)
    driver.find_element(By.TAG_NAME, "body").send_keys(key)
    try:
        wait(driver, 30).until(lambda d: shown(d) != before)
    except TimeoutException:
        pytest.fail(f"{key!r} did not move on from {before}: {driver.find_element(By.ID, 'notice').text!r}, "
                    f"console: {driver.get_log('browser')}")
    return shown(driver)


def open_labelling(driver: WebDriver, server, user: str) -> None:
    log_in(driver, server, user)
    open_from_navigation(driver, "Label tweets")
    wait(driver).until(lambda d: shown(d) and d.find_element(By.ID, "mine").text)


def back_into_page(driver: WebDriver) -> None:
    """Into the plugin page's iframe again (a screenshot is taken of the whole Airflow page)."""
    wait(driver).until(ec.frame_to_be_available_and_switch_to_it((By.TAG_NAME, "iframe")))


def send_and_read(driver: WebDriver, inbox: Path) -> tuple[str, list[dict]]:
    """Press "Send batch"; the name and rows of the one new inbox file."""
    before = set(inbox.glob("feedback-*.csv"))
    driver.find_element(By.ID, "send").click()
    wait(driver).until(ec.text_to_be_present_in_element((By.ID, "send-status"), "sent "))
    (new,) = set(inbox.glob("feedback-*.csv")) - before
    with open(new, newline="", encoding="utf-8") as fh:
        return new.name, list(csv.DictReader(fh))


def test_skip_unsure_undo_by_keyboard_and_a_disagreement_adjudicated_into_the_inbox(ui_server, browser):
    inbox = ui_server.data_root / "inbox"
    with ui_server.client() as api:
        assert api.post("api/queue/load", data={"rows": "10"}).status_code == 200  # 1 of them: anna and ben's

    # admin (no overlap tweets): S skips, U answers unsure, Backspace brings that tweet back, 2 labels it
    open_labelling(browser, ui_server, "admin")
    skipped = shown(browser)
    unsure = press(browser, "s")
    after_unsure = press(browser, "u")
    assert "1 unsure" in browser.find_element(By.ID, "mine").text
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.BACKSPACE)
    wait(browser).until(lambda d: shown(d) == unsure)
    assert after_unsure != unsure and "undid your last answer" in browser.find_element(By.ID, "notice").text
    press(browser, "2")
    mine = browser.find_element(By.ID, "mine").text
    assert "0 unsure · 1 skipped · 1 to send" in mine, mine
    assert "Overlap on: 10.0% of each load goes to two of anna, ben" in browser.find_element(By.ID, "overlap").text
    screenshot(browser, "ui-labelling-keys.png")
    back_into_page(browser)
    _, rows = send_and_read(browser, inbox)
    assert [(tweet_id(r), r["Sentiment"], r["Annotator"]) for r in rows] == [(unsure, LABELS[1], "admin")]
    assert skipped not in {tweet_id(r) for r in rows}

    # anna and ben get the same overlap tweet (ben's first: a pair to finish) and answer it differently
    open_labelling(browser, ui_server, "anna")
    disputed = shown(browser)
    assert "overlap: also labelled by ben" in browser.find_element(By.ID, "meta").text
    press(browser, "1")
    assert "1 waiting for a second answer" in browser.find_element(By.ID, "mine").text
    open_labelling(browser, ui_server, "ben")
    assert shown(browser) == disputed
    press(browser, "5")
    assert "1 waiting for adjudication" in browser.find_element(By.ID, "mine").text

    # admin, a third person, decides on the Labels page; the decided tweet reaches the inbox in admin's batch
    log_in(browser, ui_server, "admin")
    open_from_navigation(browser, "Labels")
    row = wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, f"#disputed tr[data-id='{disputed}']")))
    assert f"anna: {LABELS[0]} · ben: {LABELS[4]}" in row.text
    confusion = browser.find_element(By.CSS_SELECTOR, "table.confusion[data-pair='anna+ben']")
    assert confusion.find_elements(By.TAG_NAME, "tr")[1].find_elements(By.TAG_NAME, "td")[5].text == "1"
    assert {r.get_attribute("data-annotator") for r in browser.find_elements(By.CSS_SELECTOR, "#annotators tr")
            } >= {"admin", "anna", "ben"}
    screenshot(browser, "ui-labels-dispute.png")
    back_into_page(browser)
    row.find_element(By.CSS_SELECTOR, f"button[data-label='{LABELS[1]}']").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "adjudicate-status"), f"decided {disputed}"))
    # the page says "decided" first, then reloads its tables: the row must go with that reload
    wait(browser).until(lambda b: not b.find_elements(By.CSS_SELECTOR, f"#disputed tr[data-id='{disputed}']"))
    rows_file, rows = send_and_read(browser, inbox)
    assert [(tweet_id(r), r["Sentiment"], r["Annotator"]) for r in rows] == [(disputed, LABELS[1], "admin")]
    screenshot(browser, "ui-labels-resolved.png")

    # a stale tab's answer for the tweet that has left: refused, saying what became of it; nothing changes
    with ui_server.client(user="ben") as api:
        late = api.post("api/queue/labels", json={"id": disputed, "label": "neutral"})
        assert late.status_code == 409 and f"decided as {LABELS[1]} by admin ({rows_file})" in late.text, late.text
        assert api.post("api/queue/skip", json={"id": "never-queued"}).status_code == 404
        assert api.post("api/adjudications", json={"id": disputed, "label": "Neutral"}).status_code == 409


def test_a_row_the_label_check_held_is_relabelled_on_the_labels_page_and_reaches_the_inbox(ui_server, browser):
    layout = ui_server.settings.layout()
    text = "Hand sanitizer sold out again, brilliant."
    held = {**{c: "" for c in FLAG_COLUMNS}, "text": clean_tweet(text), "raw_text": text, "label": LABELS[4],
            "suggested_label": LABELS[1], "suggested": LABELS[1], "confidence": 0.99, "given_confidence": 0.02,
            "action": HELD, "flag_id": "ui--1", "batch_id": "ui", "tweet_at": "2020-03-16", "seq": 1,
            "source_row": 1, "label_weight": 1.0, "recent_holdout": False, "superseding": False,
            "reason": "the model gives the given label 2%, below its class threshold", "annotator": "anna"}
    path = flagged_file(layout, "ui")  # what the label check writes for a held row (label_check.check_batch)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([held]).to_parquet(path)

    log_in(browser, ui_server, "admin")
    open_from_navigation(browser, "Labels")
    row = wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR,
                                                              "#flagged-for-review tr[data-id='ui--1']")))
    waiting = len(pending_reviews(layout))  # the bootstrap's own batch has held rows too
    assert text in row.text and f"Waiting: {waiting} ·" in browser.find_element(By.ID, "review-counts").text
    row.find_element(By.CSS_SELECTOR, f"button[data-decision='relabel'][data-label='{LABELS[1]}']").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "review-status"), "review-ui--1.csv"))
    screenshot(browser, "ui-labels-review.png")
    with open(layout.inbox / "review-ui--1.csv", newline="", encoding="utf-8") as fh:
        (sent,) = list(csv.DictReader(fh))
    assert (sent["OriginalTweet"], sent["Sentiment"], sent["Annotator"]) == (text, LABELS[1], "admin")


def test_a_file_the_inbox_refused_whole_is_shown_with_its_reason_on_the_labels_page(ui_server, browser):
    layout = ui_server.settings.layout()
    reason = "missing column(s) OriginalTweet, Sentiment; the header has: text, label"
    # what the ingest writes for a file refused whole (intake.engine), in a batch of its own
    write_json_atomic(layout.quarantine / "ui-q" / "wrong-columns.csv.reason.json",
                      {"file": "wrong-columns.csv", "reason": reason, "rows": 1, "copied": True})
    log_in(browser, ui_server, "admin")
    open_from_navigation(browser, "Labels")
    row = wait(browser).until(lambda d: next((r for r in d.find_elements(By.CSS_SELECTOR, "#quarantined tbody tr")
                                              if "wrong-columns.csv" in r.text), None))
    assert [c.text for c in row.find_elements(By.TAG_NAME, "td")] == ["ui-q", "wrong-columns.csv", reason]
    assert "file(s) waiting" in browser.find_element(By.ID, "quarantine-counts").text
