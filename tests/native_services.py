"""Servers the production topology needs, started natively for a test (no Docker engine here): PostgreSQL and
Redis from Debian packages (scripts/test_deps.sh), an S3 API from PyPI's moto. Each runs on a free loopback port
in a folder of its own and is stopped when its context ends.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from s3fs import S3FileSystem
from support import free_port, poll, start_server, stop_process_group
from upath import UPath

# moto accepts any credentials unless told otherwise; these are the ones the tests hand to s3fs.
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "topology-test", "AWS_SECRET_ACCESS_KEY": "topology-secret",
                  "AWS_DEFAULT_REGION": "us-east-1"}


def binary(name: str, package: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None)
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/test_deps.sh (Debian package {package})")
    return found


def run(cmd: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result


@contextlib.contextmanager
def postgres_server(max_connections: int = 50) -> Iterator[str]:
    """A PostgreSQL server of its own on 127.0.0.1 (as the postgres user when the tests run as root); its
    SQLAlchemy URL (database ``airflow``, user ``airflow``)."""
    base = Path(tempfile.mkdtemp(prefix="tweet-sentiment-pg-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(base, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", free_port()
    pg_ctl = binary("pg_ctl", "postgresql")
    run([*as_owner, binary("initdb", "postgresql"), "-D", str(data), "-U", "airflow", "--auth=trust", "-E", "UTF8"])
    run([*as_owner, pg_ctl, "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60",
         "-o", f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c max_connections={max_connections}", "start"])
    try:
        run([binary("createdb", "postgresql"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "airflow"])
        yield f"postgresql+psycopg2://airflow@127.0.0.1:{port}/airflow"
    finally:
        subprocess.run([*as_owner, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True,
                       timeout=60)
        shutil.rmtree(base, ignore_errors=True)


class RedisServer:
    """redis-server on a loopback port, without persistence (a restart loses queued messages, as a crash would)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(
                [binary("redis-server", "redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        cli = [binary("redis-cli", "redis-server"), "-p", str(self.port), "ping"]
        poll(lambda: subprocess.run(cli, capture_output=True, text=True).stdout.strip() == "PONG",
             f"redis-server on port {self.port}", 30, where=f"; see {self.folder / 'redis.log'}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)
            self.proc = None


class MotoS3:
    """moto's S3 API (PyPI moto[server]) on a loopback port, serving one request at a time (tests/moto_s3_server.py);
    ``outage(True)`` makes it answer 503 to everything until ``outage(False)``."""

    def __init__(self, folder: Path, server_env: dict[str, str] | None = None) -> None:
        self.folder, self.port, self.server_env = folder, free_port(), server_env or {}
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / "moto.log"

        def launch(port: int) -> subprocess.Popen:
            with open(log, "ab") as out:
                return subprocess.Popen([sys.executable, str(Path(__file__).with_name("moto_s3_server.py")), str(port),
                                         str(self.outage_flag)], stdout=out, stderr=subprocess.STDOUT,
                                        env={**os.environ, **self.server_env}, start_new_session=True)

        self.proc, self.port = start_server(launch, log, "/moto-api/", 60, port=self.port)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)
            self.proc = None

    @property
    def outage_flag(self) -> Path:
        return self.folder / "outage"

    def outage(self, on: bool) -> None:
        """Answer every S3 request with 503 SlowDown (``on``), or serve again."""
        if on:
            self.outage_flag.touch()
        else:
            self.outage_flag.unlink(missing_ok=True)

    def env(self) -> dict[str, str]:
        """What s3fs (botocore) needs to reach this server: the endpoint and the credentials."""
        return {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}


@contextlib.contextmanager
def running(server: RedisServer | MotoS3) -> Iterator[RedisServer | MotoS3]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def s3_with_bucket(folder: Path, bucket: str) -> Iterator[MotoS3]:
    """A moto S3 server holding ``bucket``, its endpoint and credentials in this process's environment (s3fs's
    cached clients of an earlier server dropped, before and after)."""
    S3FileSystem.clear_instance_cache()
    with running(MotoS3(folder)) as server, pytest.MonkeyPatch.context() as mp:
        for name, value in server.env().items():
            mp.setenv(name, value)
        UPath(f"s3://{bucket}").fs.mkdir(bucket)
        yield server
    S3FileSystem.clear_instance_cache()
