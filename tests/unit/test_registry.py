import json

import lightgbm as lgb
import numpy as np
import pytest

from tweet_sentiment.model.registry import ChampionUnavailableError, ModelRegistry


@pytest.fixture
def booster():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] > 0).astype(int)
    return lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(x, y), 5)


def test_versions_are_never_reused_and_promotion_switches_the_pointer(tmp_path, booster):
    registry = ModelRegistry(tmp_path)
    first = registry.save(booster, {"strategy": "refit"})
    second = registry.save(booster, {"strategy": "continue"})
    assert first != second
    assert registry.champion() is None
    registry.promote(first, "bootstrap")
    registry.promote(second, "better")
    version, model, card = registry.champion()
    assert version == second and card["status"] == "champion" and model.num_trees() == 5
    assert registry.card(first)["status"] == "retired"
    pointer = json.loads((tmp_path / "champion.json").read_text())
    assert [e["version"] for e in pointer["history"]] == [first, second]


def test_rollback_is_recorded_like_a_promotion(tmp_path, booster):
    registry = ModelRegistry(tmp_path)
    first, second = registry.save(booster, {}), registry.save(booster, {})
    registry.promote(first, "a")
    registry.promote(second, "b")
    registry.rollback(first, "second misbehaves")
    pointer = json.loads((tmp_path / "champion.json").read_text())
    assert pointer["version"] == first
    assert pointer["history"][-1] == {**pointer["history"][-1], "action": "rollback", "previous": second}


def test_reject_keeps_the_champion_and_records_the_reason(tmp_path, booster):
    registry = ModelRegistry(tmp_path)
    champ, challenger = registry.save(booster, {}), registry.save(booster, {})
    registry.promote(champ, "first")
    registry.reject(challenger, "worse")
    assert registry.champion_version() == champ
    assert registry.card(challenger)["status"] == "rejected" and registry.card(challenger)["reason"] == "worse"


def test_incomplete_version_is_ignored_and_cannot_be_promoted(tmp_path, booster):
    registry = ModelRegistry(tmp_path)
    (tmp_path / "versions" / "v-half").mkdir(parents=True)
    (tmp_path / "versions" / "v-half" / "model.txt").write_text("partial")
    assert registry.versions() == []
    with pytest.raises(FileNotFoundError):
        registry.promote("v-half", "no")


def test_corrupt_champion_file_gives_a_clear_error_with_the_recovery(tmp_path, booster):
    registry = ModelRegistry(tmp_path)
    version = registry.save(booster, {})
    registry.promote(version, "ok")
    (tmp_path / "versions" / version / "model.txt").write_text("garbage")
    with pytest.raises(ChampionUnavailableError, match="bootstrap --refit"):
        registry.champion()


def test_a_crash_between_the_pointer_and_the_cards_reads_as_the_pointer_says(tmp_path, booster, monkeypatch):
    registry = ModelRegistry(tmp_path)
    first, second = registry.save(booster, {}), registry.save(booster, {"status": "candidate"})
    registry.promote(first, "bootstrap")

    def killed(*args, **kwargs):
        raise SystemExit("killed after the pointer write")

    monkeypatch.setattr(registry, "update_card", killed)
    with pytest.raises(SystemExit):
        registry.promote(second, "better")
    on_disk = {v: json.loads((tmp_path / "versions" / v / "card.json").read_text())["status"] for v in (first, second)}
    assert on_disk == {first: "champion", second: "candidate"}  # the files lag behind the pointer
    assert {c["version"]: c["status"] for c in registry.versions()} == {first: "retired", second: "champion"}
    assert registry.card(second)["reason"] == "better" and registry.champion().card["status"] == "champion"
