"""The model page in headless Debian Chromium after an ambiguous challenger: the two-holdout learning curve drawn
from the live registry, the pending approval with the link to Airflow's required actions, and the tweets where
challenger and champion disagree; the versions a page at a time.

The ambiguous challenger is made by the real cycle, as in tests/e2e/test_approval_loop.py (see
``support.ambiguous_batch``: the champion is perfect on the recent window, the gate's Params ``AMBIGUOUS_PARAMS``).
"""

from __future__ import annotations

import dataclasses
import re
import shutil

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from support import AMBIGUOUS_PARAMS, ambiguous_batch

from tweet_sentiment.intake.feed import chronological_rows, write_rows
from tweet_sentiment.model.boosting import BoostingParams
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle
from ui.test_browser import browser, log_in, open_from_navigation, screenshot, wait  # noqa: F401 (a fixture)

AMBIGUOUS = RunOptions(strategy="refit", boosting=BoostingParams(num_boost_round=60), **AMBIGUOUS_PARAMS)


@pytest.fixture(scope="module")
def candidate(ui_server, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An ambiguous challenger in the UI server's registry, waiting for approval; its version."""
    dataset = shutil.copytree(ui_server.settings.dataset_dir, tmp_path_factory.mktemp("approvals") / "dataset")
    settings = dataclasses.replace(ui_server.settings, dataset_dir=str(dataset), recent_window_rows=90,
                                   recent_window_min_rows=20)
    header, rows = chronological_rows(settings.train_file)
    batch = ambiguous_batch(settings, header, rows[1400:2200])
    inbox = settings.layout().inbox
    for other in inbox.glob("*.csv"):  # earlier tests' sends (people's labels) would join the batch: set aside
        other.rename(inbox.parent / f"set-aside-{other.name}")
    write_rows(inbox, "ambiguous.csv", header, batch)
    report = run_cycle(settings, "ui_ambiguous", AMBIGUOUS)
    assert report.evaluation.ambiguous, report.evaluation.reason
    return report.challenger.version


def test_the_model_page_shows_the_two_holdout_curve_and_the_pending_approval(ui_server, browser, candidate):  # noqa: F811
    log_in(browser, ui_server)
    open_from_navigation(browser, "Sentiment model")
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "pending"), candidate))
    curve = browser.find_element(By.ID, "holdouts")
    wait(browser).until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth",
                                                   curve))
    assert curve.get_attribute("naturalWidth") and int(curve.get_attribute("naturalWidth")) > 400
    assert browser.find_element(By.ID, "required-actions").get_attribute("href").endswith("/required_actions")
    assert candidate in browser.find_element(By.ID, "disagreements-of").text
    assert browser.find_elements(By.CSS_SELECTOR, "#disagreements tbody tr")
    row = browser.find_element(By.CSS_SELECTOR, f"#versions tr[data-version='{candidate}']")
    assert "awaiting_approval" in row.text and "tolerance 0" in row.text and "p=" in row.text
    # the fixed holdout's version the figures used: the fixture appended rows to the holdout file, a new version
    assert re.search(r"fixed \(holdout v[2-9]\d*\) \+", row.text), row.text
    browser.execute_script("document.getElementById('holdouts').scrollIntoView()")
    screenshot(browser, "ui-model-approvals.png")


def test_the_model_page_pages_through_the_versions_newest_first(ui_server, browser, candidate):  # noqa: F811
    log_in(browser, ui_server)
    open_from_navigation(browser, "Sentiment model")
    browser.execute_script("location.search = '?limit=1'")  # one version per page
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "versions-shown"), "1–1 of "))
    total = int(browser.find_element(By.ID, "versions-shown").text.split(" of ")[1])
    assert total >= 2
    shown = browser.find_elements(By.CSS_SELECTOR, "#versions tbody tr")
    assert [row.get_attribute("data-version") for row in shown] == [candidate]  # the newest version
    assert not browser.find_element(By.ID, "newer").is_enabled()
    assert "macro-F1" in browser.find_element(By.ID, "champion-metrics").text  # the champion, off this page
    browser.find_element(By.ID, "older").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "versions-shown"), f"2–2 of {total}"))
    older = browser.find_elements(By.CSS_SELECTOR, "#versions tbody tr")
    assert len(older) == 1 and older[0].get_attribute("data-version") != candidate
    assert browser.find_element(By.ID, "newer").is_enabled()
    screenshot(browser, "ui-model-pages.png")


def test_the_model_page_shows_the_corrections_slices_a_version_was_gated_on(ui_server, browser, candidate):  # noqa: F811
    """The slice figures as evaluate_challenger writes them on a card (SliceEvidence.to_dict), shown in the
    version's "gated on" cell."""
    slices = {"slices": [{"correction": "sanitizer (towards negative)", "holdout": "recent", "rows": 14,
                          "gain": 0.5, "wins": 7, "losses": 0, "p_value": 0.0078, "adjusted_p": 0.0156}],
              "recent_outside": {"rows": 76, "gain": 0.0, "p_value": 0.5}, "fixed_outside": None}
    ModelRegistry.of(ui_server.settings).update_card(candidate, slices=slices)
    log_in(browser, ui_server)
    open_from_navigation(browser, "Sentiment model")
    selector = f"#versions tr[data-version='{candidate}']"
    wait(browser).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, selector), "slice sanitizer"))
    text = browser.find_element(By.CSS_SELECTOR, selector).text
    assert "14 recent rows +0.500 accuracy (7 fixed, 0 broken, Holm p=0.0156)" in text
    assert "recent outside the corrections +0.0000 (76 rows)" in text
