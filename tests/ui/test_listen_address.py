"""`make run`'s API server (scripts/api_server.sh after scripts/env.sh) listens on loopback only unless
AIRFLOW_HOST says otherwise: a real `airflow api-server`, its listening socket read from /proc."""

from __future__ import annotations

import os
import subprocess

from support import ROOT, start_server, stop_process_group

from benchmarks.processes import listening_addresses


def test_make_runs_api_server_listens_on_loopback_by_default(airflow_db, tmp_path):
    log = tmp_path / "api-server.log"
    env = {k: v for k, v in os.environ.items() if k not in ("AIRFLOW_HOST", "AIRFLOW__API__HOST")}

    def start(port: int) -> subprocess.Popen:
        with open(log, "wb") as fh:
            return subprocess.Popen(["bash", "-c", "source scripts/env.sh && exec scripts/api_server.sh"],
                                    env={**env, "AIRFLOW_PORT": str(port)}, cwd=ROOT, stdout=fh,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    proc, port = start_server(start, log, "/api/v2/monitor/health", 180)
    try:
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        stop_process_group(proc)
