"""Claims on S3, where ``flock`` does nothing: the claim lock is a lock object written with a conditional PUT
(tweet_sentiment.storage.object_lock), against an S3 API started here (moto, serving requests one at a time as S3
applies a conditional write: atomically). Two claimers in two processes race for the same inbox files; each file and row
is taken once. The lock's own rules: a waiter times out naming the holder, a dead holder's lock is taken over
after its lease, a live holder's lease is renewed for as long as it holds the lock, and a holder whose lease ran out
does not delete its successor's lock and is told it lost it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from native_services import MotoS3, s3_with_bucket
from reliability_corpus import csv_text, good
from reliability_support import race_two_claimers
from upath import UPath

from tweet_sentiment.storage.fs import list_dir, read_json
from tweet_sentiment.storage.labelled_store import LabelledStore
from tweet_sentiment.storage.object_lock import LockLostError, LockTimeoutError, object_lock

BUCKET, FILES, ROWS = "claims", 6, 10


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    with s3_with_bucket(tmp_path_factory.mktemp("s3"), BUCKET) as server:
        yield server


def test_two_claimers_on_s3_never_take_the_same_file(s3, tmp_path):
    root = UPath(f"s3://{BUCKET}/race")
    for i in range(FILES):
        (root / "inbox" / f"f{i:02d}.csv").write_text(csv_text(*good(f"s3file{i}", ROWS)))
    # spawn: no s3fs event loop inherited from this process; they overlap, the second waits on the lock object
    race_two_claimers(str(root), "spawn", f"sqlite:///{tmp_path / 'state.sqlite'}")  # a state DB: required on S3
    root.fs.invalidate_cache()
    # (the second claimer takes over the first's batch, as it does on a local disk: its entry is superseded)
    live = [e for e in (read_json(p) for p in list_dir(root / "ledger")) if "superseded_by" not in e]
    claimed = [f["file"] for e in live for f in e["files"]]
    assert sorted(claimed) == sorted(f"f{i:02d}.csv" for i in range(FILES))  # each file once
    assert sum(e["rows_accepted"] for e in live) == FILES * ROWS
    store = LabelledStore(root / "labelled").read_all()
    assert len(store) == FILES * ROWS and store["text_hash"].is_unique
    assert list_dir(root / "inbox") == []
    assert not (root / ".claim.lock").exists()  # released


def test_a_waiter_times_out_naming_the_holder(s3):
    lock = UPath(f"s3://{BUCKET}/locks/held.lock")
    with object_lock(lock):
        holder = json.loads(lock.read_bytes())["holder"]
        started = time.monotonic()
        with pytest.raises(LockTimeoutError, match=holder), object_lock(lock, wait_s=1, poll_s=0.1):
            pass
        assert time.monotonic() - started < 10
    assert not lock.exists()


def test_a_dead_holders_lock_is_taken_over_once_its_lease_ended(s3):
    lock = UPath(f"s3://{BUCKET}/locks/dead.lock")
    lock.write_bytes(json.dumps({"holder": "gone-host:1", "expires": time.time() - 1}).encode())
    with object_lock(lock, wait_s=5):
        assert json.loads(lock.read_bytes())["holder"] != "gone-host:1"
    assert not lock.exists()


def test_a_holder_past_its_lease_leaves_its_successors_lock_alone_and_is_told(s3):
    lock = UPath(f"s3://{BUCKET}/locks/overrun.lock")
    successor_holds, release_successor = threading.Event(), threading.Event()

    def successor() -> None:
        with object_lock(lock, wait_s=10, poll_s=0.1):
            successor_holds.set()
            release_successor.wait(30)

    thread = threading.Thread(target=successor)
    with pytest.raises(LockLostError, match="taken over"), object_lock(lock, lease_s=0.5, renew_s=60):  # stalled
        thread.start()
        assert successor_holds.wait(10)  # our lease ended unrenewed: the successor took the lock over
    taken_over = json.loads(lock.read_bytes())
    assert taken_over["expires"] > time.time()  # our release did not delete it
    release_successor.set()
    thread.join(10)
    assert not lock.exists()


def test_a_live_holder_keeps_the_lock_for_as_long_as_it_works_under_it(s3):
    """Slow work under a lock with a 1 s lease: the heartbeat renews it, so a waiter never takes it over."""
    lock = UPath(f"s3://{BUCKET}/locks/slow.lock")
    waited: list[BaseException] = []

    def waiter() -> None:
        try:
            with object_lock(lock, lease_s=1, wait_s=3, poll_s=0.1):
                pass
        except LockTimeoutError as exc:
            waited.append(exc)

    with object_lock(lock, lease_s=1):
        thread = threading.Thread(target=waiter)
        thread.start()
        thread.join(20)  # three leases' time of work
        assert json.loads(lock.read_bytes())["expires"] > time.time()  # renewed
    assert len(waited) == 1  # the waiter timed out: it never took over a live holder's lock
    assert not lock.exists()


def test_a_lock_taken_over_while_held_ends_the_block_in_an_error(s3):
    """A renewal refused (another process wrote the lock object: this holder was cut off for a whole lease) stops
    the renewals, and the block's end says the lock was lost instead of reporting the work done."""
    lock = UPath(f"s3://{BUCKET}/locks/lost.lock")
    with pytest.raises(LockLostError), object_lock(lock, lease_s=0.6):
        lock.write_bytes(json.dumps({"holder": "other-host:1", "expires": time.time() + 60}).encode())
        time.sleep(0.8)  # a renewal is refused meanwhile
    assert json.loads(lock.read_bytes())["holder"] == "other-host:1"  # the other holder's lock is left alone
    lock.unlink()
