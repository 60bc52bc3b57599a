"""The scoring DAG under a real Airflow (api-server with the plugin, scheduler with LocalExecutor, dag-processor):
unpausing it scores the unlabelled files dropped without an event; a rollback on the model page (the plugin records
a champion event) and a promotion's champion event each start an asset-triggered run that re-scores every tweet
with that champion, and the mood and drift name it.

One stack and one data root for the module: the tests run in file order and build on each other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support import DATASET_DIR, poll

from benchmarks.airflow_stack import AirflowStack
from tweet_sentiment.config import Settings
from tweet_sentiment.intake.claim import batch_id_for
from tweet_sentiment.intake.feed import chronological_rows, write_rows
from tweet_sentiment.model.boosting import BoostingParams
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.monitoring.mood import chart_points
from tweet_sentiment.monitoring.scoring import read_scores
from tweet_sentiment.pipeline.assets import CHAMPION
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.storage.fs import read_json

pytestmark = pytest.mark.e2e
DAG = "tweet_sentiment_score"
TWEETS = 100  # of each 2022-file snapshot


@dataclasses.dataclass
class Scoring:
    stack: AirflowStack
    settings: Settings
    versions: list[str]

    def admin(self) -> httpx.Client:
        return self.stack.login()

    def runs(self) -> list[dict]:
        with self.admin() as api:
            return api.get(f"/api/v2/dags/{DAG}/dagRuns", params={"order_by": "run_after", "limit": 100}
                           ).json()["dag_runs"]

    def wait(self, done: Callable[[], object], what: str, timeout_s: float = 240) -> object:
        return poll(done, what, timeout_s, 1, where=f"; logs in {self.stack.home}")

    def next_run(self, run_type: str, after: int) -> dict:
        """The first run of ``run_type`` after the first ``after`` runs, once finished (its tasks succeeded)."""
        run = self.wait(lambda: next((r for r in self.runs()[after:] if r["run_type"] == run_type
                                      and r["state"] in ("success", "failed")), None), f"a finished {run_type} run")
        assert run["state"] == "success", run
        return run

    def scored_by(self) -> set[str]:
        return set(read_scores(self.settings.layout())["champion_version"])


def champion(settings: Settings, name: str, rows: list[list[str]], header: list[str], strategy: str) -> str:
    """A small champion trained by the same cycle the retrain DAG runs (forced promotion); its version."""
    write_rows(settings.layout().inbox, f"{name}.csv", header, rows)
    report = run_cycle(settings, name, RunOptions(strategy=strategy, force_promote=True,
                                                  boosting=BoostingParams(num_boost_round=60)))
    assert report.decision.promoted, report.decision
    return report.decision.version


@pytest.fixture(scope="module")
def scoring(small_dataset: Path, infinity_url: str, feature_cache: Path, airflow_db: str,
            tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Scoring]:
    root = tmp_path_factory.mktemp("scoring-dag")
    monkeypatch_module.setenv("TWEET_SENTIMENT_DRIFT_WINDOW_ROWS", str(TWEETS))  # read by the stack's tasks
    settings = dataclasses.replace(Settings.from_env(), data_root=str(root / "data"), cache_root=str(feature_cache),
                                   dataset_dir=str(small_dataset), infinity_url=infinity_url, file_settle_s=0.0)
    header, rows = chronological_rows(settings.train_file)
    versions = [champion(settings, "boot", rows[:1000], header, "refit"),
                champion(settings, "more", rows[1000:1300], header, "continue")]
    u_header, u_rows = chronological_rows(DATASET_DIR / "covid_tweets_unlabelled_2022.csv")
    col = u_header.index("TweetAt")
    layout = settings.layout()
    for year in ("2021", "2022"):  # files dropped without an event: the timetable (here, the unpause) takes them
        write_rows(layout.unlabelled, f"snapshot-{year}.csv", u_header,
                   [r for r in u_rows if r[col].startswith(year)][:TWEETS])
    with AirflowStack(settings, root / "airflow") as stack:
        yield Scoring(stack, settings, versions)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_unpausing_scores_the_files_dropped_without_an_event(scoring):
    with scoring.admin() as api:
        scoring.wait(lambda: api.get(f"/api/v2/dags/{DAG}").status_code == 200, "the scoring DAG parsed", 180)
        assert api.patch(f"/api/v2/dags/{DAG}", json={"is_paused": False}).status_code == 200
    scoring.next_run("scheduled", 0)
    assert scoring.scored_by() == {scoring.versions[1]}
    layout = scoring.settings.layout()
    assert len(read_scores(layout)) == 2 * TWEETS
    assert read_json(layout.mood / "mood.json")["champion_version"] == scoring.versions[1]
    drift = read_json(layout.mood / "drift.json")
    assert drift["status"] == "checked" and drift["reference"]["to"].startswith("2021-12-30")
    assert sorted(p.name for p in layout.scoring.glob("archive/*/*/*.csv.gz")) == ["snapshot-2021.csv.gz",
                                                                                      "snapshot-2022.csv.gz"]


def test_a_rollback_on_the_model_page_rescores_with_the_rolled_back_champion(scoring):
    before = len(scoring.runs())
    with scoring.admin() as api:
        back = api.post("/tweet-sentiment/api/model/rollback", json={"version": scoring.versions[0], "reason": "e2e"})
    assert back.status_code == 200 and back.json()["asset_event"], back.text
    run = scoring.next_run("asset_triggered", before)
    assert scoring.scored_by() == {scoring.versions[0]}
    report = read_json(scoring.settings.layout().scoring / "runs" / f"{batch_id_for(run['dag_run_id'])}.json")
    assert report["score"]["rescored_rows"] == 2 * TWEETS and report["score"]["scored_rows"] == 0
    assert report["drift"]["reference"] == "stream"


def test_a_promotions_champion_event_rescores_with_the_new_champion(scoring):
    before = len(scoring.runs())
    registry = ModelRegistry.of(scoring.settings)
    registry.promote(scoring.versions[1], "e2e: promoted again", expected=registry.champion_version())
    with scoring.admin() as api:  # what the retrain DAG's promote task records through its alias
        (asset,) = api.get("/api/v2/assets", params={"name_pattern": CHAMPION.name}).json()["assets"]
        event = api.post("/api/v2/assets/events", json={"asset_id": asset["id"],
                                                        "extra": {"version": scoring.versions[1]}})
    assert event.status_code == 200, event.text
    scoring.next_run("asset_triggered", before)
    assert scoring.scored_by() == {scoring.versions[1]}
    mood = read_json(scoring.settings.layout().mood / "mood.json")
    assert sorted(mood["versions"]) == sorted(scoring.versions)  # each version's counts are kept
    assert {p["champion_version"] for p in chart_points(mood, scoring.versions[1])} == {scoring.versions[1]}
    assert {c["version"]: c["share"] for c in mood["coverage"]}[scoring.versions[1]] == 1.0
