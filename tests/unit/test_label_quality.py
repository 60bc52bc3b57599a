"""Labels people can trust: skip, unsure, undo, overlap pairs, adjudication and the agreement figures."""

import csv
from collections import Counter
from collections.abc import Iterator
from itertools import combinations

import pytest
from native_services import postgres_server

from tweet_sentiment.labelling.agreement import annotator_figures, pair_agreement, weighted_kappa
from tweet_sentiment.labelling.answers import UNSURE, AnswerRefused, NotQueued, assign_pairs
from tweet_sentiment.labelling.migrate import migrate_labelling
from tweet_sentiment.labelling.queue import LabellingInputError, LabellingQueue
from tweet_sentiment.labelling.state import insert_items, load_item
from tweet_sentiment.schema import LABELS
from tweet_sentiment.storage.database import (
    METADATA,
    dispose_engines,
    engine,
    read_connection,
    write_transaction,
)
from tweet_sentiment.storage.fs import DataLayout, as_path, write_json_atomic

EN, NEG, NEU, POS, EP = LABELS


def queued(item_id: str, pair: list[str] | None = None) -> dict:
    return {"id": item_id, "row": 1, "source": "x.csv", "text": f"tweet {item_id}", "UserName": "",
            "ScreenName": "", "Location": "", "TweetAt": "", "label": None, "annotator": None, "answers": {},
            "suggested": NEU, "probabilities": {}, "margin": 0.1, "version": "v1", "pair": pair}


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url
        dispose_engines()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_db(request, tmp_path) -> str:
    """The state database: SQLite in the data root (the default), and production's PostgreSQL (emptied)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    url = request.getfixturevalue("postgres_url")
    METADATA.drop_all(engine(url, immediate=True))
    METADATA.create_all(engine(url, immediate=True))
    return url


@pytest.fixture
def make_queue(tmp_path, state_db):
    def make(*items: dict) -> LabellingQueue:
        db = state_db
        with write_transaction(db) as connection:
            insert_items(connection, list(items), loaded_from=0)
        return LabellingQueue(DataLayout(as_path(tmp_path / "data")), db, predictor=None, max_chars=1000,
                              annotators=["ann", "ben"], overlap_share=0.1)
    return make


def cells(records: list[dict]) -> tuple[list[tuple], list[tuple], dict[str, int]]:
    """The counts the state database's queries give (state.pair_cells, answer_cells, skip_counts) for records."""
    pairs: Counter = Counter()
    given: Counter = Counter()
    skips: Counter = Counter()
    for r in records:
        for a, b in combinations(sorted(r["answers"]), 2):
            pairs[(a, b, r["answers"][a], r["answers"][b])] += 1
        given.update((name, label, r["suggested"]) for name, label in r["answers"].items())
        skips.update(r["skipped_by"])
    return [(*k, n) for k, n in pairs.items()], [(*k, n) for k, n in given.items()], dict(skips)


def sent_rows(queue: LabellingQueue, batch: dict) -> list[dict]:
    with open(queue.layout.inbox / batch["file"], newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_weighted_kappa_matches_a_hand_computed_table():
    # classes 0..4; 8 tweets; the two disagree on (1,2), (2,1), (3,4): one step each, weight 1/16 each.
    # observed weighted disagreement: 3/16 (per tweet sums, /n cancels against the expected's /n)
    # rows (first) r = [2,2,2,1,1], columns (second) c = [2,2,2,0,2]; expected = sum w_ij r_i c_j / n = 63/32
    # kappa = 1 - (3/16) / (63/32) = 1 - 6/63 = 19/21
    first = [LABELS[i] for i in (0, 1, 2, 3, 4, 2, 1, 0)]
    second = [LABELS[i] for i in (0, 2, 2, 4, 4, 1, 1, 0)]
    assert weighted_kappa(first, second) == pytest.approx(19 / 21, abs=1e-4)
    # quadratic weights: a far-off disagreement costs more than a near one
    far = [LABELS[i] for i in (0, 2, 2, 4, 0, 2, 1, 0)]
    assert weighted_kappa(first, far) < weighted_kappa(first, second)
    # one class throughout, against a varied rater: no agreement beyond chance; both constant: undefined
    assert weighted_kappa([NEU] * 6, [EN, NEG, NEU, POS, EP, NEU]) == pytest.approx(0.0, abs=1e-9)
    assert weighted_kappa([NEU] * 4, [NEU] * 4) is None
    assert weighted_kappa([NEU], [POS]) is None


def test_pair_confusion_and_a_one_key_annotator_are_shown():
    records = [{"id": str(i), "suggested": LABELS[i % 5], "answers": {"ann": LABELS[i % 5], "zed": NEU},
                "skipped_by": []} for i in range(10)]
    records.append({"id": "u", "suggested": NEU, "answers": {"ann": UNSURE, "zed": NEU}, "skipped_by": ["bob"]})
    pair_cells, answer_cells, skips = cells(records)
    (pair,) = pair_agreement(pair_cells)
    assert pair["annotators"] == ["ann", "zed"] and pair["tweets"] == 10 and pair["unsure"] == 1
    assert pair["confusion"][LABELS.index(POS)][LABELS.index(NEU)] == 2 and pair["exact"] == 0.2
    figures = {f["annotator"]: f for f in annotator_figures(answer_cells, skips)}
    assert figures["zed"]["one_key"] == NEU and figures["zed"]["distribution"][NEU] == 11
    assert figures["zed"]["with_model"]["kappa"] == pytest.approx(0.0, abs=1e-9)
    assert figures["ann"]["one_key"] is None and figures["ann"]["with_model"]["kappa"] == 1.0
    assert figures["ann"]["distribution"][UNSURE] == 1 and figures["bob"]["skipped"] == 1


def test_overlap_share_is_respected_across_loads_with_two_different_annotators():
    counts: dict = {}
    items = [{"id": str(i)} for i in range(95)]
    for start in range(0, 95, 19):  # five loads of 19
        assign_pairs(items[start:start + 19], ["ann", "ben", "cat"], 0.1, counts)
    paired = [i["pair"] for i in items if i.get("pair")]
    assert len(paired) == round(0.1 * 95) and counts == {"loaded": 95, "overlap": 10}
    assert all(len(set(p)) == 2 for p in paired)
    assert {tuple(p) for p in paired} == {("ann", "ben"), ("ann", "cat"), ("ben", "cat")}  # the pairs in turn
    alone = [{"id": str(i)} for i in range(50)]
    assign_pairs(alone, ["ann"], 0.1, {})
    assert not any(i.get("pair") for i in alone)  # one annotator: overlap off


def test_overlap_is_reported_off_with_one_annotator(tmp_path):
    queue = LabellingQueue(DataLayout(as_path(tmp_path)), f"sqlite:///{tmp_path / 'state.sqlite'}", None, 1000,
                           annotators=["ann"], overlap_share=0.1)
    assert queue.overlap() == {"on": False, "share": 0.1, "annotators": ["ann"]}


def test_skip_and_unsure_never_reach_a_batch(make_queue):
    queue = make_queue(queued("a"), queued("b"), queued("c"))
    queue.skip("a", "ann")
    with pytest.raises(AnswerRefused, match="skipped tweet a already"):
        queue.skip("a", "ann")  # counted once
    queue.record("b", "unsure", "ann")
    queue.record("c", POS, "ann")
    view = queue.view(annotator="ann")
    assert [i["id"] for i in view["items"]] == []
    assert view["mine"] == {"labelled": 1, "unsure": 1, "skipped": 1, "to_send": 1, "waiting_for_pair": 0,
                            "disputed": 0, "sent": 0}
    assert [i["id"] for i in queue.view(annotator="ben")["items"]] == ["a"]  # a skip passes it on
    batch = queue.send_batch("ann")
    assert batch["rows"] == 1 and batch["unsure_set_aside"] == 1
    assert [r["OriginalTweet"] for r in sent_rows(queue, batch)] == ["tweet c"]
    log = {r["id"]: r for r in queue.answer_log()}
    assert log["b"]["final"] == UNSURE and log["b"]["batch"] is None  # set aside, kept with its reason
    assert queue.view(annotator="ann")["mine"]["sent"] == 1


def test_undo_takes_back_answers_and_skips_newest_first(make_queue):
    queue = make_queue(queued("a"), queued("b"))
    queue.record("a", NEG, "ann")
    queue.record("a", POS, "ann")  # changed their mind
    queue.skip("b", "ann")
    assert queue.undo("ann")["undone"] == "skip"
    assert {i["id"] for i in queue.view(annotator="ann")["items"]} == {"b"}
    queue.undo("ann")
    assert queue.view(annotator="ann")["mine"]["labelled"] == 1
    with read_connection(queue.db) as connection:
        assert load_item(connection, "a")["label"] == NEG  # the earlier answer again
    queue.undo("ann")
    assert {i["id"] for i in queue.view(annotator="ann")["items"]} == {"a", "b"}
    with pytest.raises(AnswerRefused, match="nothing to undo"):
        queue.undo("ann")
    queue.record("a", NEG, "ann")
    queue.send_batch("ann")
    with pytest.raises(AnswerRefused, match="since their last send"):
        queue.undo("ann")


def test_overlap_pair_that_agrees_is_sent_once_by_the_second(make_queue):
    queue = make_queue(queued("p", ["ann", "ben"]), queued("q"))
    assert [i["id"] for i in queue.view(annotator="cat")["items"]] == ["q"]  # reserved for the pair
    with pytest.raises(AnswerRefused, match="reserved for ann and ben"):
        queue.record("p", NEG, "cat")
    queue.record("p", NEG, "ann")
    assert queue.view(annotator="ann")["mine"]["waiting_for_pair"] == 1
    with pytest.raises(LabellingInputError, match="no labelled tweets"):
        queue.send_batch("ann")  # waiting for ben: nothing of it goes to training yet
    assert queue.view(annotator="ben")["items"][0]["id"] == "p"  # a pair to finish comes first
    queue.record("p", NEG, "ben")
    batch = queue.send_batch("ben")
    assert [(r["Sentiment"], r["Annotator"]) for r in sent_rows(queue, batch)] == [(NEG, "ben")]
    (pair,) = queue.agreement()["pairs"]
    assert pair["annotators"] == ["ann", "ben"] and pair["exact"] == 1.0


def test_disagreement_waits_for_a_third_answer_then_reaches_a_sent_batch(make_queue):
    queue = make_queue(queued("p", ["ann", "ben"]))
    queue.record("p", NEG, "ann")
    queue.record("p", EP, "ben")
    assert [i["id"] for i in queue.disputed()] == ["p"]
    for who in ("ann", "ben"):
        assert queue.view(annotator=who)["mine"]["disputed"] == 1
        with pytest.raises(LabellingInputError):
            queue.send_batch(who)  # held: neither answer enters training
        with pytest.raises(AnswerRefused, match="a third person decides"):
            queue.adjudicate("p", NEG, who)
    queue.adjudicate("p", "negative", "lead")
    assert queue.disputed() == []
    batch = queue.send_batch("lead")
    assert [(r["OriginalTweet"], r["Sentiment"], r["Annotator"]) for r in sent_rows(queue, batch)] == [
        ("tweet p", NEG, "lead")]
    (record,) = queue.answer_log()
    assert record["answers"] == {"ann": NEG, "ben": EP} and record["adjudication"]["annotator"] == "lead"


def test_the_same_tweet_answered_by_two_people_is_compared_not_overwritten(make_queue):
    queue = make_queue(queued("a"))
    queue.record("a", POS, "ann")  # an ordinary tweet, open on two screens at once
    queue.record("a", NEG, "ben")
    assert [i["id"] for i in queue.disputed()] == ["a"]  # ann's label is not replaced: a third person decides
    queue.undo("ben")
    assert queue.disputed() == [] and queue.view(annotator="ann")["labelled_unsent"] == 1


def test_an_answer_for_a_tweet_that_left_the_queue_is_refused_and_nothing_changes(make_queue):
    queue = make_queue(queued("a"), queued("b"))
    queue.record("a", POS, "ann")
    batch = queue.send_batch("ann")
    before = (queue.view(), queue.answer_log(), queue.agreement())
    with pytest.raises(AnswerRefused, match=rf"left the queue.*as {POS} by ann \({batch['file']}\).*not recorded"):
        queue.record("a", NEG, "ben")
    with pytest.raises(NotQueued, match="never loaded"):
        queue.record("zz", NEG, "ben")
    assert (queue.view(), queue.answer_log(), queue.agreement()) == before
    assert [r["Sentiment"] for r in sent_rows(queue, batch)] == [POS]


def test_a_label_in_a_queue_file_from_before_answers_were_kept_is_still_sent(make_queue):
    old = {k: v for k, v in queued("a").items() if k not in ("answers", "pair")}
    old.update(label=POS, annotator="ann", labelled_at="2026-11-01T10:00:00+00:00")
    queue = make_queue()
    write_json_atomic(queue.layout.labelling / "queue.json", {"items": [old], "cursors": {}, "sent_ids": []})
    assert migrate_labelling(queue.layout, queue.db)["queued"] == 1
    assert queue.view(annotator="ann")["mine"]["to_send"] == 1
    batch = queue.send_batch("ann")
    assert [(r["Sentiment"], r["Annotator"]) for r in sent_rows(queue, batch)] == [(POS, "ann")]
    assert queue.answer_log()[0]["answers"] == {"ann": POS}


def test_skipping_a_reserved_tweet_releases_it_and_queued_answers_count_in_the_figures(make_queue):
    queue = make_queue(queued("p", ["ann", "ben"]))
    queue.record("p", NEG, "ben")
    queue.skip("p", "ann")
    assert queue.view(annotator="cat")["items"] == []  # decided: ben's answer alone, once the pair is released
    assert queue.view(annotator="ben")["mine"]["to_send"] == 1
    (figures,) = [f for f in queue.agreement()["annotators"] if f["annotator"] == "ben"]
    assert figures["distribution"][NEG] == 1  # not sent yet, already counted
    queue.undo("ann")  # the skip taken back: the pair again, waiting for ann
    assert [i["id"] for i in queue.view(annotator="ann")["items"]] == ["p"]
    mine = queue.view(annotator="ben")["mine"]
    assert (mine["to_send"], mine["waiting_for_pair"]) == (0, 1)


def test_skipping_an_unanswered_reserved_tweet_opens_it_to_others(make_queue):
    queue = make_queue(queued("p", ["ann", "ben"]))
    assert queue.view(annotator="cat")["items"] == []
    queue.skip("p", "ann")
    assert [i["id"] for i in queue.view(annotator="cat")["items"]] == ["p"]
    assert queue.view(annotator="ann")["items"] == []
