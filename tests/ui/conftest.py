"""A real Airflow API server with the tweet-sentiment plugin, over a data root holding a bootstrapped champion.

Session-scoped: one bootstrap (real infinity, real slice of the dataset), then one `airflow api-server` process
per auth manager, shared by the API and browser tests, which run under each: the SimpleAuthManager of `make run`
and the FAB auth manager of production (its own metadata DB and copy of the data root). The same users under both
(``admin``, the two annotators ``anna`` and ``ben`` of role ``user``, ``viewer`` of role ``viewer`` and
``operator`` of role ``op``; FAB's Admin, User, Viewer and Op), random passwords; overlap on between the
annotators.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support import DATASET_DIR, ROOT, poll, start_server, stop_process_group, write_slice

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import chronological_rows, write_rows
from tweet_sentiment.model.boosting import BoostingParams
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.storage.fs import DataLayout

UNLABELLED = "covid_tweets_unlabelled_2022.csv"
PLUGIN_PREFIX = "/tweet-sentiment"
BOOTSTRAP_ROWS = 1000
ANNOTATORS = ("anna", "ben")  # TWEET_SENTIMENT_ANNOTATORS of the server: overlap on, admin not among them
ROLES = {"admin": "admin", **dict.fromkeys(ANNOTATORS, "user"), "viewer": "viewer", "operator": "op"}
AUTH_MANAGERS = {  # the simple one of `make run`, FAB of production (docker-compose.yml)
    "simple": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    "fab": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
}
FAB_ROLES = {"admin": "Admin", "user": "User", "viewer": "Viewer", "op": "Op"}  # the simple roles' FAB names
FAB_ADD_USERS = """
import json, sys
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
with get_application_builder() as appbuilder:
    sm = appbuilder.sm
    sm.sync_roles()  # FAB's default roles (Admin, Op, User, Viewer, Public) with their permissions
    for name, (role, password) in json.loads(sys.argv[1]).items():
        assert sm.add_user(name, name, "test", f"{name}@example.org", sm.find_role(role), password), name
"""


@dataclass(frozen=True)
class UiServer:
    """The running API server, its login and the data root it serves."""

    url: str
    username: str
    password: str
    settings: Settings
    passwords: dict[str, str] = dataclasses.field(default_factory=dict)  # every user's
    auth_manager: str = "simple"  # a key of AUTH_MANAGERS
    before_roles: dict[str, int] = dataclasses.field(default_factory=dict)  # FAB: statuses before fab_roles ran

    @property
    def data_root(self) -> Path:
        return Path(self.settings.data_root)

    def token(self, user: str | None = None) -> str:
        """A JWT from Airflow's own login endpoint (the same one the UI's login form calls); admin's by default."""
        user = user or self.username
        resp = httpx.post(f"{self.url}/auth/token", json={"username": user, "password": self.passwords[user]},
                          timeout=30)
        assert resp.status_code == 201, resp.text
        return resp.json()["access_token"]

    def client(self, token: str | None = None, user: str | None = None) -> httpx.Client:
        """An HTTP client for the plugin's routes, logged in as ``user`` (admin) unless ``token`` is empty; it
        sends ``X-Requested-With`` as any client of the plugin's API must for a write that is not JSON."""
        token = self.token(user) if token is None else token
        headers = {"X-Requested-With": "tests", **({"Authorization": f"Bearer {token}"} if token else {})}
        return httpx.Client(base_url=f"{self.url}{PLUGIN_PREFIX}", headers=headers, timeout=120)


@pytest.fixture(scope="session")
def ui_dataset(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small labelled slices plus the first 400 tweets of the real unlabelled 2022 file."""
    source = DATASET_DIR / UNLABELLED
    if not source.is_file():
        pytest.fail(f"{source} is missing: the labelling queue's default source (see ../shared/data/README.md)")
    folder = tmp_path_factory.mktemp("ui-dataset")
    for name in ("Corona_NLP_train.csv", "Corona_NLP_test.csv"):
        shutil.copy(small_dataset / name, folder / name)
    write_slice(source, folder / UNLABELLED, 400)
    return folder


@pytest.fixture(scope="session")
def ui_settings(ui_dataset: Path, infinity_url: str, feature_cache: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a data root with a small champion trained by the real cycle on the first 1,000 tweets (each
    API server works on a copy of it: what the tests under one auth manager change stays out of the other's)."""
    data_root = tmp_path_factory.mktemp("ui-data")
    settings = dataclasses.replace(Settings.from_env(), data_root=str(data_root), dataset_dir=str(ui_dataset),
                                   cache_root=str(feature_cache), infinity_url=infinity_url, file_settle_s=0.0)
    header, rows = chronological_rows(settings.train_file)
    write_rows(DataLayout(data_root).inbox, "bootstrap.csv", header, rows[:BOOTSTRAP_ROWS])
    small = RunOptions(strategy="refit", force_promote=True, boosting=BoostingParams(num_boost_round=60))
    report = run_cycle(settings, "ui_bootstrap", small)
    assert report.decision.promoted, report.decision
    return settings


def server_env(manager: str, home: Path, settings: Settings, passwords: dict[str, str], port: int) -> dict:
    """The API server's environment under ``manager`` ("simple": users from the environment and the passwords
    file; "fab": users in the FAB tables of its own metadata DB under ``home``)."""
    env = {
        **os.environ,
        "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGERS[manager],
        "TWEET_SENTIMENT_ANNOTATORS": ",".join(ANNOTATORS),
        "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        "TWEET_SENTIMENT_DATA_ROOT": settings.data_root,
        "TWEET_SENTIMENT_DATASET_DIR": settings.dataset_dir,
        "TWEET_SENTIMENT_CACHE_ROOT": settings.cache_root,
        "INFINITY_URL": settings.infinity_url,
    }
    if manager == "simple":
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = ",".join(f"{u}:{role}" for u, role in ROLES.items())
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(home / "passwords.json")
    else:
        # FAB limits logins per client address (5 per 40 s by default); the browser tests log several users in
        # and out from one address within seconds, so the limit stays on but wider here
        env["AIRFLOW__FAB__AUTH_RATE_LIMIT"] = "100 per 40 second"
        env.update({"AIRFLOW_HOME": str(home),
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                    "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])})
    return env


def run_airflow_python(env: dict, *args: str) -> str:
    """Run the venv's Python (``-c`` code or ``-m`` module) in ``env``; its output (a failure fails the test)."""
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), *args], env=env, capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        pytest.fail(f"{args[:2]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def prepare_fab_db(env: dict, passwords: dict[str, str]) -> None:
    """A fresh metadata DB with FAB's tables, its default roles and one user per entry of ``ROLES``."""
    run_airflow_python(env, "-m", "airflow", "db", "migrate")
    users = {user: [FAB_ROLES[role], passwords[user]] for user, role in ROLES.items()}
    run_airflow_python(env, "-c", FAB_ADD_USERS, json.dumps(users))


def probe(url: str, passwords: dict[str, str]) -> dict[str, int]:
    """The status each user gets for the plugin's labels API (what a page loads first)."""
    server = UiServer(url, "admin", passwords["admin"], Settings(), passwords)
    statuses = {}
    for user in ROLES:
        with server.client(user=user) as client:
            statuses[user] = client.get("api/labels").status_code
    return statuses


@pytest.fixture(scope="session", params=list(AUTH_MANAGERS))
def ui_server(request: pytest.FixtureRequest, ui_settings: Settings, airflow_db: str,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """`airflow api-server` (the plugin loaded from plugins/) on a free port, under each auth manager in turn:
    Airflow's SimpleAuthManager, then the FAB auth manager production uses (on its own metadata DB), each on its
    own copy of the bootstrapped data root. Under FAB the statuses users got before the documented roles command
    (``python -m tweet_sentiment_ui.fab_roles``) ran are kept in ``before_roles``."""
    manager = request.param
    home = tmp_path_factory.mktemp(f"ui-airflow-{manager}")
    settings = dataclasses.replace(ui_settings, data_root=str(home / "data"))
    shutil.copytree(ui_settings.data_root, settings.data_root)
    passwords = {user: secrets.token_hex(8) for user in ROLES}
    (home / "passwords.json").write_text(json.dumps(passwords))
    shared = {"AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32), "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32)}
    if manager == "fab":
        prepare_fab_db(server_env(manager, home, settings, passwords, 0), passwords)
    log = home / "api-server.log"

    def start(port: int) -> subprocess.Popen:
        with open(log, "wb") as fh:
            return subprocess.Popen([str(ROOT / ".venv" / "bin" / "airflow"), "api-server", "--port", str(port)],
                                    env={**server_env(manager, home, settings, passwords, port), **shared},
                                    stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, cwd=home)

    proc, port = start_server(start, log, "/api/v2/monitor/health", 180)
    url = f"http://localhost:{port}"
    try:
        before = {}
        if manager == "fab":
            before = probe(url, passwords)
            env = server_env(manager, home, settings, passwords, port)
            run_airflow_python(env, "-m", "tweet_sentiment_ui.fab_roles")  # the command docs/production.md names
            # a running server keeps each user (and their permissions) for [fab] cache_ttl, 30 s by default
            poll(lambda: set(probe(url, passwords).values()) == {200}, "the roles' permissions to apply", 120, 2)
        yield UiServer(url, "admin", passwords["admin"], settings, passwords, manager, before)
    finally:
        stop_process_group(proc)


@pytest.fixture(scope="session")
def plugin_app():
    """The plugin's FastAPI app as Airflow loads it from plugins/ (the one the API server mounts)."""
    from airflow import plugins_manager

    apps, _ = plugins_manager.get_fastapi_plugins()
    (app,) = [entry["app"] for entry in apps if entry["url_prefix"] == PLUGIN_PREFIX]
    return app
