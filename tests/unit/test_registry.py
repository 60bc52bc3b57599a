"""The model registry: versions, the index and the champion pointer in the state database, its compare-and-swap
under promote, approval and rollback racing in processes, paging, retention and the migration of a legacy
registry."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from support import local_registry

from tweet_sentiment.config import Settings
from tweet_sentiment.model import registry_index
from tweet_sentiment.model.registry import (
    ChampionMovedError,
    ChampionUnavailableError,
    ModelRegistry,
    RegistryNotMigratedError,
)
from tweet_sentiment.model.registry_migration import migrate_registry
from tweet_sentiment.pipeline.model_retention import drop_rejected_models
from tweet_sentiment.schema import batch_span, extend_span
from tweet_sentiment.storage.fs import DataLayout, write_json_atomic


@pytest.fixture
def booster():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] > 0).astype(int)
    return lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(x, y), 5)


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    return local_registry(tmp_path / "registry")


def test_versions_are_never_reused_and_promotion_switches_the_pointer(registry, booster):
    first = registry.save(booster, {"strategy": "refit"})
    second = registry.save(booster, {"strategy": "continue"})
    assert first != second
    assert registry.champion() is None
    registry.promote(first, "bootstrap", expected=None)
    registry.promote(second, "better", expected=first)
    version, model, card = registry.champion()
    assert version == second and card["status"] == "champion" and model.num_trees() == 5
    assert registry.card(first)["status"] == "retired"
    assert [(e["version"], e["previous"]) for e in registry.history()] == [(first, None), (second, first)]


def test_rollback_is_recorded_like_a_promotion(registry, booster):
    first, second = registry.save(booster, {}), registry.save(booster, {})
    registry.promote(first, "a", expected=None)
    registry.promote(second, "b", expected=first)
    registry.rollback(first, "second misbehaves", expected=second)
    assert registry.champion_version() == first
    assert registry.history(newest=1) == [{**registry.history()[-1], "action": "rollback", "previous": second}]
    assert registry.card(second)["status"] == "retired" and registry.card(first)["status"] == "champion"


def test_a_pointer_change_against_a_champion_no_longer_in_use_is_refused_and_writes_nothing(registry, booster):
    first, second, late = (registry.save(booster, {}) for _ in range(3))
    registry.promote(first, "bootstrap", expected=None)
    registry.promote(second, "better", expected=first)
    with pytest.raises(ChampionMovedError, match=f"{first} → {second}"):
        registry.promote(late, "judged against the first", expected=first)
    with pytest.raises(ChampionMovedError):
        registry.promote(late, "a second first promotion", expected=None)
    assert registry.champion_version() == second and len(registry.history()) == 2
    assert registry.card(late)["status"] == "candidate"


def test_reject_keeps_the_champion_and_never_overwrites_a_champion(registry, booster):
    champ, challenger = registry.save(booster, {}), registry.save(booster, {})
    registry.promote(champ, "first", expected=None)
    assert registry.reject(challenger, "worse")
    assert not registry.reject(champ, "a late rejection of what is champion now")
    assert registry.champion_version() == champ and registry.card(champ)["status"] == "champion"
    assert registry.card(challenger)["status"] == "rejected" and registry.card(challenger)["reason"] == "worse"


def test_a_version_without_its_index_row_is_incomplete_and_cannot_be_promoted(registry, tmp_path):
    (tmp_path / "registry" / "versions" / "v-half").mkdir(parents=True)
    (tmp_path / "registry" / "versions" / "v-half" / "model.txt").write_text("partial")
    assert registry.versions() == []
    with pytest.raises(FileNotFoundError):
        registry.promote("v-half", "no", expected=None)


def test_corrupt_champion_file_gives_a_clear_error_with_the_recovery(registry, booster, tmp_path):
    version = registry.save(booster, {})
    registry.promote(version, "ok", expected=None)
    (tmp_path / "registry" / "versions" / version / "model.txt").write_text("garbage")
    with pytest.raises(ChampionUnavailableError, match="bootstrap --refit"):
        registry.champion()


def test_a_decision_changes_by_promote_reject_or_hold_only(registry, booster):
    version = registry.save(booster, {})
    with pytest.raises(ValueError, match="status"):
        registry.update_card(version, status="champion")
    registry.update_card(version, metrics={"macro_f1": 0.7, "accuracy": 0.8}, table_version=12)
    row = registry.index_rows(versions=[version])[0]
    assert (row["macro_f1"], row["accuracy"], row["table_version"]) == (0.7, 0.8, 12)


def test_the_index_serves_one_page_newest_first(registry, booster):
    made = [registry.save(booster, {"strategy": "continue"}) for _ in range(7)]
    newest_first = sorted(made, key=lambda v: (registry.card(v)["created_at"], v), reverse=True)
    assert [r["version"] for r in registry.index_rows(newest_first=True, limit=3, offset=3)] == newest_first[3:6]
    assert registry.count() == 7


# --- promote, approval and rollback racing in processes ---------------------------------------------------------

def _racer(folder: str, url: str, action: str, version: str, expected: str, go, results) -> None:
    registry = ModelRegistry(Path(folder), url)
    go.wait()
    try:
        if action == "rollback":
            registry.rollback(version, f"{action} {version}", expected=expected)
        else:
            registry.promote(version, f"{action} {version}", expected=expected, action=action)
        results.put((action, version, "won"))
    except ChampionMovedError:
        results.put((action, version, "lost"))


@pytest.mark.parametrize("round_", range(2))
def test_promote_approval_and_rollback_racing_in_processes_switch_the_pointer_exactly_once(tmp_path, booster,
                                                                                           round_):
    """Three processes decided against the same champion: a pipeline promotion, a person's approval and a UI
    rollback. Exactly one switches the pointer; the two others are told they lost, and the history holds the
    winner's entry once, with the champion they decided against as ``previous``."""
    registry = local_registry(tmp_path / "registry")
    old, current, challenger, candidate = (registry.save(booster, {}) for _ in range(4))
    registry.promote(old, "bootstrap", expected=None)
    registry.promote(current, "better", expected=old)
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    racers = [context.Process(target=_racer, args=(str(registry.folder), registry.db_url, action, version, current,
                                                   go, results))
              for action, version in (("promote", challenger), ("approve", candidate), ("rollback", old))]
    for racer in racers:
        racer.start()
    go.set()
    for racer in racers:
        racer.join(60)
        assert racer.exitcode == 0
    outcomes = [results.get(timeout=5) for _ in racers]
    winners = [(action, version) for action, version, result in outcomes if result == "won"]
    assert len(winners) == 1, outcomes
    history = registry.history()
    assert len(history) == 3 and history[-1]["version"] == winners[0][1] and history[-1]["previous"] == current
    assert registry.champion_version() == winners[0][1]
    statuses = {c["version"]: c["status"] for c in registry.versions()}
    assert list(statuses.values()).count("champion") == 1 and statuses[current] == "retired"


# --- retention --------------------------------------------------------------------------------------------------

def test_rejected_challengers_drop_their_model_file_after_the_retention_and_keep_their_card(registry, booster):
    champion, old_reject, new_reject = (registry.save(booster, {}) for _ in range(3))
    registry.promote(champion, "bootstrap", expected=None)
    registry.reject(old_reject, "worse")
    registry.reject(new_reject, "worse too")
    long_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat(timespec="seconds")
    registry_index.set_columns(registry.db_url, old_reject, decided_at=long_ago)

    assert registry.drop_rejected_models(retention_s=7 * 24 * 3600) == [old_reject]
    assert registry.drop_rejected_models(retention_s=7 * 24 * 3600) == []  # done once
    assert not (registry.versions_dir / old_reject / "model.txt").exists()
    assert (registry.versions_dir / new_reject / "model.txt").exists()
    assert (registry.versions_dir / champion / "model.txt").exists()
    assert registry.card(old_reject)["status"] == "rejected" and registry.count() == 3
    assert registry.index_rows(versions=[old_reject])[0]["model_dropped_at"] is not None
    with pytest.raises(FileNotFoundError):
        registry.promote(old_reject, "no model left", expected=champion)


# --- migration of a registry written by the code before the state database -----------------------------------------

def _legacy_registry(root: Path, booster: lgb.Booster) -> tuple[list[str], dict]:
    """A registry as the file-only code wrote it: model and card files, ``champion.json`` with the whole history;
    the last promotion was killed between the pointer and the cards (its card still says candidate)."""
    versions = [f"v2026010{i}T000000-00000{i}" for i in range(1, 5)]
    folder = DataLayout(root).registry
    for i, version in enumerate(versions):
        (folder / "versions" / version).mkdir(parents=True)
        (folder / "versions" / version / "model.txt").write_text(booster.model_to_string())
        card = {"version": version, "created_at": f"2026-01-0{i + 1}T00:00:00+00:00", "strategy": "continue",
                "status": ["retired", "rejected", "champion", "candidate"][i], "reason": "as written",
                "batches": ["b1"], "metrics": {"macro_f1": 0.5 + i / 100, "accuracy": 0.6}}
        write_json_atomic(folder / "versions" / version / "card.json", card)
    history = [{"version": versions[0], "at": "2026-01-01T01:00:00+00:00", "action": "promote",
                "reason": "bootstrap", "previous": None},
               {"version": versions[2], "at": "2026-01-03T01:00:00+00:00", "action": "promote",
                "reason": "better", "previous": versions[0]},
               {"version": versions[3], "at": "2026-01-04T01:00:00+00:00", "action": "promote",
                "reason": "better again", "previous": versions[2]}]
    pointer = {"version": versions[3], "since": history[-1]["at"], "history": history}
    (folder / "champion.json").write_text(json.dumps(pointer))
    return versions, pointer


def test_migration_indexes_a_legacy_registry_once_with_its_pointer_and_history(tmp_path, booster):
    versions, pointer = _legacy_registry(tmp_path / "data", booster)
    url = f"sqlite:///{tmp_path}/state.sqlite"
    layout = DataLayout(tmp_path / "data")

    assert migrate_registry(layout, url) == {"versions_indexed": 4, "history_entries": 3, "champion": versions[3]}
    assert migrate_registry(layout, url) == {"versions_indexed": 0, "history_entries": 0, "champion": None}

    registry = ModelRegistry(layout.registry, url)
    assert registry.champion_version() == versions[3] and registry.champion().version == versions[3]
    assert registry.history() == pointer["history"]
    statuses = {c["version"]: c["status"] for c in registry.versions()}
    assert statuses == dict(zip(versions, ["retired", "rejected", "retired", "champion"], strict=True))
    assert registry.card(versions[3])["reason"] == "better again"
    assert registry.index_rows(versions=[versions[1]])[0]["macro_f1"] == 0.51
    later = registry.save(booster, {})  # the migrated registry goes on by compare-and-swap
    registry.promote(later, "after the migration", expected=versions[3])
    assert registry.history()[-1]["previous"] == versions[3]


def test_a_card_keeps_the_span_of_its_batches_not_every_id():
    assert batch_span(["b1", "b2", "b3"]) == {"count": 3, "first": "b1", "last": "b3"}  # a legacy card's list
    assert batch_span(None) == {"count": 0, "first": None, "last": None}
    span = batch_span(["b1"])
    for i in range(2, 501):  # a champion continued through 500 batches
        span = extend_span(span, f"b{i}")
    assert span == {"count": 500, "first": "b1", "last": "b500"}
    assert extend_span(None, "b1") == {"count": 1, "first": "b1", "last": "b1"}


def test_migration_of_a_registry_written_by_the_file_only_code(tmp_path):
    """The registry in tests/unit/legacy_registry was written by the file-only registry (see its README)."""
    shutil.copytree(Path(__file__).parent / "legacy_registry" / "registry", tmp_path / "data" / "registry")
    layout, url = DataLayout(tmp_path / "data"), f"sqlite:///{tmp_path}/state.sqlite"
    legacy = json.loads((layout.registry / "champion.json").read_text())
    first, second, rejected, held = sorted(p.name for p in (layout.registry / "versions").iterdir())

    registry = ModelRegistry(layout.registry, url)
    with pytest.raises(RegistryNotMigratedError, match="python -m tweet_sentiment migrate"):
        registry.champion_version()  # not taken for a registry without a champion
    assert migrate_registry(layout, url)["versions_indexed"] == 4
    assert registry.champion_version() == first and registry.history() == legacy["history"]
    assert {c["version"]: c["status"] for c in registry.versions()} == {
        first: "champion", second: "retired", rejected: "rejected", held: "awaiting_approval"}
    assert registry.card(first)["reason"] == "rollback by admin: v2 misbehaves"
    assert [r["version"] for r in registry.index_rows(newest_first=True, limit=2)] == [held, rejected]
    assert registry.champion().booster.num_trees() == 2
    assert migrate_registry(layout, url)["versions_indexed"] == 0 and len(registry.history()) == 3


def test_the_housekeeping_task_drops_rejected_models_past_the_configured_retention(tmp_path, booster, monkeypatch):
    monkeypatch.setenv("TWEET_SENTIMENT_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("TWEET_SENTIMENT_REJECTED_MODEL_RETENTION_DAYS", "2")
    settings = Settings.from_env()
    registry = ModelRegistry.of(settings)
    old, recent = registry.save(booster, {}), registry.save(booster, {})
    registry.reject(old, "worse")
    registry.reject(recent, "worse")
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds")
    registry_index.set_columns(registry.db_url, old, decided_at=three_days_ago)
    assert drop_rejected_models(settings) == {"dropped": [old], "retention_days": 2.0}
    assert registry.card(old)["status"] == "rejected" and (registry.versions_dir / recent / "model.txt").exists()
