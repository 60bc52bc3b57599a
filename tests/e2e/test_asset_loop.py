"""The loop reacts, under a real Airflow (api-server with the plugin, scheduler with LocalExecutor, dag-processor):
"Send batch" starts a run that learns the batch; a run with nothing to do ends skipped at once, its reason in the
task log and the run's note; a manual refit on an empty inbox trains at once; a promotion and a rollback record a
champion event, a kept champion none; a storm of sends is learnt once, one run at a time.

One Airflow stack and one data root for the module: the tests run in file order and build on each other.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pandas as pd
import pytest
from support import TEST_OUTPUT, poll

from benchmarks.airflow_stack import AirflowStack
from benchmarks.reaction import api_epoch
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import batch_id_for
from tweet_sentiment.intake.feed import chronological_rows, write_rows
from tweet_sentiment.label_check.review import held_rows
from tweet_sentiment.model.boosting import BoostingParams
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.assets import CHAMPION, INBOX
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.storage.fs import DataLayout, as_path, read_json
from tweet_sentiment.storage.labelled_store import LabelledStore

pytestmark = pytest.mark.e2e
DAG = "tweet_sentiment_retrain"
ANNOTATORS = [f"annotator{i}" for i in range(1, 6)]
SMALL = {"num_boost_round": 60}  # refits on ~1,000 rows need no more trees
FIGURES: dict[str, float] = {}



@dataclasses.dataclass
class Loop:
    """The running stack, its logins, the data root, and the tweets the annotators label (raw text → label)."""

    stack: AirflowStack
    settings: Settings
    truth: dict[str, str]

    @property
    def layout(self) -> DataLayout:
        return self.settings.layout()

    def client(self, user: str = "admin") -> httpx.Client:
        return self.stack.login(user)

    def get(self, path: str, **params: object) -> dict:
        with self.client() as admin:
            resp = admin.get(path, params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def runs(self) -> list[dict]:
        return self.get(f"/api/v2/dags/{DAG}/dagRuns", order_by="run_after", limit=100)["dag_runs"]

    def tasks(self, run_id: str) -> dict[str, dict]:
        found = self.get(f"/api/v2/dags/{DAG}/dagRuns/{quote(run_id, safe='')}/taskInstances")
        return {ti["task_id"]: ti for ti in found["task_instances"]}

    def wait(self, done: Callable[[], object], what: str, timeout_s: float = 240) -> object:
        return poll(done, what, timeout_s, 0.5, where=f"; logs in {self.stack.home}")

    def idle(self) -> bool:
        """No inbox event waiting to start a run, and then no run queued or running (in this order: once the
        sends are done no event is added, so no run can be created after an empty queue was seen)."""
        with self.client() as admin:
            waiting = admin.get(f"/api/v2/dags/{DAG}/assets/queuedEvents")
        assert waiting.status_code == 200, waiting.text
        if waiting.json()["total_entries"]:
            return False
        return self.get(f"/api/v2/dags/{DAG}/dagRuns", state=["queued", "running"])["total_entries"] == 0

    def finished(self, run_id: str) -> dict:
        return self.wait(lambda: next((r for r in self.runs() if r["dag_run_id"] == run_id
                                       and r["state"] in ("success", "failed")), None), f"run {run_id}")

    def events(self, asset: tuple[str, str]) -> list[dict]:
        (found,) = self.get("/api/v2/assets", name_pattern=asset[0])["assets"]
        return self.get("/api/v2/assets/events", asset_id=found["id"], order_by="timestamp", limit=100)["asset_events"]

    def trigger(self, conf: dict) -> tuple[str, float]:
        with self.client() as admin:
            resp = admin.post(f"/api/v2/dags/{DAG}/dagRuns", json={"logical_date": None, "conf": conf})
        assert resp.status_code == 200, resp.text
        return resp.json()["dag_run_id"], time.time()

    def label_and_send(self, user: str, count: int) -> tuple[dict, float]:
        """Queue ``count`` new tweets for ``user``, label them as the dataset does, send; (batch, send returned)."""
        with self.client(user) as api:
            queued = api.get("/tweet-sentiment/api/queue", params={"limit": 500}).json()["items"]
            mine = [item for item in queued if item["label"] is None][:count]
            assert len(mine) == count, f"only {len(mine)} tweets left to label"
            for item in mine:
                labelled = api.post("/tweet-sentiment/api/queue/labels",
                                    json={"id": item["id"], "label": self.truth[item["text"]]})
                assert labelled.status_code == 200, labelled.text
            return self.send(api)

    @staticmethod
    def send(api: httpx.Client) -> tuple[dict, float]:
        sent = api.post("/tweet-sentiment/api/queue/send")
        returned = time.time()
        assert sent.status_code == 200, sent.text
        return sent.json(), returned


def bootstrap(settings: Settings, rows: list[list[str]], header: list[str]) -> None:
    """A small champion: a refit on the first 1,000 tweets, by the same cycle the DAG runs."""
    write_rows(settings.layout().inbox, "bootstrap.csv", header, rows)
    report = run_cycle(settings, "bootstrap", RunOptions(strategy="refit", force_promote=True,
                                                         boosting=BoostingParams(num_boost_round=60)))
    assert report.decision.promoted, report.decision


@pytest.fixture(scope="module")
def loop(small_dataset: Path, infinity_url: str, feature_cache: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    root = tmp_path_factory.mktemp("asset-loop")
    settings = dataclasses.replace(Settings.from_env(), data_root=str(root / "data"), cache_root=str(feature_cache),
                                   dataset_dir=str(small_dataset), infinity_url=infinity_url, file_settle_s=0.0)
    header, rows = chronological_rows(settings.train_file)
    bootstrap(settings, rows[:1000], header)
    upload = root / "to-label.csv"
    write_rows(as_path(root), upload.name, header, rows[1000:1100])
    text, label = header.index("OriginalTweet"), header.index("Sentiment")
    # annotators have Airflow's role "user"; the run notes log in as the stack's service user (role user too)
    with AirflowStack(settings, root / "airflow", users=dict.fromkeys(ANNOTATORS, "user")) as stack:
        lp = Loop(stack, settings, {r[text]: r[label] for r in rows[1000:1100]})
        with lp.client(ANNOTATORS[0]) as api:  # the queue is shared: every annotator labels from it
            loaded = api.post("/tweet-sentiment/api/queue/load", data={"rows": "100"},
                              files={"file": (upload.name, upload.read_bytes(), "text/csv")})
            assert loaded.status_code == 200 and loaded.json()["queued"] >= 40, loaded.text
        yield lp
    TEST_OUTPUT.mkdir(exist_ok=True)
    (TEST_OUTPUT / "asset_loop_figures.json").write_text(json.dumps(FIGURES, indent=2))


def test_a_run_with_nothing_to_do_ends_skipped_at_once_with_its_reason(loop):
    with loop.client() as admin:
        loop.wait(lambda: admin.get(f"/api/v2/dags/{DAG}").status_code == 200, "the DAG parsed", 180)
        assert admin.patch(f"/api/v2/dags/{DAG}", json={"is_paused": False}).status_code == 200
    # unpausing starts the first scheduled run: the inbox is empty, so it must end at once
    first = loop.wait(lambda: [r for r in loop.runs() if r["state"] in ("success", "failed")], "a first run")[0]
    tasks = loop.tasks(first["dag_run_id"])
    assert first["run_type"] == "scheduled" and first["state"] == "success"
    assert {ti["state"] for ti in tasks.values()} == {"skipped"}
    queued_to_task = api_epoch(tasks["sense_inbox"]["start_date"]) - api_epoch(first["queued_at"])
    FIGURES["cold_first_run_start_s"] = round(queued_to_task, 2)
    FIGURES["nothing_to_do_run_s"] = round(api_epoch(first["end_date"]) - api_epoch(first["start_date"]), 2)
    assert first["note"].startswith("Skipped: nothing new in the inbox")
    assert _sensor_pokes(loop, first["dag_run_id"]) == 1  # "at once": skipped at its first look, no waiting
    log = next(loop.stack.home.glob(f"logs/dag_id={DAG}/run_id={first['dag_run_id']}/task_id=sense_inbox/*.log"))
    assert "strategy=refit retrains on the labelled store" in log.read_text()


def test_send_batch_starts_a_run_that_learns_the_batch(loop):
    batch, returned = loop.label_and_send(ANNOTATORS[0], 12)
    assert batch["asset_event"], batch  # an annotator's rights (role user) are enough to record it
    run = loop.wait(lambda: next((r for r in loop.runs() if r["run_type"] == "asset_triggered"), None),
                    "an asset-triggered run", 60)
    loop.finished(run["dag_run_id"])
    tasks = loop.tasks(run["dag_run_id"])
    FIGURES["feedback_to_run_s"] = round(api_epoch(tasks["sense_inbox"]["start_date"]) - returned, 2)
    # read once the run has started: Airflow 3.3.2 answers 500 while a run an event created is still queued
    event = next(e for e in loop.events(INBOX) if e["id"] == batch["asset_event"])
    assert event["extra"]["file"] == batch["file"] and event["extra"]["user"] == ANNOTATORS[0]
    assert [r["run_id"] for r in event["created_dagruns"]] == [run["dag_run_id"]]
    assert all(tasks[t]["state"] == "success" for t in ("claim_and_ingest", "embed", "train", "evaluate")), tasks
    batch_id = batch_id_for(run["dag_run_id"])
    ledger = read_json(loop.layout.ledger / f"{batch_id}.json")
    assert ledger["rows_in"] == 12 == ledger["rows_accepted"] + ledger["rows_held"]  # held: likely label errors
    stored = LabelledStore(loop.layout.labelled).read_batch(batch_id)
    assert len(stored) == ledger["rows_accepted"] and set(stored["label"]) <= set(loop.truth.values())
    report = read_json(loop.layout.reports / "runs" / f"{batch_id}.json")
    challenger = report["challenger"]["version"]
    assert challenger and report["archived"] == [f"{batch['file']}.gz"]  # archived compressed
    assert read_json(loop.layout.registry / "versions" / challenger / "card.json")["batch_id"] == batch_id


def test_a_manual_refit_on_an_empty_inbox_trains_at_once_and_its_promotion_records_the_champion(loop):
    before = len(loop.events(CHAMPION))
    run_id, triggered = loop.trigger({"strategy": "refit", "force_promote": True, **SMALL})
    run = loop.finished(run_id)
    tasks = loop.tasks(run_id)
    FIGURES["manual_refit_start_s"] = round(api_epoch(tasks["train"]["start_date"]) - triggered, 2)
    assert run["state"] == "success" and tasks["promote"]["state"] == "success", tasks
    champion = ModelRegistry.of(loop.settings).champion_version()
    card = read_json(loop.layout.registry / "versions" / champion / "card.json")
    trainable = LabelledStore(loop.layout.labelled).trainable()  # every current label outside the recent holdout
    assert card["strategy"] == "refit" and card["new_rows"] == 0 and card["rows_trained"] == len(trainable) > 800
    events = loop.events(CHAMPION)[before:]
    assert len(events) == 1 and (events[0]["source_task_id"], events[0]["source_run_id"]) == ("promote", run_id)
    assert events[0]["extra"]["version"] == champion and events[0]["extra"]["action"] == "promote"
    assert events[0]["extra"]["macro_f1"] == card["metrics"]["macro_f1"]


def test_a_kept_champion_records_no_event_and_a_rollback_does(loop):
    before = loop.events(CHAMPION)
    champion = ModelRegistry.of(loop.settings).champion_version()
    run_id, _ = loop.trigger({"strategy": "refit", "min_improvement": 0.5, **SMALL})
    loop.finished(run_id)
    tasks = loop.tasks(run_id)
    assert tasks["keep_champion"]["state"] == "success" and tasks["promote"]["state"] == "skipped"
    assert loop.events(CHAMPION) == before
    promotions = [r for r in loop.runs() if loop.tasks(r["dag_run_id"]).get("promote", {}).get("state") == "success"]
    assert len([e for e in before if e["source_task_id"] == "promote"]) == len(promotions)

    previous = ModelRegistry.of(loop.settings).history(newest=1)[-1]["previous"]
    with loop.client() as admin:
        back = admin.post("/tweet-sentiment/api/model/rollback", json={"version": previous, "reason": "e2e"})
    assert back.status_code == 200, back.text
    event = loop.events(CHAMPION)[-1]
    assert event["id"] == back.json()["asset_event"]
    assert (event["extra"]["version"], event["extra"]["previous"], event["extra"]["action"]) == (
        previous, champion, "rollback")


def test_a_storm_of_five_sends_is_learnt_once_one_run_at_a_time(loop):
    known = {r["dag_run_id"] for r in loop.runs()}
    with loop.client(ANNOTATORS[0]) as api:
        queue = api.get("/tweet-sentiment/api/queue", params={"limit": 500}).json()["items"]
    clients = [loop.client(user) for user in ANNOTATORS]
    sent_ids = []
    for i, api in enumerate(clients):  # each annotator labels 4 tweets, then all five send within seconds
        for item in queue[4 * i:4 * i + 4]:
            assert api.post("/tweet-sentiment/api/queue/labels",
                            json={"id": item["id"], "label": loop.truth[item["text"]]}).status_code == 200
            sent_ids.append(item["id"])
    sends = [loop.send(clients[0])]  # the first send starts a run; the other four come while it runs
    loop.wait(lambda: [r for r in loop.runs() if r["dag_run_id"] not in known], "the storm's first run", 60)
    sends += [loop.send(api) for api in clients[1:]]
    for api in clients:
        api.close()
    FIGURES["storm_sends_s"] = round(sends[-1][1] - sends[0][1], 2)
    files = [batch["file"] for batch, _ in sends]
    assert all(batch["asset_event"] for batch, _ in sends)
    FIGURES["feedback_to_run_warm_storm_s"] = loop.wait(lambda: _first_task_after(loop, known, sends[0][1]),
                                                        "the storm's first task", 60)
    loop.wait(lambda: loop.idle() and not list(loop.layout.inbox.iterdir()), "the storm to settle")
    storm = [r for r in loop.runs() if r["dag_run_id"] not in known]

    stored = LabelledStore(loop.layout.labelled).read_all(columns=["text_hash"])["text_hash"]
    held = held_rows(loop.layout)["text_hash"]  # rows the label check holds for a person's review
    hashes = pd.concat([stored, held]).str[:16].tolist()
    assert sorted(h for h in hashes if h in set(sent_ids)) == sorted(sent_ids)  # every row once: stored or held
    archived = [p.name.removesuffix(".gz") for p in loop.layout.archive.glob("*/*/feedback-*.csv.gz")]
    assert sorted(f for f in archived if f in files) == sorted(files)  # every file claimed once
    spans = sorted((api_epoch(r["start_date"]), api_epoch(r["end_date"])) for r in loop.runs() if r["start_date"])
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))
    learnt = [r for r in storm if loop.tasks(r["dag_run_id"])["claim_and_ingest"]["state"] == "success"]
    idle = [r for r in storm if r not in learnt]
    assert learnt and all(loop.tasks(r["dag_run_id"])["sense_inbox"]["state"] == "skipped" for r in idle)
    assert all(_sensor_pokes(loop, r["dag_run_id"]) == 1 for r in idle)
    FIGURES.update(storm_runs=len(storm), storm_runs_learning=len(learnt))


def _sensor_pokes(loop: Loop, run_id: str) -> int:
    """How many times the run's sensor (one attempt) looked at the inbox."""
    (log,) = loop.stack.home.glob(f"logs/dag_id={DAG}/run_id={run_id}/task_id=sense_inbox/*.log")
    return log.read_text().count('"event":"Poking callable')


def _first_task_after(loop: Loop, known: set[str], sent: float) -> float | None:
    """Seconds from ``sent`` to the first task of the first new run starting, once it has started."""
    new = [r for r in loop.runs() if r["dag_run_id"] not in known]
    if not new:
        return None
    start = loop.tasks(new[0]["dag_run_id"]).get("sense_inbox", {}).get("start_date")
    return round(api_epoch(start) - sent, 2) if start else None
