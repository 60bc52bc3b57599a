"""How much the bench measures, and how its repeated measurements become one figure."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class BenchOptions:
    """How much to measure: runs per figure, texts embedded per run, rows of the cycle's batch, tweets scored and
    the drift check's reference rows."""

    runs: int = 3
    embed_texts: int = 1000
    batch_rows: int = 2000
    predict_calls: int = 50
    predict_batch: int = 256
    score_texts: int = 5000
    drift_reference_rows: int = 20000


def median(values: Sequence[float], digits: int = 3) -> float:
    return round(statistics.median(values), digits)
