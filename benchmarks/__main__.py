"""``python -m benchmarks [--runs N] [--batch-rows N] [--embed-texts N] [--score-texts N]`` (`make bench`):
progress on stderr as it goes, the figures as one JSON object, the last line printed on stdout."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from benchmarks.options import BenchOptions
from benchmarks.run import bench
from tweet_sentiment.config import DatasetMissingError, Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description="measure the speed figures; the last line printed is one JSON object")
    parser.add_argument("--runs", type=int, default=BenchOptions.runs, help="runs per figure (medians)")
    parser.add_argument("--batch-rows", type=int, default=BenchOptions.batch_rows, help="tweets in the cycle's batch")
    parser.add_argument("--embed-texts", type=int, default=BenchOptions.embed_texts, help="tweets per embedding run")
    parser.add_argument("--score-texts", type=int, default=BenchOptions.score_texts,
                        help="uncached unlabelled tweets scored (issue 16)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    options = BenchOptions(runs=args.runs, batch_rows=args.batch_rows, embed_texts=args.embed_texts,
                           score_texts=args.score_texts)
    try:
        figures = bench(Settings.from_env(), options)
    except DatasetMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
