"""A DAG task's result with the seconds it took (the run reports' timings come from these)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[..., dict]) -> Callable[..., dict]:
    """``fn``'s dict result with ``seconds``: how long it ran."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> dict:
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        return {**result, "seconds": round(time.perf_counter() - start, 3)}
    return wrapper
