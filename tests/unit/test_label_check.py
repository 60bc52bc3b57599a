"""Likely label errors (confident learning), the systematic-correction exemption, held rows in the ledger, the
review queue, and a batch sent twice. Small synthetic data built here; the features are the real hashed words."""

import dataclasses
import itertools
import json

import numpy as np
import pandas as pd
import pytest

from tweet_sentiment.intake.claim import archive_claimed, claim
from tweet_sentiment.intake.labelled import ingest_batch
from tweet_sentiment.label_check.check import FLAG_COLUMNS, check_batch, flagged_file, ledger_balances
from tweet_sentiment.label_check.confident_learning import (
    LabelCheckParams,
    follows_correction,
    likely_errors,
    out_of_fold_probabilities,
    systematic_corrections,
)
from tweet_sentiment.label_check.known_corrections import known_corrections
from tweet_sentiment.label_check.review import (
    REVIEW_FIELDS,
    ReviewError,
    pending_reviews,
    release_systematic,
    resolve_review,
    review_counts,
)
from tweet_sentiment.label_check.teaching import TeachingWeights, outdated_weights
from tweet_sentiment.model.features import hashed_words
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.csvio import write_csv_atomic
from tweet_sentiment.storage.fs import DataLayout
from tweet_sentiment.storage.labelled_store import LabelledStore

VOCAB = [[f"{c}w{i}" for i in range(12)] for c in "abcde"]  # each class its own words
HEADER = ["TweetAt", "OriginalTweet", "Sentiment", "Annotator", "SuggestedSentiment", "Corrected"]
FAST = LabelCheckParams(folds=3, rounds=40, min_data_in_leaf=5)


def features_of(texts: list[str]):
    return hashed_words(texts, 256)


def tweets(n: int, seed: int, flip: float = 0.0, tag: str = "") -> tuple[list[list[str]], np.ndarray]:
    """Rows (TweetAt … Corrected) of class-worded tweets, the true class each; ``flip`` of them labelled as
    another class (suggested: the true one) by one of five annotators."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(LABELS), n)
    flipped = rng.random(n) < flip
    given = np.where(flipped, (truth + rng.integers(1, len(LABELS), n)) % len(LABELS), truth)
    rows = []
    for i, (t, g) in enumerate(zip(truth, given, strict=True)):
        words = " ".join(rng.choice(VOCAB[t], 5))
        rows.append(["16-03-2020", f"{words} {tag} n{seed}x{i}", LABELS[g], f"ann{i % 5}", LABELS[t],
                     str(g != t).lower()])
    return rows, flipped


def send(layout: DataLayout, batch_id: str, name: str, rows: list[list[str]]) -> dict:
    """Drop ``rows`` into the inbox as ``name`` (none: nothing), then claim, ingest and archive one batch."""
    if rows:
        write_csv_atomic(layout.inbox / name, HEADER, rows)
    claim(layout, batch_id, 0)
    entry = ingest_batch(layout, batch_id, 1000)
    archive_claimed(layout.labelled_stream, batch_id)
    return entry


@pytest.fixture
def layout(tmp_path):
    lay = DataLayout(tmp_path / "data")
    lay.ensure()
    return lay


def test_confident_learning_finds_injected_flips_and_rarely_flags_clean_rows():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, len(LABELS), 1500)
    x = np.eye(len(LABELS))[truth] * 2 + rng.normal(scale=0.6, size=(1500, len(LABELS)))
    flip = rng.random(1500) < 0.1
    noisy = np.where(flip, (truth + rng.integers(1, len(LABELS), 1500)) % len(LABELS), truth)
    probabilities = out_of_fold_probabilities(x.astype(np.float32), noisy, len(LABELS), FAST)
    flags = likely_errors(probabilities, noisy, FAST)
    assert flags.flagged[flip].mean() >= 0.7
    assert flags.flagged[~flip].mean() <= 0.05
    assert (flags.suggested[flags.flagged & flip] == truth[flags.flagged & flip]).mean() > 0.9


def test_a_correction_many_annotators_make_is_systematic_random_noise_is_not():
    rows, _ = tweets(600, seed=1, flip=0.1)
    policy = [["16-03-2020", f"{' '.join(VOCAB[3][:4])} sanitizer p{i}", "Negative", f"ann{i % 4}", "Positive",
               "true"] for i in range(15)]
    frame = pd.DataFrame(rows + policy, columns=HEADER).rename(columns={
        "OriginalTweet": "text", "Sentiment": "label", "SuggestedSentiment": "suggested_label",
        "Annotator": "annotator"}).assign(batch_id="b1")
    found = systematic_corrections(frame, FAST)
    assert set(zip(found["word"], found["direction"], strict=True)) == {("sanitizer", "towards negative")}
    reasons = follows_correction(frame, found)
    assert reasons[-15:] == ["sanitizer: towards negative (Positive → Negative)"] * 15 and not any(reasons[:600])
    # the same topic written otherwise (a hashtag, a plural) and relabelled the same way makes the same correction
    other = frame.iloc[-2:].assign(text=["#HandSanitizers gone", "sanitizers gone"], label="Extremely Negative")
    assert follows_correction(other, found) == [
        "sanitizer: towards negative (Positive → Extremely Negative)"] * 2
    # the same correction by fewer people than min_annotators is not systematic
    two = frame.assign(annotator=np.where(frame["text"].str.contains("sanitizer"), "ann0", frame["annotator"]))
    assert systematic_corrections(two, FAST).empty
    # the rows before a correction's first batch were the old rule: they do not dilute its share
    before = [["16-03-2020", f"{' '.join(VOCAB[3][:4])} sanitizer q{i}", "Positive", "ann9", "Positive", "false"]
              for i in range(40)]
    older = pd.DataFrame(before, columns=HEADER).rename(columns={
        "OriginalTweet": "text", "Sentiment": "label", "SuggestedSentiment": "suggested_label",
        "Annotator": "annotator"}).assign(batch_id="b0")
    assert systematic_corrections(pd.concat([older, frame]), FAST)["since"].tolist() == ["b1"]  # where it began


def test_held_rows_leave_the_store_wait_for_review_and_the_ledger_balances(layout):
    send(layout, "b1", "first.csv", tweets(400, seed=1)[0])
    check_batch(layout, "b1", features_of, "hold", 0.2, FAST)
    rows, flipped = tweets(300, seed=2, flip=0.1)
    entry = send(layout, "b2", "second.csv", rows)
    record = check_batch(layout, "b2", features_of, "hold", 0.2, FAST)
    held = pd.read_parquet(flagged_file(layout, "b2"))
    truly = {f"{r[1]}" for r, f in zip(rows, flipped, strict=True) if f}
    assert record["rows_held"] == len(held) >= 0.7 * flipped.sum()
    assert len(set(held["raw_text"]) - truly) <= 0.05 * (len(rows) - flipped.sum())
    ledger = json.loads((layout.ledger / "b2.json").read_text())
    assert ledger_balances(ledger) and ledger["rows_held"] == record["rows_held"]
    assert ledger["rows_accepted"] == entry["rows_accepted"] - record["rows_held"]
    assert ledger["files"][0]["rows_held"] == record["rows_held"]
    stored = LabelledStore(layout.labelled).read_batch("b2")
    assert len(stored) + record["rows_held"] == 300 and not set(stored["raw_text"]) & set(held["raw_text"])
    # held rows are corrections (label ≠ suggestion) but wait outside the store; the unflagged corrections teach
    assert (held["label"] != held["suggested_label"]).all() and record["rows_up_weighted"] > 0
    corrected = stored["label"] != stored["suggested_label"]
    assert (stored.loc[corrected, "label_weight"] == 2.0).all() and (stored.loc[~corrected, "label_weight"] == 1).all()
    assert check_batch(layout, "b2", features_of, "hold", 0.2, FAST) == record  # a retry changes nothing

    queue = pending_reviews(layout)
    assert len(queue) == record["rows_held"] and set(queue[0]) == set(REVIEW_FIELDS)
    assert queue[0]["text"] in truly | {r[1] for r in rows} and queue[0]["batch_id"] == "b2"
    assert [q["confidence"] for q in queue] == sorted((q["confidence"] for q in queue), reverse=True)
    first, second, third = (q["review_id"] for q in queue[:3])
    relabelled = resolve_review(layout, first, "relabel", queue[0]["suggested"], "rev")
    resolve_review(layout, second, "accept", None, "rev")
    resolve_review(layout, third, "drop", None, "rev")
    with pytest.raises(ReviewError, match="decided already"):
        resolve_review(layout, first, "accept", None, "rev")
    assert review_counts(layout) == {"pending": record["rows_held"] - 3, "accept": 1, "relabel": 1, "drop": 1}
    assert sorted(p.name for p in layout.inbox.iterdir()) == sorted([f"review-{first}.csv", f"review-{second}.csv"])
    back = send(layout, "b3", "", [])  # the two review files re-enter training through the inbox
    assert (back["rows_in"], back["rows_accepted"]) == (2, 2)
    assert check_batch(layout, "b3", features_of, "hold", 0.2, FAST)["rows_checked"] == 0  # reviewed: not again
    current = LabelledStore(layout.labelled).read_batch("b3").set_index("review_id")["label"]
    assert current[first] == relabelled["label"] == queue[0]["suggested"]



def test_rows_making_a_systematic_correction_are_kept_and_down_weighting_keeps_the_rest(layout):
    topic = [f"{' '.join(words)} sanitizer" for words in itertools.combinations(VOCAB[3], 4)][::7]  # distinct
    old_rule = [["16-03-2020", text, "Positive", "ann9", "Positive", "false"]
                for text in topic[:60]]  # before the correction: the topic read as its words say
    send(layout, "b1", "first.csv", tweets(400, seed=1)[0] + old_rule)
    rows, _ = tweets(200, seed=4, flip=0.1)
    policy = [["16-03-2020", text, "Negative", f"ann{i % 4}", "Positive", "true"]
              for i, text in enumerate(topic[60:72])]
    entry = send(layout, "b2", "second.csv", rows + policy)
    # whether a policy row is flagged at all depends on the folds (the replay's draw and order): this seed's
    # split flags two of them, whose correction must then keep them
    record = check_batch(layout, "b2", features_of, "down_weight", 0.2, dataclasses.replace(FAST, seed=2))
    flagged = pd.read_parquet(flagged_file(layout, "b2"))
    kept = flagged[flagged["action"] == "kept"]
    assert len(kept) >= 1 and kept["raw_text"].str.contains("sanitizer").all()
    assert not flagged.loc[flagged["action"] != "kept", "raw_text"].str.contains("sanitizer").any()
    assert (kept["correction"] == "sanitizer: towards negative (Positive → Negative)").all()
    lighter = flagged.loc[flagged["action"] == "down_weighted", "seq"]
    assert record["rows_held"] == 0 and record["rows_down_weighted"] == len(lighter) > 0
    stored = LabelledStore(layout.labelled).read_batch("b2").set_index("seq")["label_weight"]
    assert len(stored) == entry["rows_accepted"] and set(stored[lighter]) == {0.2}
    # a down-weighted row is never up-weighted, though most are corrections (the label differs from the suggestion)
    down = flagged[flagged["action"] == "down_weighted"]
    assert (down["label"] != down["suggested_label"]).mean() > 0.5
    # the rows that teach: a kept row follows the systematic correction (×3), an unflagged correction counts ×2
    assert (stored[kept["seq"]] == TeachingWeights().systematic).all()
    others = LabelledStore(layout.labelled).read_batch("b2").set_index("seq").drop(flagged["seq"])
    expected = np.where(others["text"].str.contains("sanitizer"), 3.0,
                        np.where(others["label"] != others["suggested_label"], 2.0, 1.0))
    assert others["label_weight"].tolist() == expected.tolist() and record["rows_up_weighted"] == (
        (expected > 1).sum() + len(kept))
    # the correction is remembered from where it began; the 60 older sanitizer rows of b1 (the old rule: Positive)
    # are the ones it contradicts, and training weighs them down (label_check.teaching.outdated_weights)
    assert known_corrections(layout) == [{"word": "sanitizer", "direction": "towards negative", "since": "b2",
                                          "moved_from": ["Positive"], "found_in": "b2"}]
    first = LabelledStore(layout.labelled).read_batch("b1")
    contradicted = outdated_weights(first, known_corrections(layout), {"b1": 1, "b2": 0}, 0.3) == 0.3
    assert contradicted.sum() == 60 and first.loc[contradicted, "text"].str.contains("sanitizer").all()


def test_a_batch_sent_twice_is_quarantined_whole_as_a_duplicate_batch(layout):
    rows, _ = tweets(5, seed=7)
    write_csv_atomic(layout.inbox / "copy-a.csv", HEADER, rows)
    write_csv_atomic(layout.inbox / "copy-b.csv", HEADER, rows)  # sent twice before a run claimed it
    first = send(layout, "b1", "original.csv", rows)
    assert (first["rows_in"], first["rows_accepted"], first["rows_quarantined"]) == (15, 5, 10)
    reasons = {f["file"]: f["file_error"] for f in first["files"]}
    assert reasons["copy-a.csv"] == "" and reasons["copy-b.csv"] == reasons["original.csv"] == (
        "duplicate batch: the same bytes as copy-a.csv, earlier in this batch")
    again = send(layout, "b2", "later-copy.csv", rows)  # and once more, in a later batch
    assert again["rows_quarantined"] == again["rows_in"] == 5
    reason = json.loads((layout.quarantine / "b2" / "later-copy.csv.reason.json").read_text())["reason"]
    assert reason == "duplicate batch: the same bytes as copy-a.csv, ingested in batch b1"
    assert ingest_batch(layout, "b2", 1000) == again  # a retried ingest returns the entry as it was


def test_files_a_dead_run_ingested_are_taken_over_not_quarantined_as_a_duplicate_batch(layout):
    rows, _ = tweets(5, seed=9)
    write_csv_atomic(layout.inbox / "a.csv", HEADER, rows)
    claim(layout, "dead", 0)
    ingest_batch(layout, "dead", 1000)  # the run died after its ingest, before archiving
    entry = send(layout, "next", "", [])  # the next run takes the dead batch's files over
    assert (entry["rows_in"], entry["rows_accepted"], entry["files_rejected"]) == (5, 5, 0)


def test_another_annotators_different_label_supersedes_and_is_reported(layout):
    rows, _ = tweets(60, seed=8)
    send(layout, "b1", "first.csv", rows)
    check_batch(layout, "b1", features_of, "off", 0.2, FAST)
    changed = [[*rows[0][:2], LABELS[(LABELS.index(rows[0][2]) + 1) % 5], "someone-else", *rows[0][4:]]]
    entry = send(layout, "b2", "second.csv", changed)
    assert entry["rows_superseding"] == 1
    record = check_batch(layout, "b2", features_of, "off", 0.2, FAST)
    assert record["rows_checked"] == 0 and "off" in record["reason"]
    seen = record["annotator_disagreements"]
    assert seen["count"] == 1 and seen["examples"][0]["earlier_annotator"] == rows[0][3] != "someone-else"
    assert LabelledStore(layout.labelled).current().set_index("raw_text")["label"][rows[0][1]] == changed[0][2]


def test_a_check_that_died_after_deciding_is_re_applied_on_retry_never_re_decided(layout):
    send(layout, "b1", "first.csv", tweets(300, seed=1)[0])
    send(layout, "b2", "second.csv", tweets(200, seed=2, flip=0.1)[0])
    store = LabelledStore(layout.labelled)
    stored = store.version()
    ledger = (layout.ledger / "b2.json").read_bytes()
    first = check_batch(layout, "b2", features_of, "hold", 0.2, FAST)
    assert first["rows_held"] > 0 and store.version() == stored + 1  # the hold: one commit
    # the process died after writing the flagged rows, before the store, the ledger and the record
    store.rows.restore(stored)
    (layout.ledger / "b2.json").write_bytes(ledger)
    (layout.labels / "checks" / "b2.json").unlink()
    again = check_batch(layout, "b2", lambda texts: pytest.fail("re-decided"), "hold", 0.2, FAST)
    assert again["rows_held"] == first["rows_held"] and again["ledger"] == first["ledger"]
    assert len(LabelledStore(layout.labelled).read_batch("b2")) == first["ledger"]["rows_accepted"]


def test_held_rows_of_a_correction_that_became_systematic_are_released_to_the_inbox(layout):
    def held(seq: int, text: str) -> dict:
        return {**{c: "" for c in FLAG_COLUMNS}, "text": text, "raw_text": text, "label": "Negative",
                "suggested_label": "Positive", "suggested": "Positive", "confidence": 0.9, "action": "held",
                "flag_id": f"b1--{seq}", "batch_id": "b1", "tweet_at": "2020-03-16", "seq": seq, "source_row": seq,
                "label_weight": 1.0, "recent_holdout": False, "superseding": False, "given_confidence": 0.1}

    path = flagged_file(layout, "b1")
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([held(1, "hand sanitizer sold out again"), held(2, "lovely weather today")]).to_parquet(path)
    change = {"word": "sanitizer", "direction": "towards negative"}
    released = release_systematic(layout, [change])
    assert [r["review_id"] for r in released] == ["b1--1"] and released[0]["reviewer"].startswith("label check")
    assert (layout.inbox / "review-b1--1.csv").exists()
    assert [q["review_id"] for q in pending_reviews(layout)] == ["b1--2"]
    assert release_systematic(layout, [change]) == []  # decided once


@pytest.mark.parametrize("review_id", ["../probe", "../../probe", "b1--3/../../probe", "b1--3\x00", "--3", ""])
def test_a_review_id_of_another_form_is_refused_before_any_path_is_built(layout, review_id):
    # a file beside reviews/: the old code read it through "../probe" (an oracle of which files exist)
    (layout.labels / "probe.json").write_text(json.dumps({"decision": "leaked"}))
    with pytest.raises(ReviewError, match="is not a review id") as refused:
        resolve_review(layout, review_id, "accept", None, "ann")
    assert "leaked" not in str(refused.value)
    assert not any(layout.inbox.iterdir())


def test_a_review_id_is_honoured_only_when_its_review_record_exists_and_names_that_file(layout):
    """Finding 4 of issue 23: any non-empty ReviewId used to skip the label check."""
    send(layout, "b1", "first.csv", tweets(400, seed=1)[0])
    check_batch(layout, "b1", features_of, "hold", 0.2, FAST)
    rows, _ = tweets(300, seed=2, flip=0.1)
    send(layout, "b2", "second.csv", rows)
    record = check_batch(layout, "b2", features_of, "hold", 0.2, FAST)
    review_id = pending_reviews(layout)[0]["review_id"]
    resolve_review(layout, review_id, "accept", None, "rev")  # its record names review-<id>.csv
    forged, _ = tweets(300, seed=3, flip=0.1)
    header = [*HEADER, "ReviewId"]
    write_csv_atomic(layout.inbox / "forged.csv", header, [[*r, "made-up-id"] for r in forged[:100]])
    write_csv_atomic(layout.inbox / "borrowed.csv", header, [[*r, review_id] for r in forged[100:200]])
    write_csv_atomic(layout.inbox / "traversal.csv", header, [[*r, "../checks/b2"] for r in forged[200:]])
    entry = send(layout, "b3", "", [])
    assert entry["rows_accepted"] == 301 and record["rows_held"] > 0
    checked = check_batch(layout, "b3", features_of, "hold", 0.2, FAST)
    assert checked["rows_checked"] == 300  # every forged row; the real review's row only is not checked again
    assert checked["rows_held"] > 0


def test_a_dead_batchs_held_rows_leave_the_review_queue_when_it_is_taken_over(layout):
    """Found by the kill point after the label check (issue 23): the rows came again, and waited twice."""
    send(layout, "b1", "first.csv", tweets(400, seed=1)[0])
    check_batch(layout, "b1", features_of, "hold", 0.2, FAST)
    write_csv_atomic(layout.inbox / "second.csv", HEADER, tweets(300, seed=2, flip=0.1)[0])
    claim(layout, "dead", 0)
    ingest_batch(layout, "dead", 1000)
    assert check_batch(layout, "dead", features_of, "hold", 0.2, FAST)["rows_held"] > 0  # then the run died
    claim(layout, "next", 0)
    assert pending_reviews(layout) == []
    ingest_batch(layout, "next", 1000)
    record = check_batch(layout, "next", features_of, "hold", 0.2, FAST)
    queue = pending_reviews(layout)
    assert len(queue) == record["rows_held"] > 0 and {q["batch_id"] for q in queue} == {"next"}
    assert len({q["text"] for q in queue}) == len(queue)
