"""infinity unreachable, answering 500, hanging, or answering with vectors of the wrong width: bounded retries
with backoff, then a clear failure; the claimed batch is not lost (the next run takes it over and finishes)
and the champion is untouched."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import support
from reliability_standin import StandIn, serve
from reliability_support import (
    SMALL_BOOSTING,
    assert_consistent,
    champion_snapshot,
    settings_for,
    write_train_rows,
)

from tweet_sentiment.model.infinity import EmbeddingServiceError, InfinityClient
from tweet_sentiment.pipeline import retrain
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.storage.labelled_store import LabelledStore

OPTIONS = RunOptions.from_params({"force_promote": True, **SMALL_BOOSTING})


def assert_next_run_finishes_the_batch(root: Path, good_settings, lost_batch: str, rows: int) -> None:
    """A later run (real infinity) takes over the failed run's claimed files and finishes the cycle."""
    report = retrain.run_cycle(good_settings, "next", OPTIONS)
    assert report.ledger["rows_in"] == rows and report.ledger["rows_accepted"] > 0
    assert report.challenger.version and report.decision.promoted
    assert json.loads((root / "ledger" / f"{lost_batch}.json").read_text())["superseded_by"] == "next"
    assert LabelledStore(root / "labelled").batch_ids() == ["boot", "next"]
    assert not (root / "processing").exists() or not any((root / "processing").iterdir())
    assert len(list((root / "archive").glob("*/next/batch.csv.gz"))) == 1


def test_a_500_on_the_nth_call_is_retried_and_the_answer_is_the_real_one(infinity_url, tally):
    texts = [f"retry me {i}" for i in range(5)]
    with tally.fault("infinity 500 on the 2nd call"), serve(StandIn("500_on_nth", infinity_url, fail_on=2)) as s:
        with InfinityClient(s.url, "all-MiniLM-L6-v2", batch_size=2, concurrency=1, retries=2,
                            backoff_s=0.05) as client:
            got = client.embed(texts)
        with InfinityClient(infinity_url, "all-MiniLM-L6-v2") as client:
            want = client.embed(texts)
        assert len(s.calls) == 4  # three batches, one of them twice
        np.testing.assert_allclose(got, want, atol=1e-5)


# The backoff is long enough to tell its doubling from the slack a loaded machine adds to each gap.
BACKOFF_S, TIMEOUT_S, SLACK_S = 0.5, 1.0, 0.45
PROBE = ["dimension probe"]  # retrain._design's one-text request, answered by the real server through the stand-in


@pytest.mark.parametrize(("fault", "phrase"), [
    ("unreachable", "failed 3 times for model 'all-MiniLM-L6-v2'; last: NewConnectionError"),
    ("500", "failed 3 times for model 'all-MiniLM-L6-v2'; last: HTTP 500"),
    ("hang", "failed 3 times for model 'all-MiniLM-L6-v2'; last: ReadTimeout"),
    ("wrong_dim", "returned 8-d vectors for model 'all-MiniLM-L6-v2'; expected 384"),
])
def test_a_persistent_fault_fails_clearly_and_the_next_run_recovers(
        fault, phrase, pipeline_copy, infinity_url, small_dataset, feature_cache, tally):
    """The fault starts after the dimension probe, on the batch's own texts (not cached by any other test)."""
    root = pipeline_copy
    write_train_rows(small_dataset, root / "inbox" / "batch.csv", 600, 640, text_suffix=f" #fault{fault}")
    before = champion_snapshot(root)
    stand_in = StandIn(fault, infinity_url, fail_from=2, delay_s=3 * TIMEOUT_S)
    with tally.fault(f"infinity {fault}"), serve(stand_in) as s:
        bad = settings_for(root, s.url, small_dataset, feature_cache, embed_timeout_s=TIMEOUT_S,
                           embed_backoff_s=BACKOFF_S)
        ledger = retrain.claim_and_ingest(bad, "failed")
        batch_texts = sorted(LabelledStore(root / "labelled").read_batch("failed")["text"])
        with pytest.raises(EmbeddingServiceError) as err:
            retrain.embed_batch(bad, "failed")
        failed_at = time.monotonic()
        assert phrase in str(err.value) and s.url in str(err.value)
        assert s.inputs[0] == PROBE and all(sorted(texts) == batch_texts for texts in s.inputs[1:])
        assert_attempts(fault, s, failed_at)
        assert champion_snapshot(root) == before
        assert (root / "processing" / "failed" / "batch.csv").exists()  # the claim is kept for the next run
        good = settings_for(root, infinity_url, small_dataset, feature_cache)
        assert_next_run_finishes_the_batch(root, good, "failed", ledger["rows_in"])
        assert_consistent(root, feature_cache)


def assert_attempts(fault: str, s: StandIn, failed_at: float) -> None:
    """1 + 2 retries of the batch, waiting BACKOFF_S·2^k before retry k+1 (plus the timeout for a hang), at
    most SLACK_S more; vectors of the wrong width are refused at once (a retry would not change the model)."""
    if fault == "wrong_dim":
        assert len(s.calls) == 2
        return
    if fault == "unreachable":  # nothing to log the refused connections: the whole wait after the stand-in left
        assert len(s.calls) == 1
        waited = failed_at - s.stopped_listening_at
        assert 3 * BACKOFF_S <= waited <= 3 * BACKOFF_S + SLACK_S, waited
        return
    assert len(s.calls) == 4
    # a hang's gap holds the client's timeout, which starts before the stand-in logs the call
    timeout = TIMEOUT_S - 0.05 if fault == "hang" else 0.0
    for k, gap in enumerate(np.diff(s.calls[1:])):
        low = timeout + BACKOFF_S * 2**k
        assert low <= gap <= low + SLACK_S, (k, gap)


def test_vectors_of_another_width_are_refused_with_an_empty_cache(pipeline_copy, infinity_url, small_dataset,
                                                                     tmp_path, tally):
    """With no cached vector to compare with, the width the probe found is the reference: nothing is cached."""
    root, empty_cache = pipeline_copy, tmp_path / "empty-cache"
    write_train_rows(small_dataset, root / "inbox" / "batch.csv", 600, 610, text_suffix=" #emptycache")
    with tally.fault("infinity wrong width, empty cache"), serve(StandIn("wrong_dim", infinity_url, fail_from=2)) as s:
        bad = settings_for(root, s.url, small_dataset, empty_cache)
        retrain.claim_and_ingest(bad, "failed")
        with pytest.raises(EmbeddingServiceError, match=r"returned 8-d vectors .* expected 384"):
            retrain.embed_batch(bad, "failed")
        assert len(s.calls) == 2 and s.inputs[0] == PROBE
        assert [p for p in empty_cache.rglob("*") if p.is_file()] == []


def test_real_infinity_stopped_mid_run_then_restarted(pipeline_copy, small_dataset, feature_cache, tmp_path, tally):
    """The real server is stopped between two tasks of a run; once it is back, the next run finishes."""
    root = pipeline_copy
    write_train_rows(small_dataset, root / "inbox" / "batch.csv", 700, 800)
    before = champion_snapshot(root)
    logs = [tmp_path / "infinity-1.log", tmp_path / "infinity-2.log"]
    proc, port = support.start_server(lambda port: support.start_infinity(port, logs[0]), logs[0], "/health", 240)
    try:
        url = f"http://127.0.0.1:{port}"
        settings = settings_for(root, url, small_dataset, feature_cache)
        with tally.fault("real infinity stopped mid-run, restarted"):
            ledger = retrain.claim_and_ingest(settings, "failed")
            assert retrain.embed_batch(settings, "failed").rows == ledger["rows_accepted"]
            support.stop_process_group(proc)
            with pytest.raises(EmbeddingServiceError, match=f"infinity at {url} failed 3 times"):
                retrain.train_challenger(settings, "failed", OPTIONS)
            assert champion_snapshot(root) == before
            # the same address again, unless another process took the port while the server was down
            proc, port = support.start_server(lambda port: support.start_infinity(port, logs[1]), logs[1], "/health",
                                              240, port=port)
            settings = settings_for(root, f"http://127.0.0.1:{port}", small_dataset, feature_cache)
            assert_next_run_finishes_the_batch(root, settings, "failed", ledger["rows_in"])
            assert_consistent(root, feature_cache)
    finally:
        support.stop_process_group(proc)
