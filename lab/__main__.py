"""``python -m lab`` (``make quality``): stream the training file through the product's own cycle, continued vs
refit champions, in a scenario; its last line is one JSON object."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable

from lab.mood_shift import ShiftOptions, mood_shift
from lab.noisy import noisy_stream
from lab.policies import HOLDOUTS, both_holdouts
from lab.scenarios import POLICIES
from lab.stream import QualityOptions, stream
from tweet_sentiment.config import DatasetMissingError, Settings
from tweet_sentiment.label_check.teaching import TeachingWeights


def _teaching(text: str | None) -> TeachingWeights:
    return TeachingWeights(*(float(x) for x in text.split(","))) if text else TeachingWeights()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description="the quality lab: a stream of batches through "
                                     "the product's cycle; last line JSON")
    parser.add_argument("--max-batches", type=int, default=None, help="stop after this many batches")
    parser.add_argument("--scenario", default="plain", choices=["plain", "policy", *POLICIES, "noisy", "mood-shift"],
                        help="plain: the Kaggle labels; policy: each policy in turn (annotators relabel a topic from "
                             "a batch on), scored on its annotators' holdout; a policy's name: that policy's stream "
                             "beside a refit and a plain one; noisy: 10 %% of labels flipped at random, the label "
                             "check on and off; mood-shift: the training file as an unlabelled stream, a burst of "
                             "negative tweets about one topic, the mood alerts' delay and false-alarm rate "
                             "(docs/mood-alerts.md)")
    parser.add_argument("--policies", default=None,
                        help=f"policy: a comma-separated subset of {','.join(POLICIES)} (default: all)")
    parser.add_argument("--flagged-rows", default="hold", choices=["hold", "down_weight", "off"],
                        help="the label check's Param flagged_rows for the plain and policy streams")
    parser.add_argument("--flip-seeds", type=int, default=QualityOptions.flip_seeds,
                        help="noisy: how many seeds of the flips (the clean stream runs once)")
    parser.add_argument("--shuffles", type=int, default=ShiftOptions.shuffles,
                        help="mood-shift: how many replays in shuffled day order (the false-alarm rate)")
    parser.add_argument("--workers", type=int, default=ShiftOptions.workers,
                        help="mood-shift: shuffled replays run at once (each in its own process)")
    parser.add_argument("--teaching-weights", default=None, metavar="CORRECTION,SUPERSEDING,SYSTEMATIC[,OUTDATED]",
                        help="the multipliers of the rows that teach (label_check.teaching; 1,1,1: none) and of "
                             "the older rows a systematic correction contradicts (default 0: left out; 1: as others)")
    parser.add_argument("--holdout", default="both", choices=HOLDOUTS,
                        help="policy (or a policy's name): team: the team re-annotates the fixed-holdout tweets "
                             "the label check queues (the gate's holdout follows the team); old: it keeps its old "
                             "labels; both (policy's default: the two runs in turn; a policy's name: old)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    settings = Settings.from_env()
    if args.scenario == "mood-shift":
        return _print(lambda: mood_shift(settings, ShiftOptions(shuffles=args.shuffles, workers=args.workers)))
    options = QualityOptions(settings.bootstrap_rows, settings.feed_batch_rows, args.max_batches,
                             "plain" if args.scenario == "noisy" else args.scenario, args.flagged_rows,
                             args.flip_seeds, _teaching(args.teaching_weights), args.holdout == "team")
    if args.scenario == "policy":
        names = args.policies.split(",") if args.policies else None
        return _print(lambda: both_holdouts(settings, options, names, args.holdout))
    run = noisy_stream if args.scenario == "noisy" else stream
    return _print(lambda: run(settings, options))


def _print(run: Callable[[], dict]) -> int:
    """Print the scenario's figures as one JSON line (an error naming the missing dataset instead)."""
    try:
        print(json.dumps(run()))
    except DatasetMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
