"""A person decides ambiguous challengers, under a real Airflow (api-server, scheduler with LocalExecutor,
dag-processor): an ambiguous evaluation of the retrain DAG starts tweet_sentiment_approve, whose request is
visible in the REST API's hitlDetails; "Promote" answered through the REST API promotes and the card names the
approver; an answer after a newer promotion is refused; no answer keeps the champion at the timeout, and a late
answer changes nothing; a retrain run completes while approvals wait.

The unanswered request comes first, from a retrain run whose ``approval_timeout_s`` Param is short: the scheduler
times it out while the two next retrain runs go on, so the test waits for no timeout of its own. Airflow starts
(``db migrate``, api-server, scheduler, dag-processor) while the bootstrap champion is trained.

How the challengers are made ambiguous (``support.ambiguous_batch``, the gate's Params
``support.AMBIGUOUS_PARAMS``: ``min_improvement=-1, significance=1, tolerance=0``, so "better" on a holdout means
only that some bootstrap resample favours the challenger, p < 1): each batch's rows that fall in the recent
holdout are labelled with the champion's own predictions, so on the recent window (45 rows, all from the batch)
the champion is perfect (p = 1, a loss once the two models disagree on one row); the batch's other rows get the
next class's label (people now label differently) and are appended to this module's copy of the fixed holdout,
where the challenger, which learnt them, is favoured. Better on the fixed holdout, worse beyond the tolerance on
the recent one: ambiguous. Should the gate decide otherwise for a batch, the next batch is sent (at most 3;
``retrain_runs`` in the figures).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from support import AMBIGUOUS_PARAMS, TEST_OUTPUT, ambiguous_batch, poll

from benchmarks.airflow_stack import AirflowStack
from benchmarks.reaction import api_epoch
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows, write_rows
from tweet_sentiment.model.boosting import BoostingParams
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.assets import CHAMPION
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle

pytestmark = pytest.mark.e2e
RETRAIN, APPROVE = "tweet_sentiment_retrain", "tweet_sentiment_approve"
APPROVER = "approver"
AMBIGUOUS = {"strategy": "refit", "num_boost_round": 60, **AMBIGUOUS_PARAMS}
# The request left unanswered waits UNANSWERED_S (its retrain run's approval_timeout_s Param), so that it times
# out while the next retrain runs go on; the answered ones wait the setting's TIMEOUT_S, longer than any two
# retrain runs on a busy machine. The scheduler sweeps for timed-out requests every SWEEP_S (default 15 s).
UNANSWERED_S, TIMEOUT_S, SWEEP_S = 20, 900, 2
ENV = {"TWEET_SENTIMENT_APPROVAL_TIMEOUT_S": str(TIMEOUT_S), "TWEET_SENTIMENT_APPROVAL_USERS": APPROVER,
       "TWEET_SENTIMENT_RECENT_WINDOW_ROWS": "45", "TWEET_SENTIMENT_RECENT_WINDOW_MIN_ROWS": "20",
       "AIRFLOW__SCHEDULER__TRIGGER_TIMEOUT_CHECK_INTERVAL": str(SWEEP_S)}
FIGURES: dict[str, float] = {}



@dataclasses.dataclass
class Approvals:
    """The running stack, the data root, and the tweets still to label (header, rows)."""

    stack: AirflowStack
    settings: Settings
    header: list[str]
    rows: list[list[str]]

    @property
    def registry(self) -> ModelRegistry:
        return ModelRegistry.of(self.settings)

    def get(self, path: str, **params: object) -> dict:
        with self.stack.login() as admin:
            resp = admin.get(path, params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def wait(self, done: Callable[[], object], what: str, timeout_s: float = 240) -> object:
        return poll(done, what, timeout_s, 0.5, where=f"; logs in {self.stack.home}")

    def finished(self, dag_id: str, run_id: str) -> dict:
        def done() -> dict | None:
            run = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")
            return run if run["state"] in ("success", "failed") else None
        return self.wait(done, f"run {run_id}")

    def tasks(self, dag_id: str, run_id: str) -> dict[str, dict]:
        found = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")
        return {ti["task_id"]: ti for ti in found["task_instances"]}

    def requests(self) -> list[dict]:
        """Every approval request, oldest first (Airflow's hitlDetails over all runs of the approval DAG)."""
        found = self.get(f"/api/v2/dags/{APPROVE}/dagRuns/~/hitlDetails", limit=100)["hitl_details"]
        return sorted(found, key=lambda d: d["created_at"])

    def retrain(self, count: int, conf: dict) -> tuple[str, dict[str, dict]]:
        """Write a batch made to be ambiguous once the retrain DAG is idle, trigger a retrain run on it with
        ``conf``, wait for its end; (challenger, tasks)."""
        taken, self.rows = ambiguous_batch(self.settings, self.header, self.rows[:count]), self.rows[count:]
        self.wait(self.retrain_idle, "the retrain DAG idle")
        write_rows(self.settings.layout().inbox, f"ambiguous-{time.time_ns()}.csv", self.header, taken)
        with self.stack.login() as admin:
            resp = admin.post(f"/api/v2/dags/{RETRAIN}/dagRuns", json={"logical_date": None, "conf": conf})
        assert resp.status_code == 200, resp.text
        run_id = resp.json()["dag_run_id"]
        assert self.finished(RETRAIN, run_id)["state"] == "success"
        return self._challenger(run_id), self.tasks(RETRAIN, run_id)

    def retrain_idle(self) -> bool:
        """A retrain run ended (the first: the scheduled one unpausing starts, on the empty inbox; the next comes
        in 20 min) and none is queued or running."""
        runs = f"/api/v2/dags/{RETRAIN}/dagRuns"
        return bool(self.get(runs, state=["success", "failed"])["total_entries"]
                    and not self.get(runs, state=["queued", "running"])["total_entries"])

    def ambiguous_run(self, count: int = 400, attempts: int = 3, **conf: object) -> tuple[str, dict]:
        """A retrain run (``AMBIGUOUS`` and ``conf``) whose challenger the gate calls ambiguous (another batch if the
        gate decided otherwise: see the module's docstring); (challenger, its approval request) once the request is
        visible, with approval_request_s measured."""
        known = len(self.requests())
        for _ in range(attempts):
            version, tasks = self.retrain(count, {**AMBIGUOUS, **conf})
            FIGURES["retrain_runs"] = FIGURES.get("retrain_runs", 0) + 1
            if self.registry.card(version)["status"] == "awaiting_approval":
                break
        else:
            raise AssertionError(f"no ambiguous challenger in {attempts} runs: {self.registry.card(version)['reason']}")
        assert tasks["keep_champion"]["state"] == "success" and tasks["promote"]["state"] == "skipped"
        request = self.wait(lambda: self.requests()[known:], "the approval request", 60)[0]
        FIGURES.setdefault("approval_request_s", round(api_epoch(request["created_at"])
                                                      - api_epoch(tasks["evaluate"]["end_date"]), 2))
        return version, request

    def _challenger(self, run_id: str) -> str:
        from tweet_sentiment.intake.claim import batch_id_for
        from tweet_sentiment.storage.fs import read_json

        report = read_json(self.settings.layout().reports / "runs" / f"{batch_id_for(run_id)}.json")
        return report["challenger"]["version"]

    def answer(self, request: dict, option: str, user: str = APPROVER) -> httpx.Response:
        ti = request["task_instance"]
        with self.stack.login(user) as api:
            return api.patch(f"/api/v2/dags/{APPROVE}/dagRuns/{quote(ti['dag_run_id'], safe='')}/taskInstances/"
                             f"{ti['task_id']}/-1/hitlDetails", json={"chosen_options": [option]})

    def champion_events(self) -> list[dict]:
        (found,) = self.get("/api/v2/assets", name_pattern=CHAMPION[0])["assets"]
        return self.get("/api/v2/assets/events", asset_id=found["id"], order_by="timestamp", limit=100)[
            "asset_events"]


@pytest.fixture(scope="module")
def approvals(small_dataset: Path, infinity_url: str, feature_cache: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Approvals]:
    root = tmp_path_factory.mktemp("approvals")
    dataset = shutil.copytree(small_dataset, root / "dataset")  # its fixed holdout grows (see ambiguous_batch)
    with pytest.MonkeyPatch.context() as env:
        for name, value in ENV.items():
            env.setenv(name, value)
        settings = dataclasses.replace(Settings.from_env(), data_root=str(root / "data"),
                                       cache_root=str(feature_cache), dataset_dir=str(dataset),
                                       infinity_url=infinity_url, file_settle_s=0.0)
        header, rows = chronological_rows(settings.train_file)
        stack = AirflowStack(settings, root / "airflow", users={APPROVER: "user"})
        with ThreadPoolExecutor(1) as pool:
            started = pool.submit(stack.__enter__)  # Airflow migrates and starts while the champion is bootstrapped
            try:
                write_rows(settings.layout().inbox, "bootstrap.csv", header, rows[:1000])
                report = run_cycle(settings, "bootstrap", RunOptions(strategy="refit", force_promote=True,
                                                                     boosting=BoostingParams(num_boost_round=60)))
                assert report.decision.promoted, report.decision
                started.result()
                yield _unpaused(Approvals(stack, settings, header, rows[1000:]))
            finally:
                wait([started])
                stack.__exit__(None, None, None)
    TEST_OUTPUT.mkdir(exist_ok=True)
    (TEST_OUTPUT / "approval_figures.json").write_text(json.dumps(FIGURES, indent=2))  # printed by conftest.py


def _unpaused(loop: Approvals) -> Approvals:
    """Both DAGs unpaused once parsed (the retrain DAG's first scheduled run starts, on the empty inbox)."""
    with loop.stack.login() as admin:
        loop.wait(lambda: all(admin.get(f"/api/v2/dags/{d}").status_code == 200 for d in (RETRAIN, APPROVE)),
                  "both DAGs parsed", 180)
        for dag_id in (APPROVE, RETRAIN):
            assert admin.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).status_code == 200
    return loop


def test_approvals_promote_refuse_stale_answers_and_time_out_while_retraining_goes_on(approvals):
    loop, bootstrap = approvals, approvals.registry.champion_version()
    started = time.monotonic()
    # 1. the one left unanswered: its run's short timeout passes while the next retrain runs go on
    unanswered, late = loop.ambiguous_run(approval_timeout_s=UNANSWERED_S)
    # 2. an ambiguous challenger produces a request with both holdouts' figures, for the configured approver
    chosen, request = loop.ambiguous_run()
    assert request["response_received"] is False and [u["id"] for u in request["assigned_users"]] == [APPROVER]
    assert chosen in request["subject"] and "| fixed |" in request["body"] and "| recent |" in request["body"]
    assert "Tweets where the two models disagree" in request["body"]
    # 3. meanwhile a retrain run completes (the approvals wait in their own DAG)
    stale, stale_request = loop.ambiguous_run()
    pending = {d["task_instance"]["dag_run_id"]: d for d in loop.requests() if not d["response_received"]}
    assert {r["task_instance"]["dag_run_id"] for r in (request, stale_request)} <= set(pending)
    assert all(d["task_instance"]["state"] == "awaiting_input" for d in pending.values())
    # 4. "Promote" through the REST API promotes; the card and the history name the approver
    assert loop.answer(request, "Promote").status_code == 200
    run = loop.finished(APPROVE, request["task_instance"]["dag_run_id"])
    assert run["state"] == "success" and loop.tasks(APPROVE, run["dag_run_id"])["promote"]["state"] == "success"
    assert loop.registry.champion_version() == chosen
    card = loop.registry.card(chosen)
    assert card["status"] == "champion" and card["approval"]["by"] == APPROVER
    assert loop.registry.history()[-1]["reason"].startswith(f"approved by {APPROVER}")
    event = loop.champion_events()[-1]
    assert (event["source_dag_id"], event["extra"]["version"], event["extra"]["action"]) == (APPROVE, chosen,
                                                                                             "approve")
    # 5. an answer after that newer promotion is refused, and says why on the card
    assert loop.answer(stale_request, "Promote").status_code == 200
    assert loop.finished(APPROVE, stale_request["task_instance"]["dag_run_id"])["state"] == "success"
    refused = loop.registry.card(stale)
    assert refused["status"] == "rejected" and refused["approval"]["decision"] == "refused"
    assert "the champion changed since the evaluation" in refused["reason"]
    assert loop.registry.champion_version() == chosen
    # 6. no answer: at the timeout the default keeps the champion; a late answer is refused by Airflow
    run = loop.finished(APPROVE, late["task_instance"]["dag_run_id"])
    assert run["state"] == "success" and loop.tasks(APPROVE, run["dag_run_id"])["keep"]["state"] == "success"
    assert loop.registry.card(unanswered)["approval"]["decision"] == "timeout"
    (timed_out,) = [d for d in loop.requests() if d["task_instance"]["dag_run_id"] == run["dag_run_id"]]
    assert timed_out["chosen_options"] == ["Keep champion"] and timed_out["responded_by_user"] is None
    FIGURES["timeout_after_s"] = round(api_epoch(timed_out["responded_at"]) - api_epoch(timed_out["created_at"]), 2)
    assert UNANSWERED_S <= FIGURES["timeout_after_s"] < TIMEOUT_S  # the run's own timeout, not the setting's
    assert loop.answer(late, "Promote").status_code == 409
    assert loop.registry.champion_version() == chosen != bootstrap
    FIGURES["approval_scenario_s"] = round(time.monotonic() - started, 1)
