"""``python -m tweet_sentiment migrate``: convert a data root written by earlier code to today's formats.

Each converter is one named function of the settings and a progress printer, idempotent (a second run, or a run
after a crash, finishes what the first left and changes nothing else) and removing an old file only after its
content is committed in the new format. To add one, write ``def convert_x(settings, progress) -> dict`` and add
``Converter("x", convert_x)`` to :data:`CONVERTERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from upath import UPath

from tweet_sentiment.config import Settings
from tweet_sentiment.labelling.migrate import migrate_labelling
from tweet_sentiment.model.registry_migration import migrate_registry
from tweet_sentiment.monitoring.stream_migration import migrate_scored_stream
from tweet_sentiment.storage.archive import SUFFIX, archive_file
from tweet_sentiment.storage.fs import is_hidden, list_dir
from tweet_sentiment.storage.labelled_store import LabelledStore, with_defaults
from tweet_sentiment.storage.vector_migration import migrate_vectors

Progress = Callable[[str], None]
BATCHES_PER_COMMIT = 50  # old batch files appended to the Delta table per commit


@dataclass(frozen=True)
class Converter:
    """One part of the data root to convert: ``convert(settings, progress)`` → what it did."""

    name: str
    convert: Callable[[Settings, Progress], dict]


def old_batch_files(folder: UPath) -> list[UPath]:
    """The labelled store's files as earlier code wrote them: ``<batch_id>.parquet``, one per batch (not the
    Delta table's ``part-*`` data files)."""
    return [p for p in list_dir(folder) if p.suffix == ".parquet" and not is_hidden(p)
            and not p.name.startswith("part-")]


def convert_labelled_rows(settings: Settings, progress: Progress) -> dict:
    """The folder of ``<batch_id>.parquet`` files → the labelled Delta table, some batches per commit (rows as
    they were: labels, supersession order, holdout flags; columns a file lacks get their defaults); each file
    removed once its rows are committed."""
    folder = settings.layout().labelled
    files = old_batch_files(folder)
    store = LabelledStore(folder)
    stored = set(store.batch_ids()) if files else set()
    rows = batches = 0
    for start in range(0, len(files), BATCHES_PER_COMMIT):
        chunk = files[start:start + BATCHES_PER_COMMIT]
        frames = [_old_batch(path) for path in chunk if path.stem not in stored]  # else: committed by a crashed run
        if frames:
            store.append_batches(pd.concat(frames, ignore_index=True))
        for path in chunk:
            path.unlink()
        rows, batches = rows + sum(len(f) for f in frames), batches + len(chunk)
        progress(f"labelled rows: {batches}/{len(files)} batch files converted ({rows:,} rows)")
    return {"batch_files": len(files), "rows": rows, "version": store.version()}


def _old_batch(path: UPath) -> pd.DataFrame:
    with path.open("rb") as fh:
        frame = pd.read_parquet(fh)
    return with_defaults(frame).assign(batch_id=path.stem)  # a file from before a column existed: its default


def convert_archive(settings: Settings, progress: Progress) -> dict:
    """Compress the archived files earlier code left uncompressed (as archiving does now)."""
    layout, compressed = settings.layout(), 0
    for archive in (layout.labelled_stream.archive, layout.unlabelled_stream.archive):
        for day in list_dir(archive):
            for batch in list_dir(day):
                for path in list_dir(batch):
                    if path.is_file() and not path.name.endswith(SUFFIX) and not is_hidden(path):
                        archive_file(path, batch)
                        compressed += 1
            progress(f"archive: {day.name} done ({compressed} files compressed so far)")
    return {"files_compressed": compressed}


def convert_vectors(settings: Settings, _progress: Progress) -> dict:
    """The feature cache's npz shards → a Lance dataset per namespace (progress through the log)."""
    return {"vectors_by_namespace": migrate_vectors(settings.layout().embeddings)}


def convert_registry(settings: Settings, _progress: Progress) -> dict:
    """``champion.json`` and the cards → the registry's index and pointer in the state database."""
    return migrate_registry(settings.layout(), settings.state_db)


def convert_labelling(settings: Settings, _progress: Progress) -> dict:
    """The labelling queue's JSON files → its tables in the state database."""
    return migrate_labelling(settings.layout(), settings.state_db)


def convert_scored_stream(settings: Settings, _progress: Progress) -> dict:
    """The scoring stream's per-batch rows and scores → the stream's tables (counts rebuilt from the scores)."""
    return migrate_scored_stream(settings.layout(), settings.embedding_model)


CONVERTERS: tuple[Converter, ...] = (
    Converter("labelled_rows", convert_labelled_rows),
    Converter("archive", convert_archive),
    Converter("vectors", convert_vectors),
    Converter("registry", convert_registry),
    Converter("labelling", convert_labelling),
    Converter("scored_stream", convert_scored_stream),
)


def migrate(settings: Settings, progress: Progress = print) -> dict[str, dict]:
    """Run every converter in order; what each did."""
    done = {}
    for converter in CONVERTERS:
        progress(f"{converter.name}: converting")
        done[converter.name] = converter.convert(settings, progress)
        progress(f"{converter.name}: {done[converter.name]}")
    return done
