"""``python -m benchmarks.scale [--sizes 40000,200000,1000000] [--runs N] [--root DIR] [--stream-sizes S,...]
[--stream-only] [--api-predictions N] [--continued-batches N]`` (`make bench-scale`): progress on stderr, the
figures as one JSON object, the last line printed on stdout. ``--stream-sizes`` (or ``STREAM_SIZES``; ``0``: none)
adds the scored stream's figures (``stream_run.py``); the prediction API's (``prediction.py``) come with the
labelled side's."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmarks.report import log_progress, print_figures
from benchmarks.scale.figures import run_scale
from benchmarks.scale.options import DEFAULT_SIZES, ScaleOptions
from benchmarks.scale.prediction import prediction_figures
from benchmarks.scale.stream import STREAM_SIZES
from benchmarks.scale.stream_run import run_stream_scale
from tweet_sentiment.config import Settings


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale",
                                     description="does a cycle's cost grow with history? The last line printed is "
                                                 "one JSON object")
    parser.add_argument("--sizes", type=_sizes, default=DEFAULT_SIZES,
                        help="labelled rows of each history, comma-separated (multiples of 2,000)")
    parser.add_argument("--runs", type=int, default=ScaleOptions.runs, help="cycles per size (medians)")
    parser.add_argument("--root", type=Path, default=ScaleOptions.root,
                        help="where built histories are kept between runs (default var/bench-scale)")
    parser.add_argument("--stream-sizes", type=_sizes,
                        default=_sizes(os.environ.get("STREAM_SIZES", ",".join(map(str, STREAM_SIZES)))),
                        help="scored tweets of each stream (the scored stream's figures; 0: none)")
    parser.add_argument("--stream-only", action="store_true", help="the scored stream's figures only")
    parser.add_argument("--api-predictions", type=int, default=ScaleOptions.api_predictions,
                        help="predictions through the api-server for api_rss_growth_mb (0: none)")
    parser.add_argument("--continued-batches", type=int, default=ScaleOptions.continued_batches,
                        help="continuations of the champion for predict_p50_ratio_v500 (0: none)")
    args = parser.parse_args(argv)
    streams = tuple(s for s in args.stream_sizes if s)
    log_progress("tweet_sentiment")
    options = ScaleOptions(sizes=args.sizes, runs=args.runs, root=args.root.resolve(),
                           api_predictions=args.api_predictions, continued_batches=args.continued_batches)
    try:
        for rows in options.sizes:
            options.batches(rows)  # a size that is no whole number of batches fails here, before any work
    except ValueError as exc:
        parser.error(str(exc))
    def figures() -> dict:
        labelled = {} if args.stream_only else {**run_scale(Settings.from_env(), options),
                                                 **prediction_figures(Settings.from_env(), options)}
        return {**labelled, **(run_stream_scale(Settings.from_env(), options, streams) if streams else {})}
    return print_figures(figures)


if __name__ == "__main__":
    sys.exit(main())
