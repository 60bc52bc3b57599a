"""The approval's include functions without Airflow: the request a person reads, the staleness rule, and every
decision recorded on the card and in the champion's history (a real registry on disk, real LightGBM models)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from tweet_sentiment.config import Settings
from tweet_sentiment.model.gate import disagreements
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline import approve, retrain
from tweet_sentiment.pipeline.approve import KEEP, PROMOTE, build_request, decide, md_escape, request_body, stale_reason
from tweet_sentiment.pipeline.contracts import Evaluation
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.schema import LABELS


def _metrics(f1: float, per_class: float, rows: int) -> dict:
    return {"macro_f1": f1, "accuracy": f1, "per_class_f1": dict.fromkeys(LABELS, per_class), "rows": rows}


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_root=str(tmp_path / "data"))


@pytest.fixture
def registry(settings) -> ModelRegistry:
    return ModelRegistry.of(settings)


@pytest.fixture
def booster() -> lgb.Booster:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    return lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1},
                     lgb.Dataset(x, (x[:, 0] > 0).astype(int)), 3)


def _ambiguous(settings: Settings, registry: ModelRegistry, booster: lgb.Booster,
               options: RunOptions | None = None) -> dict:
    """A champion, and a challenger the retrain DAG's keep_champion left waiting: the candidate event's extra."""
    champion = registry.champion_version() or registry.save(booster, {})
    if registry.champion_version() is None:
        registry.promote(champion, "bootstrap", expected=registry.champion_version())
    challenger = registry.save(booster, {"disagreements": {"recent": [
        {"text": "Stock up on *toilet* paper [now] #panic\nreally", "label": "Positive", "champion": "Negative",
         "challenger": "Positive"}]}})
    evaluation = {"version": challenger, "champion": champion, "promote": False, "ambiguous": True,
                  "reason": "ambiguous (better on one holdout, worse beyond the tolerance on the other): ...",
                  "gate": {"fixed": {"rows": 600, "gain": -0.02, "p_value": 0.97},
                           "recent": {"rows": 300, "gain": 0.03, "p_value": 0.004}},
                  "champion_metrics": _metrics(0.60, 0.6, 600), "challenger_metrics": _metrics(0.58, 0.55, 600),
                  "champion_recent_metrics": _metrics(0.50, 0.5, 300),
                  "challenger_recent_metrics": _metrics(0.53, 0.56, 300)}
    kept = retrain.keep_champion(settings, Evaluation.from_json(evaluation), options)
    assert registry.card(challenger)["status"] == approve.AWAITING and registry.champion_version() == champion
    return kept.event


def test_an_ambiguous_evaluation_waits_for_a_person_and_others_are_rejected(settings, registry, booster):
    candidate = _ambiguous(settings, registry, booster)
    assert candidate["champion"] == registry.champion_version() and candidate["gate"]["recent"]["gain"] == 0.03
    plain = registry.save(booster, {})
    kept = retrain.keep_champion(settings, Evaluation(plain, candidate["champion"], promote=False,
                                                      reason="not better"))
    assert kept.event is None and registry.card(plain)["status"] == "rejected"


def test_markdown_escape_keeps_a_tweet_on_one_line_and_inert():
    assert md_escape("a *b* [c](d) | e\n#f <g>") == r"a \*b\* \[c\]\(d\) \| e \#f \<g\>"


def test_the_request_shows_both_holdouts_the_per_class_change_and_escaped_disagreements(settings, registry, booster):
    candidate = _ambiguous(settings, registry, booster)
    body = request_body(candidate, registry.card(candidate["version"]))
    assert "| fixed | 600 | 0.6000 | 0.5800 | -0.0200 | 0.97 |" in body
    assert "| recent | 300 | 0.5000 | 0.5300 | +0.0300 | 0.004 |" in body
    assert f"| {LABELS[0]} | -0.0500 | +0.0600 |" in body
    assert r"| recent | Positive | Negative | Positive | Stock up on \*toilet\* paper \[now\] \#panic really |" in body
    request = build_request(settings, [candidate])
    assert request["candidate"] == candidate and candidate["version"] in request["subject"]
    assert "team's corrections" not in body  # no slices were tested
    registry.update_card(candidate["version"], slices={"slices": [
        {"correction": "sanitizer (towards negative)", "holdout": "recent", "rows": 14, "gain": 0.5, "wins": 7,
         "losses": 0, "p_value": 0.0078, "adjusted_p": 0.0156}], "recent_outside": None, "fixed_outside": None})
    body = request_body(candidate, registry.card(candidate["version"]))
    assert r"| sanitizer \(towards negative\) | 14 | +0.500 | 7 / 0 | 0.0156 |" in body


def test_the_request_waits_as_long_as_the_run_said_else_as_the_setting_says(settings, registry, booster):
    default = _ambiguous(settings, registry, booster)
    assert default["approval_timeout_s"] is None
    assert build_request(settings, [default])["timeout_s"] == settings.approval_timeout_s
    candidate = _ambiguous(settings, registry, booster, RunOptions.from_params({"approval_timeout_s": 90}))
    assert candidate["approval_timeout_s"] == 90 and build_request(settings, [candidate])["timeout_s"] == 90


def test_disagreements_are_the_rows_where_the_two_models_differ():
    rows = disagreements(["a", "b", "c"], np.array([0, 1, 2]), np.array([0, 1, 1]), np.array([0, 2, 2]), 5)
    assert rows == [{"text": "b", "label": LABELS[1], "champion": LABELS[1], "challenger": LABELS[2]},
                    {"text": "c", "label": LABELS[2], "champion": LABELS[1], "challenger": LABELS[2]}]


def test_promote_by_a_person_is_recorded_like_any_promotion_with_the_approver(settings, registry, booster):
    candidate = _ambiguous(settings, registry, booster)
    decided = decide(settings, candidate, PROMOTE, "alice")
    assert decided["promoted"] and registry.champion_version() == candidate["version"]
    card = registry.card(candidate["version"])
    assert card["status"] == "champion" and card["approval"]["by"] == "alice" and card["approval"]["at"]
    last = registry.history()[-1]
    assert last["previous"] == candidate["champion"] and last["reason"].startswith("approved by alice: ambiguous")
    assert decided["event"]["version"] == candidate["version"] and decided["event"]["action"] == "approve"
    assert decide(settings, candidate, PROMOTE, "alice")["promoted"]  # a re-run changes nothing
    assert len(registry.history()) == 2


def test_an_answer_after_another_promotion_promotes_nothing_and_says_why(settings, registry, booster):
    stale, newer = _ambiguous(settings, registry, booster), _ambiguous(settings, registry, booster)
    decide(settings, newer, PROMOTE, "bob")
    assert stale_reason(registry, stale).startswith("the champion changed since the evaluation")
    decided = decide(settings, stale, PROMOTE, "alice")
    assert not decided["promoted"] and "event" not in decided and registry.champion_version() == newer["version"]
    card = registry.card(stale["version"])
    assert card["status"] == "rejected" and card["approval"]["decision"] == "refused"
    assert card["reason"].startswith("approval by alice refused: the champion changed")
    assert "by a promotion" in card["reason"]


def test_an_answer_after_a_rollback_promotes_nothing(settings, registry, booster):
    first, second = registry.save(booster, {}), registry.save(booster, {})
    registry.promote(first, "bootstrap", expected=registry.champion_version())
    registry.promote(second, "better", expected=registry.champion_version())
    candidate = _ambiguous(settings, registry, booster)
    assert stale_reason(registry, candidate) is None
    registry.rollback(first, "rollback by admin: second misbehaves", expected=registry.champion_version())
    decided = decide(settings, candidate, PROMOTE, "alice")
    assert not decided["promoted"] and "by a rollback" in decided["reason"] and registry.champion_version() == first


def test_no_answer_keeps_the_champion_and_a_later_answer_changes_nothing(settings, registry, booster):
    candidate = _ambiguous(settings, registry, booster)
    timed_out = decide(settings, candidate, KEEP, None)
    assert timed_out["decision"] == "timeout" and "no answer within the timeout" in timed_out["reason"]
    late = decide(settings, candidate, PROMOTE, "alice")
    assert not late["promoted"] and "no longer waiting" in late["reason"]
    assert registry.champion_version() == candidate["champion"]


def test_a_person_keeping_the_champion_is_recorded_with_who(settings, registry, booster):
    candidate = _ambiguous(settings, registry, booster)
    kept = decide(settings, candidate, KEEP, "carol")
    assert kept["decision"] == "kept" and registry.card(candidate["version"])["approval"]["by"] == "carol"
    assert registry.champion_version() == candidate["champion"]


def test_an_older_candidate_in_the_same_run_is_superseded(settings, registry, booster):
    older, newer = _ambiguous(settings, registry, booster), _ambiguous(settings, registry, booster)
    assert build_request(settings, [older, newer])["candidate"] == newer
    assert registry.card(older["version"])["approval"]["decision"] == "superseded"


def test_approvers_setting_becomes_hitl_users():
    assert Settings(approval_users="alice, bob,").approvers == [{"id": "alice", "name": "alice"},
                                                                 {"id": "bob", "name": "bob"}]


def test_an_approval_that_loses_the_race_to_a_rollback_promotes_nothing(settings, registry, booster, monkeypatch):
    """The answer passed the staleness check, then a rollback switched the pointer before the approval's own
    switch: the compare-and-swap refuses it, the rollback stands and the card says why."""
    candidate = _ambiguous(settings, registry, booster)
    earlier = registry.save(booster, {})
    real_promote = ModelRegistry.promote

    def rollback_lands_first(self, version, reason, expected, action="promote"):
        if version == candidate["version"]:
            real_promote(self, earlier, "rollback by ann", expected=expected, action="rollback")
        return real_promote(self, version, reason, expected, action)

    monkeypatch.setattr(ModelRegistry, "promote", rollback_lands_first)
    decided = decide(settings, candidate, PROMOTE, "alice")
    assert not decided["promoted"] and registry.champion_version() == earlier
    assert [e["action"] for e in registry.history()] == ["promote", "rollback"]
    card = registry.card(candidate["version"])
    assert card["status"] == "rejected" and card["approval"]["decision"] == "refused"
    assert "the champion changed" in card["reason"] and "while it was applied" in card["reason"]
