"""scripts/start_infinity.sh serves the ONNX (optimum) engine by default, and its vectors are the torch engine's.

The optimum engine silently pools the CLS token unless told otherwise (cosine 0.49 to the right vectors), so the
two real servers are compared on real tweets, not just checked for shape.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from support import ROOT, free_port, start_infinity, stop_process_group, wait_http

from tweet_sentiment.config import Settings
from tweet_sentiment.model.infinity import InfinityClient
from tweet_sentiment.pipeline.resources import fixed_holdout

MODEL = os.environ.get("INFINITY_MODEL", "all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One real server per engine: torch chosen explicitly, optimum by default (no INFINITY_ENGINE)."""
    logs = tmp_path_factory.mktemp("engines")
    started: dict[str, tuple[subprocess.Popen, str]] = {}
    try:
        for engine, choice in (("torch", "torch"), ("default", "")):  # empty: the script's default
            port = free_port()
            proc = start_infinity(port, logs / f"{engine}.log", {"INFINITY_ENGINE": choice})
            started[engine] = (proc, f"http://127.0.0.1:{port}")
        for engine, (proc, url) in started.items():
            wait_http(f"{url}/health", 300, proc, logs / f"{engine}.log")
        yield {engine: url for engine, (_, url) in started.items()}
    finally:
        for proc, _ in started.values():
            stop_process_group(proc)


def _backend(url: str) -> str:
    models = httpx.get(f"{url}/models", timeout=10).json()["data"]
    return next(m["backend"] for m in models if m["id"] == MODEL)


def test_default_engine_is_onnx_and_explicit_torch_is_torch(servers: dict[str, str]) -> None:
    assert _backend(servers["default"]) == "optimum"
    assert _backend(servers["torch"]) == "torch"


def test_onnx_vectors_match_torch_vectors(servers: dict[str, str], small_dataset: Path) -> None:
    texts = fixed_holdout(dataclasses.replace(Settings.from_env(), dataset_dir=str(small_dataset))).texts
    texts = [*texts[:300], "ok", "😷 #StayHome!!! 🙏", "Ünïcödé prices ↑ 300 %", "word " * 200]
    vectors = {}
    for engine, url in servers.items():
        with InfinityClient(url, MODEL, batch_size=64) as client:
            vectors[engine] = client.embed(texts)
    onnx, torch = vectors["default"], vectors["torch"]
    assert onnx.shape == torch.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-4)
    cosine = (onnx * torch).sum(axis=1) / np.linalg.norm(onnx, axis=1) / np.linalg.norm(torch, axis=1)
    worst = int(cosine.argmin())
    assert cosine.min() >= 0.999, f"cosine {cosine.min():.4f} on {texts[worst]!r}"


def test_unknown_engine_is_refused_with_a_clear_message() -> None:
    result = subprocess.run([str(ROOT / "scripts" / "start_infinity.sh")], capture_output=True, text=True,
                            env={**os.environ, "INFINITY_ENGINE": "tensorflow", "INFINITY_PORT": "1"}, timeout=120)
    assert result.returncode == 2
    assert "INFINITY_ENGINE must be optimum or torch" in result.stderr
