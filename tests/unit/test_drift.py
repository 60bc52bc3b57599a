"""Drift by the usual methods: a window with an injected topic shift crosses the domain classifier's AUC threshold,
a window from the reference period does not; the class mix by Jensen–Shannon; the mean confidence; and the check of
the scored stream against its first window or the champion's training rows."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from stream_support import cache_vectors, offline_client, train_champion
from support import local_registry

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import archive_claimed, claim
from tweet_sentiment.intake.unlabelled import ingest_unlabelled
from tweet_sentiment.monitoring.drift import Thresholds, Window, check, class_mix_distance, domain_classifier
from tweet_sentiment.monitoring.drift_check import drift_candidates, read_drift, run_drift_check, smallest_hashes
from tweet_sentiment.monitoring.scoring import score_stream
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.text import text_hash

DIM = 64


def embeddings(n: int, seed: int, topic_share: float = 0.0) -> np.ndarray:
    """Unit vectors; a share of them about a new topic (pulled along a few axes the reference never uses)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, DIM))
    k = int(topic_share * n)
    x[:k, :4] += 3.0
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def window(vectors: np.ndarray, labels: list[str], confidence: float) -> Window:
    n = len(vectors)
    return Window(vectors, np.resize(np.asarray(labels, dtype=object), n), np.full(n, confidence))


def test_a_window_from_the_reference_period_stays_under_the_auc_threshold():
    auc, _, _ = domain_classifier(embeddings(2000, 1), embeddings(1000, 2))
    assert auc < Thresholds().auc


def test_a_window_with_an_injected_topic_shift_crosses_it_and_its_new_tweets_rank_first():
    current = embeddings(1000, 2, topic_share=0.3)
    auc, used, proba = domain_classifier(embeddings(2000, 1), current)
    assert auc > 0.6
    top = used[np.argsort(-proba)][:100]
    assert (top < 300).mean() > 0.9  # the first 300 rows carry the new topic


def test_class_mix_distance_is_zero_for_the_same_mix_and_grows_with_the_shift():
    same = class_mix_distance(np.array(["Positive", "Negative"] * 50), np.array(["Negative", "Positive"] * 50))
    moved = class_mix_distance(np.array(["Positive", "Negative"] * 50), np.array(["Negative"] * 80 + ["Positive"] * 20))
    assert same == 0 and 0.2 < moved < 1


def test_check_reports_each_figure_against_its_threshold():
    reference = window(embeddings(600, 1), ["Positive", "Neutral"], 0.7)
    calm = check(reference, window(embeddings(300, 3), ["Neutral", "Positive"], 0.69), Thresholds())
    assert not calm["drifted"] and calm["class_mix"]["js"] == 0 and calm["confidence"]["drop"] == pytest.approx(0.01)
    stormy = check(reference, window(embeddings(300, 4, 0.5), ["Extremely Negative"], 0.55), Thresholds())
    assert stormy["embedding"]["drifted"] and stormy["class_mix"]["drifted"] and stormy["confidence"]["drifted"]
    assert stormy["class_mix"]["window_shares"]["Extremely Negative"] == 1 and stormy["drifted"]
    assert sorted(stormy["novel"]) == list(range(300))


@pytest.fixture
def settings(tmp_path):
    return Settings(data_root=str(tmp_path / "data"), drift_window_rows=200, seed=3)


def drop(settings: Settings, batch_id: str, texts: list[str], shift: float = 0.0) -> None:
    layout = settings.layout()
    layout.ensure()
    body = "".join(f'2021-12-30 23:00:00,"{t}"\n' for t in texts)
    (layout.unlabelled / f"{batch_id}.csv").write_text(f"TweetAt,OriginalTweet\n{body}")
    claim(layout, batch_id, 0, layout.unlabelled_stream)
    ingest_unlabelled(layout, batch_id, 1000)
    archive_claimed(layout.unlabelled_stream, batch_id)
    cache_vectors(layout, texts, shift)


def test_the_stream_check_compares_the_latest_window_with_the_first_and_offers_the_drifted_tweets(settings):
    layout = settings.layout()
    registry = local_registry(layout.registry)
    drop(settings, "b1", [f"calm tweet {i}" for i in range(200)])
    train_champion(registry, seed=1)
    score_stream(layout, registry.champion(), offline_client())
    waiting = run_drift_check(settings, registry.champion(), offline_client(), "stream")
    assert waiting["status"] == "waiting" and "0 in the window" in waiting["reason"]
    drop(settings, "b2", [f"more calm tweet {i}" for i in range(200)])
    drop(settings, "b3", [f"omicron tweet {i}" for i in range(200)], shift=3.0)
    score_stream(layout, registry.champion(), offline_client())
    report = run_drift_check(settings, registry.champion(), offline_client(), "stream")
    assert report["reference"]["kind"] == "stream" and report["reference"]["rows"] == 200
    assert report["window"]["rows"] == 200 and report["embedding"]["auc"] > 0.55 and report["drifted"]
    assert all(e["text"].startswith("omicron") for e in report["examples"])
    assert [h["status"] for h in read_drift(layout)["history"]] == ["waiting", "checked"]
    candidates = drift_candidates(layout)
    assert len(candidates) == 200 and candidates["text"].str.startswith("omicron").all()


def test_the_training_reference_is_the_champions_rows_scored_by_it(settings):
    layout = settings.layout()
    registry = local_registry(layout.registry)
    texts = [f"labelled tweet {i}" for i in range(300)]
    rows = pd.DataFrame({"text": texts, "label": "Neutral", "tweet_at": "2020-03-16",
                         "text_hash": [text_hash(t) for t in texts], "raw_text": texts, "source_file": "f.csv",
                         "source_row": range(300), "batch_id": "boot"})
    LabelledStore(layout.labelled).write_batch("boot", rows)
    cache_vectors(layout, texts)
    train_champion(registry, seed=1, batches=("boot",))
    drop(settings, "b1", [f"calm tweet {i}" for i in range(100)])
    score_stream(layout, registry.champion(), offline_client())
    report = run_drift_check(settings, registry.champion(), offline_client(), "training")
    assert report["reference"]["kind"] == "training" and report["reference"]["rows"] == 300
    assert report["window"]["rows"] == 100 and report["status"] == "checked"
    assert report["embedding"]["auc"] < 0.55 and set(report["class_mix"]["reference_shares"]) == set(LABELS)


@examples(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=60), st.integers(min_value=1, max_value=40),
       st.randoms(use_true_random=False))
def test_the_training_reference_is_the_same_rows_in_the_same_order_however_the_store_answers(n, max_rows, rnd):
    hashes = [text_hash(f"tweet {i}") for i in range(n)]
    rows = pd.DataFrame({"text_hash": hashes, "text": [f"tweet {i}" for i in range(n)]})
    shuffled = rows.iloc[rnd.sample(range(n), n)].reset_index(drop=True)
    chosen = smallest_hashes(shuffled, max_rows)
    assert chosen["text_hash"].tolist() == sorted(hashes)[:max_rows]  # the smallest hashes, in hash order
    assert chosen.equals(smallest_hashes(rows, max_rows))
