"""``python -m lab`` (``make quality``): stream the training file through the product's own cycle, continued vs
refit champions, in a scenario; its last line is one JSON object."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from lab.noisy import noisy_stream
from lab.scenarios import POLICIES
from lab.stream import QualityOptions, stream
from tweet_sentiment.config import DatasetMissingError, Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description="the quality lab: a stream of batches through "
                                     "the product's cycle; last line JSON")
    parser.add_argument("--max-batches", type=int, default=None, help="stop after this many batches")
    parser.add_argument("--scenario", default="plain", choices=["plain", *POLICIES, "noisy"],
                        help="plain: the Kaggle labels; policy: annotators relabel a topic from a batch on; "
                             "noisy: 10 %% of labels flipped at random, the label check on and off")
    parser.add_argument("--flagged-rows", default="hold", choices=["hold", "down_weight", "off"],
                        help="the label check's Param flagged_rows for the plain and policy streams")
    parser.add_argument("--flip-seeds", type=int, default=QualityOptions.flip_seeds,
                        help="noisy: how many seeds of the flips (the clean stream runs once)")
    parser.add_argument("--no-reannotation", action="store_true",
                        help="policy: the fixed holdout keeps its old labels (the team re-annotates nothing)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    settings = Settings.from_env()
    options = QualityOptions(settings.bootstrap_rows, settings.feed_batch_rows, args.max_batches,
                             "plain" if args.scenario == "noisy" else args.scenario, args.flagged_rows,
                             args.flip_seeds, not args.no_reannotation)
    run = noisy_stream if args.scenario == "noisy" else stream
    try:
        print(json.dumps(run(settings, options)))
    except DatasetMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
