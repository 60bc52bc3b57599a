"""A person's walk through the plugin in headless Debian Chromium: log in to Airflow, label 5 tweets with the
keyboard from the navigation's labelling page, send the batch, then check the model page's champion."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from support import TEST_OUTPUT, local_registry

from tweet_sentiment.labelling.sent_batch import BATCH_COLUMNS
from tweet_sentiment.storage.fs import as_path
from tweet_sentiment.text import clean_tweet, text_hash

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000")
KEYS = ("1", Keys.ENTER, "3", Keys.ENTER, "5")  # pick, accept, pick, accept, pick


@pytest.fixture(scope="module")
def browser() -> WebDriver:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            pytest.fail(f"{path} is missing: run scripts/test_deps.sh (Debian chromium and chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait(driver: WebDriver, seconds: float = 60) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def loaded(driver: WebDriver, where: str) -> bool:
    """The document at a URL containing ``where`` (or, with ``!``, not containing it) has finished loading."""
    url = driver.current_url
    at = where[1:] not in url if where.startswith("!") else where in url
    return at and driver.execute_script("return document.readyState") == "complete"


def login_form(driver: WebDriver) -> list | bool:
    """The log-in page's own readiness: its document loaded and its two fields rendered and enabled."""
    if not loaded(driver, "/auth/login"):
        return False
    fields = [driver.find_elements(By.CSS_SELECTOR, f"input[name='{name}']") for name in ("username", "password")]
    fields = [found[0] for found in fields if found]
    return fields if len(fields) == 2 and all(f.is_displayed() and f.is_enabled() for f in fields) else False


def log_in(driver: WebDriver, server, user: str = "admin") -> None:
    """Log in to Airflow's UI as ``user`` (whoever was logged in before is logged out).

    The log-in page is opened itself, not reached by the UI's own redirect from ``/`` (a navigation that may
    start while the form is being filled: "aborted by navigation"); the form is filled once the page is ready,
    and the UI it sends back to is waited for to load."""
    driver.switch_to.default_content()
    if driver.current_url.startswith(server.url):
        driver.delete_all_cookies()
    driver.get(f"{server.url}/auth/login")
    username, password = wait(driver).until(login_form)
    username.send_keys(user)
    password.send_keys(server.passwords[user] + Keys.ENTER)
    wait(driver).until(lambda d: loaded(d, "!/auth/login") and d.get_cookie("_token"))


def open_from_navigation(driver: WebDriver, item: str) -> None:
    """Open a plugin page the way a person does, from Airflow's navigation bar; then enter its iframe."""
    driver.switch_to.default_content()
    wait(driver).until(ec.element_to_be_clickable((By.XPATH, f"//a[@aria-label='{item}']"))).click()
    wait(driver).until(ec.frame_to_be_available_and_switch_to_it((By.TAG_NAME, "iframe")))


def current_tweet(driver: WebDriver) -> tuple[str, str]:
    tweet = driver.find_element(By.ID, "tweet")
    suggested = driver.find_element(By.CSS_SELECTOR, "#label-buttons button.suggested").get_attribute("data-label")
    return tweet.get_attribute("data-id"), suggested


def screenshot(driver: WebDriver, name: str) -> None:
    TEST_OUTPUT.mkdir(exist_ok=True)
    driver.switch_to.default_content()
    driver.save_screenshot(str(TEST_OUTPUT / name))


def test_label_five_tweets_with_the_keyboard_send_the_batch_and_see_the_champion(ui_server, browser):
    inbox = ui_server.data_root / "inbox"
    before = set(inbox.glob("feedback-*.csv"))
    log_in(browser, ui_server)
    open_from_navigation(browser, "Label tweets")

    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#label-buttons button")))
    rows = browser.find_element(By.ID, "load-rows")
    rows.clear()
    rows.send_keys("20")
    browser.find_element(By.ID, "load").click()
    try:
        wait(browser, 180).until(ec.text_to_be_present_in_element((By.ID, "load-status"), "queued"))
    except TimeoutException:
        pytest.fail(f"loading failed: {browser.find_element(By.ID, 'load-status').text!r}")
    wait(browser).until(lambda d: d.find_element(By.ID, "tweet").get_attribute("data-id"))

    labels = [b.get_attribute("data-label") for b in browser.find_elements(By.CSS_SELECTOR, "#label-buttons button")]
    expected: dict[str, tuple[str, str]] = {}  # tweet id -> (label given, label suggested)
    body = browser.find_element(By.TAG_NAME, "body")
    for key in KEYS:
        tweet_id, suggested = current_tweet(browser)
        expected[tweet_id] = (suggested if key == Keys.ENTER else labels[int(key) - 1], suggested)
        body.send_keys(key)
        wait(browser).until(lambda d, shown=tweet_id: d.find_element(By.ID, "tweet").get_attribute("data-id") != shown)
    assert browser.find_element(By.ID, "progress").text.startswith("done 5 ·")

    browser.find_element(By.ID, "send").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "send-status"), "sent 5 rows"))
    screenshot(browser, "ui-labelling.png")

    new_files = set(inbox.glob("feedback-*.csv")) - before
    assert len(new_files) == 1, new_files
    with open(new_files.pop(), newline="", encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert tuple(written[0]) == BATCH_COLUMNS
    got = {text_hash(clean_tweet(r["OriginalTweet"]))[:16]: r for r in written}
    assert set(got) == set(expected)
    for tweet_id, (label, suggested) in expected.items():
        row = got[tweet_id]
        assert (row["Sentiment"], row["SuggestedSentiment"], row["Annotator"]) == (label, suggested, "admin")
        assert row["Corrected"] == str(label != suggested).lower()

    open_from_navigation(browser, "Sentiment model")
    champion = local_registry(as_path(ui_server.data_root / "registry")).champion_version()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "champion"), champion))
    assert browser.find_element(By.ID, "champion").text == champion
    row = browser.find_element(By.CSS_SELECTOR, f"#versions tr[data-version='{champion}']")
    assert "champion" in row.text
    screenshot(browser, "ui-model.png")

