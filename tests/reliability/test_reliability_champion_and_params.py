"""A corrupt or missing champion model fails clearly with the documented recovery, and that recovery works;
the DAG's Params name no paths."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from reliability_support import SMALL_BOOSTING, assert_consistent, settings_for
from support import load_retrain_dag, local_registry

from tweet_sentiment.model.registry import RECOVERY_HINT, ChampionUnavailableError
from tweet_sentiment.pipeline import retrain
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.storage.labelled_store import LabelledStore

RECOVERY = "python -m tweet_sentiment bootstrap --refit"


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_broken_champion_fails_clearly_and_the_documented_recovery_works(
        damage, pipeline_copy, infinity_url, small_dataset, feature_cache, tally):
    root = pipeline_copy
    registry = local_registry(root / "registry")
    broken = registry.champion_version()
    model = root / "registry" / "versions" / broken / "model.txt"
    with tally.fault(f"champion model file {damage}"):
        if damage == "corrupt":
            model.write_bytes(model.read_bytes()[:200] + b"\x00garbage")
        else:
            model.unlink()
        with pytest.raises(ChampionUnavailableError) as err:
            registry.champion()
        assert broken in str(err.value) and RECOVERY in str(err.value) and RECOVERY_HINT in str(err.value)
        settings = settings_for(root, infinity_url, small_dataset, feature_cache)
        with pytest.raises(ChampionUnavailableError, match="bootstrap --refit"):
            retrain.train_challenger(settings, "boot", RunOptions.from_params(SMALL_BOOSTING))
        env = {**os.environ, "TWEET_SENTIMENT_DATA_ROOT": str(root),
               "TWEET_SENTIMENT_DATASET_DIR": str(small_dataset), "TWEET_SENTIMENT_CACHE_ROOT": str(feature_cache),
               "INFINITY_URL": infinity_url}
        proc = subprocess.run([sys.executable, "-m", "tweet_sentiment", "bootstrap", "--refit"], env=env,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        version, _, card = local_registry(root / "registry").champion()
        assert version != broken and card["strategy"] == "refit" and card["rows_trained"] > 0
        assert card["batches"]["count"] == len(LabelledStore(root / "labelled").batch_ids())  # from the whole store
        assert_consistent(root, feature_cache)


PATHLIKE = ("path", "dir", "root", "file", "folder", "url", "inbox", "cache", "location")


@pytest.fixture(scope="module")
def dag_params() -> dict:
    params = load_retrain_dag().params
    return {key: params.get_param(key).schema for key in params}


def test_dag_params_hold_no_paths_and_are_all_validated(dag_params):
    """What a trigger payload can do through a real run is in test_reliability_dag_runs.py."""
    assert dag_params, "the DAG has Params"
    for key, schema in dag_params.items():
        assert not any(word in key.lower() for word in PATHLIKE), key
        assert schema.get("type") in ("integer", "number", "boolean") or "enum" in schema, (key, schema)
