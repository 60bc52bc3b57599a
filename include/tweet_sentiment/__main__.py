"""Command line: ``python -m tweet_sentiment feed | feed-unlabelled | bootstrap [--refit] | status |
quarantine list | quarantine release NAME | migrate | housekeeping [NAME...] | backup DEST | restore SOURCE``
(the quality lab is ``python -m lab``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from tweet_sentiment.config import DatasetMissingError, Settings
from tweet_sentiment.intake.feed import chronological_rows, next_batch, next_unlabelled, write_rows
from tweet_sentiment.intake.quarantine import ReleaseError, quarantined, release
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.api_login import login_from_env
from tweet_sentiment.pipeline.assets import INBOX, STARTS, UNLABELLED, AssetName
from tweet_sentiment.pipeline.backup import copy_root, restore_root
from tweet_sentiment.pipeline.feed_events import record_feed_event
from tweet_sentiment.pipeline.housekeeping import MAINTENANCE, run_maintenance
from tweet_sentiment.pipeline.migrate import migrate
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.storage.fs import as_path, write_json_atomic


def announce(settings: Settings, asset: AssetName, file: str) -> None:
    """Record the asset event of a dropped file (as the service login), and say what starts its DAG."""
    dag_id = STARTS[asset]
    try:
        event, why = record_feed_event(login_from_env(settings.api_conn_id), asset, file)
    except ValueError as exc:  # a malformed connection variable: the file is dropped all the same
        event, why = None, str(exc)
    if event is not None:
        print(f"recorded {asset.name} event {event}: {dag_id} starts now (see its grid in the Airflow UI)")
    else:
        print(f"no {asset.name} event: {why}; {dag_id} takes the file at its next scheduled run")


def feed(settings: Settings, rows: int) -> None:
    """Drop the next chronological batch of the training file into the inbox; record an inbox event."""
    layout = settings.layout()
    layout.ensure()
    path = next_batch(layout, settings.train_file, rows, settings.bootstrap_rows)
    if path is None:
        print("the training file is used up: nothing left to feed")
        return
    print(f"wrote {path}")
    announce(settings, INBOX, path.name)


def feed_unlabelled(settings: Settings, rows: int, source: str | None) -> None:
    """Drop the next chronological chunk of an unlabelled source into the unlabelled inbox; record its event."""
    if source:
        settings = dataclasses.replace(settings, unlabelled_source=source)
    layout = settings.layout()
    layout.ensure()
    path = next_unlabelled(layout, settings.unlabelled_source_file, rows)
    if path is None:
        print(f"{settings.unlabelled_source} is used up: nothing left to feed")
        return
    print(f"wrote {path}")
    announce(settings, UNLABELLED, path.name)


def bootstrap(settings: Settings, refit: bool) -> None:
    """Train the first champion on the first ``bootstrap_rows`` chronological tweets (or refit from the store)."""
    layout = settings.layout()
    layout.ensure()
    registry = ModelRegistry.of(settings)
    if registry.champion_version() and not refit:
        print(f"champion {registry.champion_version()} exists; nothing to do (use --refit to retrain)")
        return
    if not refit:
        header, rows = chronological_rows(settings.train_file)
        write_rows(layout.inbox, f"bootstrap-00000-{settings.bootstrap_rows:05d}.csv", header,
                   rows[:settings.bootstrap_rows])
        if not layout.feed_state.exists():
            write_json_atomic(layout.feed_state, {"offset": settings.bootstrap_rows, "total": len(rows)})
    batch_id = f"bootstrap_{datetime.now(UTC):%Y%m%dT%H%M%S}"
    # The bootstrap file was just written atomically: no need to wait for it to settle.
    options = RunOptions(strategy="refit", force_promote=True)
    report = run_cycle(dataclasses.replace(settings, file_settle_s=0.0), batch_id, options)
    decision = report.decision.to_json() if report.decision else {}
    decision.pop("event", None)
    decision.pop("seconds", None)
    print(json.dumps({"champion": registry.champion_version(), **decision,
                      "macro_f1": (report.evaluation.challenger_metrics or {}).get("macro_f1"),
                      "timings_s": report.timings_s}, indent=2))


def status(settings: Settings) -> None:
    """Print the champion and the versions of the registry."""
    registry = ModelRegistry.of(settings)
    for card in registry.versions():
        print(f"{card['version']}  {card.get('status', '?'):9}  {card['strategy']:8}  "
              f"F1={(card.get('metrics') or {}).get('macro_f1', float('nan')):.4f}  {card.get('reason', '')}")
    print(f"champion: {registry.champion_version()}")


def quarantine(settings: Settings, args: argparse.Namespace) -> None:
    """List what a stream quarantined (files refused whole, rows rejected) with the reasons, or release a file."""
    layout = settings.layout()
    stream = layout.unlabelled_stream if args.stream == "unlabelled" else layout.labelled_stream
    if args.action == "release":
        fixed = Path(args.fixed).read_bytes() if args.fixed else None
        print(f"released {args.name} to the {stream.name} inbox as {release(stream, args.name, fixed)}")
        return
    found = quarantined(stream)
    for q in found:
        where = f"{q.batch_id}/{q.file}" + (f" row {q.row} (line {q.line})" if q.row else " (whole file)")
        print(f"{where}: {q.reason}" + (f"  [released as {q.released_as}]" if q.released_as else ""))
    files = sum(1 for q in found if not q.row and not q.released_as)
    print(f"{stream.name} stream: {files} file(s) quarantined whole and not released, "
          f"{sum(1 for q in found if q.row)} row(s) rejected")


def _quarantine_parser(sub: argparse._SubParsersAction) -> None:
    p_q = sub.add_parser("quarantine", help="list quarantined files and rows with their reasons; release a file")
    p_q.add_argument("action", choices=("list", "release"))
    p_q.add_argument("name", nargs="?", help="release: the quarantined file (<batch id>/<file> if ambiguous)")
    p_q.add_argument("--stream", choices=("labelled", "unlabelled"), default="labelled")
    p_q.add_argument("--fixed", help="release: the fixed file to send (default: the quarantined copy)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tweet_sentiment")
    sub = parser.add_subparsers(dest="command", required=True)
    p_feed = sub.add_parser("feed", help="drop the next chronological batch of labelled tweets into the inbox")
    p_feed.add_argument("--rows", type=int, default=None, help="rows per batch (default: feed_batch_rows)")
    p_unl = sub.add_parser("feed-unlabelled", help="drop the next chronological chunk of unlabelled tweets to score")
    p_unl.add_argument("--rows", type=int, default=None, help="rows per chunk (default: unlabelled_feed_rows)")
    p_unl.add_argument("--source", default=None,
                       help="a file of the dataset folder or a path (default: unlabelled_source, the 2022 file)")
    p_boot = sub.add_parser("bootstrap", help="train the first champion if there is none")
    p_boot.add_argument("--refit", action="store_true", help="retrain a champion from the labelled store")
    sub.add_parser("status", help="show the registry")
    sub.add_parser("migrate", help="convert a data root written by earlier code to today's formats (idempotent)")
    p_house = sub.add_parser("housekeeping", help="compact the history's tables, expire old versions, vacuum")
    p_house.add_argument("names", nargs="*", help="which maintenance (default: all)",
                         choices=[[]] + [m.name for m in MAINTENANCE])
    _quarantine_parser(sub)
    p_backup = sub.add_parser("backup", help="copy the data root to DEST (a folder or s3:// prefix)")
    p_backup.add_argument("dest")
    p_restore = sub.add_parser("restore", help="copy a backup into the (empty) data root; stop the DAGs first")
    p_restore.add_argument("source")
    args = parser.parse_args(argv)
    if args.command == "quarantine" and args.action == "release" and not args.name:
        parser.error("quarantine release needs the NAME of a quarantined file")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    settings = Settings.from_env()
    try:
        if args.command == "feed":
            feed(settings, args.rows or settings.feed_batch_rows)
        elif args.command == "feed-unlabelled":
            feed_unlabelled(settings, args.rows or settings.unlabelled_feed_rows, args.source)
        elif args.command == "bootstrap":
            bootstrap(settings, args.refit)
        elif args.command == "quarantine":
            quarantine(settings, args)
        elif args.command == "migrate":
            migrate(settings, lambda line: print(line, flush=True))
        elif args.command == "backup":
            copy_root(settings.layout().root, as_path(args.dest), lambda line: print(line, flush=True))
        elif args.command == "restore":
            restore_root(as_path(args.source), settings.layout().root, lambda line: print(line, flush=True))
        elif args.command == "housekeeping":
            for name in args.names or [m.name for m in MAINTENANCE]:
                print(json.dumps({name: run_maintenance(settings, name)}), flush=True)
        else:
            status(settings)
    except (DatasetMissingError, ReleaseError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
