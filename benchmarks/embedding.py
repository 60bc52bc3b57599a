"""Embedding speed: through infinity with the pipeline's client, and sentence-transformers in-process for comparison."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.options import PROJECT_ROOT, median
from benchmarks.processes import cpu_s
from tweet_sentiment.model.infinity import InfinityClient

log = logging.getLogger(__name__)
IN_PROCESS_SCRIPT = Path(__file__).with_name("in_process_embed.py")


def measure_embedding(client: InfinityClient, texts: list[str], runs: int, server_pid: int | None) -> dict:
    """Tweets/s through infinity (nothing cached), and the server's CPU time per tweet when its pid is known."""
    log.info("embedding %d tweets through infinity, %d run(s)", len(texts), runs)
    client.embed(texts[:64])
    rates, cpu_ms = [], []
    for _ in range(runs):
        cpu0 = cpu_s(server_pid) if server_pid else 0.0
        start = time.perf_counter()
        client.embed(texts)
        rates.append(len(texts) / (time.perf_counter() - start))
        if server_pid:
            cpu_ms.append(1000 * (cpu_s(server_pid) - cpu0) / len(texts))
    return {"embed_per_s": median(rates, 1), "embed_per_s_runs": [round(r, 1) for r in rates],
            "embed_server_cpu_ms_per_tweet": median(cpu_ms, 2) if cpu_ms else None}


def measure_in_process_embedding(texts: list[str], runs: int, batch_sizes: Sequence[int] = (8, 32)) -> float | None:
    """Tweets/s of sentence-transformers in-process on the same model (infinity's venv), at its best batch size
    (median of ``runs`` for each), or None if that venv is absent."""
    python = Path(os.environ.get("INFINITY_VENV", PROJECT_ROOT / ".venv-infinity")) / "bin" / "python"
    if not python.exists():
        return None
    log.info("embedding %d tweets with sentence-transformers in-process (batch sizes %s)", len(texts),
             list(batch_sizes))
    # -I: the script's folder (this package) is not put on sys.path, so its modules shadow nothing
    result = subprocess.run([str(python), "-I", str(IN_PROCESS_SCRIPT)], capture_output=True, text=True,
                            timeout=1800, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                            input=json.dumps({"texts": texts, "runs": runs, "batch_sizes": list(batch_sizes)}))
    if result.returncode != 0:
        raise RuntimeError(f"in-process sentence-transformers failed:\n{result.stderr[-2000:]}")
    return max(median(rates, 1) for rates in json.loads(result.stdout.strip().splitlines()[-1]).values())
