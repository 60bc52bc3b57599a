"""A DAG task's result with the seconds it took (the run reports' timings come from these)."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

Result = TypeVar("Result")


def timed(fn: Callable[..., Result]) -> Callable[..., Result]:
    """``fn``'s result with ``seconds``, how long it ran: a dict gets the key, a contract (a frozen dataclass with
    a ``seconds`` field) a copy with the field set."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Result:
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds = round(time.perf_counter() - start, 3)
        if dataclasses.is_dataclass(result) and not isinstance(result, type):
            return dataclasses.replace(result, seconds=seconds)
        return {**result, "seconds": seconds}  # type: ignore[dict-item, return-value]
    return wrapper
