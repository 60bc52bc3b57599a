"""The JSON-file labelling state, written by the code of before the state database (taken from git at commit
6b32e4b, imported under the name ``legacy_labelling``), moved into the database by ``migrate_labelling``: the
queue, the answer log, the batches, the agreement figures and each annotator's undo history read the same;
sent tweets stay known; the files are renamed only after the commit; a second run writes nothing. And the old
code as the oracle of the new: the same people's actions, in any order, give the same refusals, queues, answer
log and agreement figures (Hypothesis)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import ROOT

from tweet_sentiment.labelling.migrate import migrate_labelling
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.labelling.state import insert_items
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.database import write_transaction
from tweet_sentiment.storage.fs import DataLayout, as_path, write_json_atomic
from tweet_sentiment.text import clean_tweet, text_hash

LEGACY_COMMIT = "6b32e4b"
MODULES = ("answers", "agreement", "sent_batch", "sources", "state", "queue")
EN, NEG, NEU, POS, EP = LABELS
VIEW_KEYS = ("remaining", "pending_by_class", "labelled_unsent", "disputed", "mine")


@pytest.fixture(scope="module")
def legacy(tmp_path_factory):
    """The labelling package as it was at LEGACY_COMMIT (its modules' imports pointed at each other)."""
    package = tmp_path_factory.mktemp("legacy") / "legacy_labelling"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in MODULES:
        source = subprocess.run(["git", "show", f"{LEGACY_COMMIT}:include/tweet_sentiment/labelling/{name}.py"],
                                cwd=ROOT, capture_output=True, text=True, check=True).stdout
        (package / f"{name}.py").write_text(source.replace("tweet_sentiment.labelling.", "legacy_labelling."))
    sys.path.insert(0, str(package.parent))
    try:
        yield importlib.import_module("legacy_labelling.queue"), importlib.import_module("legacy_labelling.agreement")
    finally:
        sys.path.remove(str(package.parent))
        for name in [m for m in sys.modules if m.startswith("legacy_labelling")]:
            del sys.modules[name]


def h(name: str) -> str:
    """The queue's id of the tweet ``tweet <name>``."""
    return text_hash(clean_tweet(f"tweet {name}"))[:16]


def queued(name: str, pair: list[str] | None = None) -> dict:
    n = int(name[1:])
    return {"id": h(name), "row": n, "source": "x.csv", "text": f"tweet {name}", "UserName": "u", "ScreenName": "s",
            "Location": "", "TweetAt": "16-03-2020", "label": None, "annotator": None, "answers": {},
            "suggested": LABELS[n % 5], "probabilities": {"Neutral": 0.4}, "margin": n / 100, "version": "v1",
            "pair": pair}


def old_state(legacy_queue, layout: DataLayout):
    """A queue the old code labelled: two sends, a set-aside unsure, an adjudicated dispute, a pair waiting, a
    skip, an undo history, a cursor and overlap counts; and one tweet sent before answers were logged."""
    items = [queued(f"t{n}", ["ann", "ben"] if n in (3, 4) else None) for n in range(1, 13)]
    write_json_atomic(layout.labelling / "queue.json", {"items": items, "cursors": {"x.csv": 12},
                                                        "sent_ids": [h("t0")], "overlap_counts": {"loaded": 12,
                                                                                               "overlap": 2}})
    queue = legacy_queue.LabellingQueue(layout, None, 1000, annotators=["ann", "ben"], overlap_share=0.1)
    for item_id, label, who in (("t1", POS, "ann"), ("t2", "unsure", "ann"), ("t3", NEG, "ann"), ("t3", NEG, "ben"),
                                ("t5", NEG, "ann"), ("t5", EP, "ben")):
        queue.record(h(item_id), label, who)
    queue.adjudicate(h("t5"), NEU, "lead")
    queue.send_batch("ann")
    queue.send_batch("lead")
    for item_id, label, who in (("t4", POS, "ann"), ("t6", NEG, "ann"), ("t7", EN, "ben"), ("t7", POS, "cat")):
        queue.record(h(item_id), label, who)
    queue.skip(h("t8"), "ben")
    queue.skip(h("t9"), "ann")
    return queue


def test_old_labelling_files_read_the_same_from_the_database_and_a_second_run_writes_nothing(legacy, tmp_path):
    legacy_queue, legacy_agreement = legacy
    layout = DataLayout(as_path(tmp_path / "data"))
    old = old_state(legacy_queue, layout)
    records = old.answer_records()
    before = {"views": [old.view(annotator=a, limit=100) for a in (None, "ann", "ben", "cat")],
              "log": old.answer_log(), "batches": old.batches(), "disputed": [i["id"] for i in old.disputed()],
              "pairs": legacy_agreement.pair_agreement(records),
              "annotators": legacy_agreement.annotator_figures(records)}
    db = f"sqlite:///{tmp_path / 'state.sqlite'}"

    assert migrate_labelling(layout, db) == {"queued": 9, "sent": 4, "batches": 2}
    new = LabellingQueue(layout, db, None, 1000, annotators=["ann", "ben"], overlap_share=0.1)
    for was, view in zip(before["views"], [new.view(annotator=a, limit=100) for a in (None, "ann", "ben", "cat")],
                         strict=True):
        assert {k: view[k] for k in VIEW_KEYS} == {k: was[k] for k in VIEW_KEYS}
        assert [(i["id"], i["text"], i["TweetAt"], i["pair"], i["answers"]) for i in view["items"]] == [
            (i["id"], i["text"], i["TweetAt"], i.get("pair"), i["answers"]) for i in was["items"]]
    assert new.answer_log() == before["log"] and new.batches() == before["batches"]
    assert [i["id"] for i in new.disputed()] == before["disputed"] == [h("t7")]
    assert new.agreement() == {"pairs": before["pairs"], "annotators": before["annotators"]}
    assert sorted(p.name for p in layout.labelling.iterdir()) == [
        "answers.migrated", "batches.json.migrated", "queue.json.migrated"]

    assert migrate_labelling(layout, db) == {"queued": 0, "sent": 0, "batches": 0}  # nothing left to move
    for name in ("queue.json", "batches.json", "answers"):  # as if killed between the commit and the renames
        (layout.labelling / f"{name}.migrated").rename(layout.labelling / name)
    assert migrate_labelling(layout, db) == {"queued": 0, "sent": 0, "batches": 0}
    assert new.answer_log() == before["log"] and new.agreement()["pairs"] == before["pairs"]

    sent_again = "OriginalTweet\n" + "".join(f"tweet t{n}\n" for n in (0, 1, 5))
    report = new.load("x.csv", sent_again.encode(), limit=10)
    assert report.queued == 0 and len(report.skipped) == 3  # sent tweets (t0 before answers were logged) stay known
    assert new.undo("ben")["undone"] == "skip" and new.undo("ann")["item"]["id"] == h("t9")  # the histories came along
    assert new.undo("ann")["item"]["answers"] == {}  # t6, ann's answer before her skip


PEOPLE = ("ann", "ben", "cat")
actions = st.tuples(st.sampled_from(("record", "skip", "undo", "adjudicate", "send")),
                    st.sampled_from([f"t{n}" for n in range(1, 6)]), st.sampled_from((*LABELS, "Unsure")),
                    st.sampled_from(PEOPLE))


def _act(queue, kind: str, name: str, label: str, who: str) -> str:
    """What became of one action: done, or the kind of refusal. (The old code took a second skip of the same
    tweet by the same person and counted both: now refused, so it is not asked of the old code.)"""
    if kind == "skip" and not isinstance(queue, LabellingQueue) and any(
            i["id"] == h(name) and who in i.get("skipped_by", []) for i in queue.state.read()["items"]):
        return "AnswerRefused"
    calls = {"record": lambda: queue.record(h(name), label, who), "skip": lambda: queue.skip(h(name), who),
             "undo": lambda: queue.undo(who), "adjudicate": lambda: queue.adjudicate(h(name), label, who),
             "send": lambda: queue.send_batch(who)}
    try:
        calls[kind]()
    except ValueError as exc:  # AnswerRefused, LabellingInputError (old and new: each its module's class)
        return type(exc).__name__
    return "done"


def _seen(queue, agreement: dict) -> dict:
    """What the pages show of a queue, less the times and file names each run makes up."""
    views = [queue.view(annotator=a, limit=100) for a in (None, *PEOPLE)]
    return {"views": [({k: v[k] for k in VIEW_KEYS}, [(i["id"], i.get("pair"), sorted(i["answers"]))
                                                    for i in v["items"]]) for v in views],
            "log": [{**r, "batch": r["batch"] is not None} for r in queue.answer_log()],
            "disputed": [i["id"] for i in queue.disputed()], "agreement": agreement}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(steps=st.lists(actions, min_size=1, max_size=20))
def test_the_database_queue_does_what_the_json_file_queue_did(legacy, steps):
    legacy_queue, legacy_agreement = legacy
    with tempfile.TemporaryDirectory() as tmp:
        items = [queued(f"t{n}", ["ann", "ben"] if n == 5 else None) for n in range(1, 6)]
        old_layout, new_layout = DataLayout(as_path(Path(tmp) / "old")), DataLayout(as_path(Path(tmp) / "new"))
        write_json_atomic(old_layout.labelling / "queue.json", {"items": items, "cursors": {}, "sent_ids": []})
        old = legacy_queue.LabellingQueue(old_layout, None, 1000, annotators=list(PEOPLE), overlap_share=0.0)
        db = f"sqlite:///{Path(tmp) / 'state.sqlite'}"
        with write_transaction(db) as connection:
            insert_items(connection, items, loaded_from=0)
        new = LabellingQueue(new_layout, db, None, 1000, annotators=list(PEOPLE), overlap_share=0.0)
        for step in steps:
            assert _act(new, *step) == _act(old, *step), step
        records = old.answer_records()
        assert _seen(new, new.agreement()) == _seen(old, {"pairs": legacy_agreement.pair_agreement(records),
                                                         "annotators": legacy_agreement.annotator_figures(records)})
