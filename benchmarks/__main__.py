"""``python -m benchmarks [--runs N] [--batch-rows N] [--embed-texts N] [--score-texts N]`` (`make bench`):
progress on stderr as it goes, the figures as one JSON object, the last line printed on stdout."""

from __future__ import annotations

import argparse
import sys

from benchmarks.options import BenchOptions
from benchmarks.report import log_progress, print_figures
from benchmarks.run import bench
from tweet_sentiment.config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description="measure the speed figures; the last line printed is one JSON object")
    parser.add_argument("--runs", type=int, default=BenchOptions.runs, help="runs per figure (medians)")
    parser.add_argument("--batch-rows", type=int, default=BenchOptions.batch_rows, help="tweets in the cycle's batch")
    parser.add_argument("--embed-texts", type=int, default=BenchOptions.embed_texts, help="tweets per embedding run")
    parser.add_argument("--score-texts", type=int, default=BenchOptions.score_texts,
                        help="uncached unlabelled tweets scored (issue 16)")
    args = parser.parse_args(argv)
    log_progress()
    options = BenchOptions(runs=args.runs, batch_rows=args.batch_rows, embed_texts=args.embed_texts,
                           score_texts=args.score_texts)
    return print_figures(lambda: bench(Settings.from_env(), options))


if __name__ == "__main__":
    sys.exit(main())
