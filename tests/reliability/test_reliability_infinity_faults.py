"""infinity unreachable, answering 500, hanging, or answering with vectors of the wrong width: bounded retries
with backoff, then a clear failure; the claimed batch is not lost (the next run takes it over and finishes)
and the champion is untouched."""

from __future__ import annotations

import json
import socket
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

from tweet_sentiment import tasks
from tweet_sentiment.infinity import EmbeddingServiceError, InfinityClient
from tweet_sentiment.labelled_store import LabelledStore
from tweet_sentiment.run_options import RunOptions

OPTIONS = RunOptions.from_params({"force_promote": True, **SMALL_BOOSTING})


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once the socket is closed


def assert_next_run_finishes_the_batch(root: Path, good_settings, lost_batch: str, rows: int) -> None:
    """A later run (real infinity) takes over the failed run's claimed files and finishes the cycle."""
    report = tasks.run_cycle(good_settings, "next", OPTIONS)
    assert report["ledger"]["rows_in"] == rows and report["ledger"]["rows_accepted"] > 0
    assert report["challenger"]["version"] and report["decision"]["promoted"]
    assert json.loads((root / "ledger" / f"{lost_batch}.json").read_text())["superseded_by"] == "next"
    assert LabelledStore(root / "labelled").batch_ids() == ["boot", "next"]
    assert not (root / "processing").exists() or not any((root / "processing").iterdir())
    assert len(list((root / "archive").glob("*/next/batch.csv"))) == 1


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


@pytest.mark.parametrize(("fault", "phrase"), [
    ("unreachable", "failed 3 times"),
    ("500", "failed 3 times for model 'all-MiniLM-L6-v2'; last: HTTP 500"),
    ("hang", "failed 3 times for model 'all-MiniLM-L6-v2'; last: ReadTimeout"),
    ("wrong_dim", "8-d"),
])
def test_a_persistent_fault_fails_clearly_and_the_next_run_recovers(
        fault, phrase, pipeline_copy, infinity_url, small_dataset, feature_cache, tally):
    root = pipeline_copy
    write_train_rows(small_dataset, root / "inbox" / "batch.csv", 600, 700)
    before = champion_snapshot(root)
    stand_in = StandIn(fault, infinity_url, delay_s=3.0)
    with tally.fault(f"infinity {fault}"), serve(stand_in) as s:
        url = closed_port_url() if fault == "unreachable" else s.url
        bad = settings_for(root, url, small_dataset, feature_cache, embed_timeout_s=0.5)
        ledger = tasks.claim_and_ingest(bad, "failed")
        start = time.monotonic()
        with pytest.raises(EmbeddingServiceError) as err:
            tasks.embed_batch(bad, "failed")
        assert phrase in str(err.value) and url in str(err.value)
        if fault in ("500", "hang"):  # bounded: 1 + 2 retries, waiting 0.05 s then 0.1 s between them
            assert len(s.calls) == 3
            gaps = np.diff(s.calls)
            assert gaps[0] >= 0.05 and gaps[1] >= 0.1
        assert time.monotonic() - start < 15
        assert champion_snapshot(root) == before
        assert (root / "processing" / "failed" / "batch.csv").exists()  # the claim is kept for the next run
        good = settings_for(root, infinity_url, small_dataset, feature_cache)
        assert_next_run_finishes_the_batch(root, good, "failed", ledger["rows_in"])
        assert_consistent(root, feature_cache)


def test_real_infinity_stopped_mid_run_then_restarted(request, pipeline_copy, small_dataset, feature_cache,
                                                      tmp_path, tally):
    """The real server is stopped between two tasks of a run; once it is back, the next run finishes."""
    helpers = support
    port = helpers.free_port()
    url = f"http://127.0.0.1:{port}"
    root = pipeline_copy
    settings = settings_for(root, url, small_dataset, feature_cache)
    write_train_rows(small_dataset, root / "inbox" / "batch.csv", 700, 800)
    before = champion_snapshot(root)
    proc = helpers.start_infinity(port, tmp_path / "infinity-1.log")
    try:
        helpers.wait_http(f"{url}/health", 240, proc, tmp_path / "infinity-1.log")
        with tally.fault("real infinity stopped mid-run, restarted"):
            ledger = tasks.claim_and_ingest(settings, "failed")
            assert tasks.embed_batch(settings, "failed")["rows"] == ledger["rows_accepted"]
            helpers.stop_process_group(proc)
            with pytest.raises(EmbeddingServiceError, match=f"infinity at {url} failed 3 times"):
                tasks.train_challenger(settings, "failed", OPTIONS)
            assert champion_snapshot(root) == before
            proc = helpers.start_infinity(port, tmp_path / "infinity-2.log")
            helpers.wait_http(f"{url}/health", 240, proc, tmp_path / "infinity-2.log")
            assert_next_run_finishes_the_batch(root, settings, "failed", ledger["rows_in"])
            assert_consistent(root, feature_cache)
    finally:
        helpers.stop_process_group(proc)
