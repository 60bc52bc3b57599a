"""What `make bench-scale` measures: the history sizes, the cache folder, runs per figure, the synthetic mix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.options import PROJECT_ROOT

DEFAULT_SIZES = (40_000, 200_000, 1_000_000)


@dataclass(frozen=True)
class ScaleOptions:
    """History sizes (labelled rows), where built histories are cached, cycles per size (medians), and the
    synthetic history's shape: rows per batch, the share of each batch that relabels an earlier text."""

    sizes: tuple[int, ...] = DEFAULT_SIZES
    root: Path = PROJECT_ROOT / "var" / "bench-scale"
    runs: int = 3
    batch_rows: int = 2000
    relabel_fraction: float = 0.05
    seed: int = 25
    api_predictions: int = 100_000  # predictions through the api-server for api_rss_growth_mb (0: not measured)
    continued_batches: int = 500  # continuations of the champion for predict_p50_ratio_v500 (0: not measured)

    def batches(self, rows: int) -> int:
        """Batches of a history of ``rows`` labelled rows."""
        if rows % self.batch_rows or rows < 2 * self.batch_rows:
            raise ValueError(f"a history size must be a multiple of {self.batch_rows} rows, at least two batches; "
                             f"got {rows}")
        return rows // self.batch_rows
