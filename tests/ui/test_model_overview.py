"""The model page's data and the rollback rule, on a small registry built here (no Airflow, no infinity)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from support import local_registry

from tweet_sentiment.model.prediction import Prediction, PredictionRequestError, clean_request_texts
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pages.model import RollbackRefused, overview, report_image, report_images, roll_back
from tweet_sentiment.storage.fs import as_path


@pytest.fixture
def registry(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1},
                        lgb.Dataset(x, (x[:, 0] > 0).astype(int)), 3)
    return local_registry(as_path(tmp_path / "registry")), booster


def test_overview_lists_promoted_and_rejected_versions_with_metrics_and_data(registry, tmp_path):
    reg, booster = registry
    metrics = {"macro_f1": 0.8, "accuracy": 0.81, "per_class_f1": {"Neutral": 0.7}}
    first = reg.save(booster, {"strategy": "refit", "batches": ["b1"], "metrics": metrics,
                               "feature_schema": {"terms": ["sanitizer", "stay home"]}})
    reg.promote(first, "no champion yet", expected=reg.champion_version())
    second = reg.save(booster, {"strategy": "continue", "batches": ["b1", "b2"]})
    reg.reject(second, "challenger macro-F1 0.7 vs champion 0.8")

    page = overview(reg, as_path(tmp_path / "reports"))

    assert page["champion"] == first
    by_version = {v["version"]: v for v in page["versions"]}
    assert set(by_version) == {first, second}
    rejected, champion = by_version[second], by_version[first]
    assert rejected["status"] == "rejected" and "0.7 vs champion 0.8" in rejected["reason"]
    assert rejected["batches"] == "b1, b2" and not rejected["can_roll_back"]
    assert champion["macro_f1"] == 0.8 and champion["per_class_f1"] == {"Neutral": 0.7}
    assert page["champion_card"]["terms"] == ["sanitizer", "stay home"] and rejected["terms"] == []
    assert [e["action"] for e in page["history"]] == ["promote"]
    assert page["images"] == []


def test_rollback_restores_an_earlier_champion_and_refuses_others(registry):
    reg, booster = registry
    first = reg.save(booster, {"strategy": "refit"})
    reg.promote(first, "bootstrap", expected=reg.champion_version())
    second = reg.save(booster, {"strategy": "continue"})
    reg.promote(second, "better", expected=reg.champion_version())
    never = reg.save(booster, {"strategy": "continue"})
    reg.reject(never, "worse")

    with pytest.raises(RollbackRefused, match="already the champion"):
        roll_back(reg, second, "ann", "")
    with pytest.raises(RollbackRefused, match="never champion"):
        roll_back(reg, never, "ann", "")

    assert roll_back(reg, first, "ann", "second one misbehaves") == {"champion": first, "previous": second}
    assert reg.champion_version() == first
    last = overview(reg, reg.folder / "none")["history"][-1]
    assert last["action"] == "rollback" and last["reason"] == "rollback by ann: second one misbehaves"


def test_report_images_lists_every_png_and_serves_only_those(tmp_path):
    reports = as_path(tmp_path / "reports")
    (reports / "runs").mkdir(parents=True)
    (reports / "learning_curve.png").write_bytes(b"\x89PNG one")
    (reports / "runs" / "confusion.png").write_bytes(b"\x89PNG two")
    (reports / "runs" / "report.json").write_text("{}")
    (tmp_path / "secret.png").write_bytes(b"no")

    assert report_images(reports) == ["learning_curve.png", "runs/confusion.png"]
    assert report_image(reports, "runs/confusion.png") == b"\x89PNG two"
    with pytest.raises(FileNotFoundError):
        report_image(reports, "../secret.png")


def test_request_texts_are_cleaned_and_bad_requests_named():
    assert clean_request_texts(["Stay home &amp; safe https://t.co/x @who"], 5, 100) == ["Stay home & safe"]
    with pytest.raises(PredictionRequestError, match="no texts"):
        clean_request_texts([], 5, 100)
    with pytest.raises(PredictionRequestError, match="too many texts: 6 sent, at most 5"):
        clean_request_texts(["a"] * 6, 5, 100)
    with pytest.raises(PredictionRequestError, match="text 1 is too long: 101 characters"):
        clean_request_texts(["ok", "x" * 101], 5, 100)
    with pytest.raises(PredictionRequestError, match="text 0 is empty"):
        clean_request_texts(["  https://t.co/abc @someone "], 5, 100)


def test_margin_is_the_gap_between_the_two_most_likely_classes():
    prediction = Prediction("Neutral", {"Neutral": 0.5, "Positive": 0.3, "Negative": 0.2}, "v1")
    assert prediction.margin == pytest.approx(0.2)


def test_overview_shows_the_gates_pending_approvals_disagreements_and_a_live_two_holdout_curve(registry, tmp_path):
    from tweet_sentiment.pages.model import holdouts_png

    reg, booster = registry
    fixed, recent = {"macro_f1": 0.6, "accuracy": 0.6}, {"macro_f1": 0.5, "accuracy": 0.5}
    first = reg.save(booster, {"metrics": fixed, "recent_metrics": recent})
    reg.promote(first, "no champion yet", expected=reg.champion_version())
    waiting = reg.save(booster, {"metrics": {**fixed, "macro_f1": 0.62}, "recent_metrics": recent,
                                 "gate": {"fixed": {"rows": 600, "gain": 0.02, "p_value": 0.3}, "recent": None},
                                 "gate_rules": {"tolerance": 0.0},
                                 "disagreements": {"fixed": [{"text": "t", "label": "Positive",
                                                              "champion": "Negative", "challenger": "Positive"}]}})
    reg.hold(waiting, "ambiguous: ...")

    page = overview(reg, as_path(tmp_path / "reports"))

    assert page["pending"] == [{"version": waiting, "created_at": reg.card(waiting)["created_at"],
                                "reason": "ambiguous: ..."}]
    assert page["required_actions"] == "/required_actions"
    assert page["disagreements"] == {"version": waiting, "rows": [{"holdout": "fixed", "text": "t", "label": "Positive",
                                                                   "champion": "Negative", "challenger": "Positive"}]}
    row = next(v for v in page["versions"] if v["version"] == waiting)
    assert row["tolerance"] == 0.0 and row["gate"]["fixed"]["p_value"] == 0.3 and row["recent_macro_f1"] == 0.5
    png = holdouts_png(reg)
    assert png.startswith(b"\x89PNG") and len(png) > 5000


@pytest.mark.parametrize("version", ["../registry", "v1/../../x", "v20000101T000000-abcdef\n", "v\x00", ""])
def test_a_rollback_to_an_id_of_another_form_is_refused_before_any_path_is_built(registry, version):
    reg, booster = registry
    first = reg.save(booster, {"strategy": "refit"})
    reg.promote(first, "no champion yet", expected=reg.champion_version())
    with pytest.raises(RollbackRefused, match="is not a model version id"):
        roll_back(reg, version, "ann", "")
    assert reg.champion_version() == first and ModelRegistry.is_version_id(first)


def test_the_page_reads_one_page_of_versions_and_the_champion_off_the_page(registry, tmp_path, monkeypatch):
    reg, booster = registry
    made = [reg.save(booster, {"strategy": "continue", "batches": [f"b{j}" for j in range(i + 1)],
                               "metrics": {"macro_f1": 0.5 + i / 100, "accuracy": 0.5}}) for i in range(7)]
    reg.promote(made[0], "the oldest is champion", expected=None)
    read: list[str] = []
    real_cards = reg.cards
    monkeypatch.setattr(reg, "cards", lambda rows: read.extend(r["version"] for r in rows) or real_cards(rows))

    newest = overview(reg, as_path(tmp_path / "reports"), offset=0, limit=3)
    older = overview(reg, as_path(tmp_path / "reports"), offset=3, limit=3)

    assert [v["version"] for v in newest["versions"]] == made[:-4:-1] and newest["total"] == 7
    assert [v["version"] for v in older["versions"]] == made[3:0:-1]
    assert newest["champion_card"]["version"] == made[0] and newest["champion_card"]["macro_f1"] == 0.5
    assert newest["versions"][0]["batches"] == "b0 … b6 (7 batches)"  # a legacy card's list, as a span
    assert len(read) == 6  # one page of cards per call (the champion's card is read alone), not every card


def test_a_rollback_that_loses_the_race_to_a_promotion_is_refused_and_changes_nothing(registry, monkeypatch):
    reg, booster = registry
    first, second, third = (reg.save(booster, {}) for _ in range(3))
    reg.promote(first, "bootstrap", expected=None)
    reg.promote(second, "better", expected=first)
    real_rollback = reg.rollback

    def promoted_meanwhile(version, reason, expected):  # a run's promotion lands between the read and the switch
        reg.promote(third, "a run promoted meanwhile", expected=second)
        real_rollback(version, reason, expected)

    monkeypatch.setattr(reg, "rollback", promoted_meanwhile)
    with pytest.raises(RollbackRefused, match=f"the champion changed \\({second} → {third}\\)"):
        roll_back(reg, first, "ann", "second misbehaves")
    assert reg.champion_version() == third and [e["version"] for e in reg.history()] == [first, second, third]


def test_a_version_row_names_the_holdout_version_and_the_corrections_slices(registry, tmp_path):
    reg, booster = registry
    slices = {"slices": [{"correction": "sanitizer (towards negative)", "holdout": "recent", "rows": 14,
                          "gain": 0.5, "wins": 7, "losses": 0, "p_value": 0.0078, "adjusted_p": 0.0156}],
              "recent_outside": {"rows": 886, "gain": 0.0, "p_value": 0.5}, "fixed_outside": None}
    version = reg.save(booster, {"strategy": "continue", "holdout_version": 3, "slices": slices,
                                 "gate": {"fixed": {"rows": 3798, "gain": -0.01, "p_value": 0.99}}})
    (row,) = overview(reg, as_path(tmp_path / "reports"))["versions"]
    assert row["version"] == version and row["holdout_version"] == 3
    assert row["slices"]["slices"][0]["correction"] == "sanitizer (towards negative)"
