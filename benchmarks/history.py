"""The data root the measured cycle starts from: the labelled store holding the chronological history and a
champion refitted on it, their feature vectors taken from (and given back to) the configured feature cache."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from pathlib import Path

from upath import UPath

from tweet_sentiment.config import Settings
from tweet_sentiment.intake.feed import write_rows
from tweet_sentiment.intake.labelled import parse_labelled_file
from tweet_sentiment.model.features import current_schema, warm_cache
from tweet_sentiment.pipeline.contracts import RunReport
from tweet_sentiment.pipeline.params import RunOptions
from tweet_sentiment.pipeline.resources import infinity_client
from tweet_sentiment.pipeline.retrain import run_cycle
from tweet_sentiment.storage.csvio import to_csv_bytes
from tweet_sentiment.storage.vector_cache import VectorCache, namespaces
from tweet_sentiment.text import text_hash

log = logging.getLogger(__name__)
PROGRESS_STEPS = 20  # a log line every 5 % of the texts to embed
MIN_CHUNK = 500


def seed_cache(source: UPath, target: UPath, texts: Sequence[str]) -> None:
    """Copy the vectors of ``texts`` that ``target`` lacks from ``source``, in every namespace (embeddings,
    lexicon features)."""
    hashes = list(dict.fromkeys(text_hash(t) for t in texts))
    for namespace in namespaces(source):
        cached, into = VectorCache(source, namespace), VectorCache(target, namespace)
        absent = set(cached.missing(hashes))
        wanted = [h for h in into.missing(hashes) if h not in absent]
        if wanted:
            into.put(wanted, cached.get(wanted))


def cleaned_texts(name: str, header: list[str], rows: list[list[str]], settings: Settings) -> list[str]:
    """The texts of ``rows`` as ingest cleans them (what the cache is keyed by)."""
    parsed = parse_labelled_file(name, to_csv_bytes(header, rows), settings.max_text_chars)
    return [r["text"] for r in parsed.rows]


def warm_with_progress(settings: Settings, texts: Sequence[str], cache_root: UPath) -> None:
    """Embed (and compute the lexicon features of) the ``texts`` not in the cache yet, in chunks, logging
    ``embedded N/M`` after each: on a fresh machine this is the bench's longest step."""
    unique = list(dict.fromkeys(texts))
    todo = _uncached(settings, unique, cache_root)
    log.info("%d of %d history and holdout tweets are in the feature cache; embedding the other %d",
             len(unique) - len(todo), len(unique), len(todo))
    if not todo:
        return
    step = max(MIN_CHUNK, math.ceil(len(todo) / PROGRESS_STEPS))
    with infinity_client(settings) as client:
        design = current_schema(settings.embedding_model, client.embed(["dimension probe"]).shape[1])
        for start in range(0, len(todo), step):
            warm_cache(todo[start:start + step], design, client, cache_root)
            log.info("embedded %d/%d", min(start + step, len(todo)), len(todo))


def _uncached(settings: Settings, texts: list[str], cache_root: UPath) -> list[str]:
    """The ``texts`` whose embedding the cache lacks."""
    by_hash = {text_hash(t): t for t in texts}
    return [by_hash[h] for h in VectorCache(cache_root, settings.embedding_model).missing(list(by_hash))]


def prepare_history(settings: Settings, header: list[str], history: list[list[str]], holdout_texts: list[str],
                    scratch: Path) -> tuple[Settings, RunReport]:
    """A data root whose store holds ``history`` and whose champion is refitted on it; returns it and that run.

    Vectors of the history and holdout come from the configured cache into the bench's; those the bootstrap had
    to compute go back to the configured cache, so the next bench skips them.
    """
    source_cache = settings.layout().embeddings
    texts = cleaned_texts("history.csv", header, history, settings) + holdout_texts
    base = dataclasses.replace(settings, data_root=str(scratch / "base"), cache_root=str(scratch / "cache"),
                               file_settle_s=0.0)
    layout = base.layout()
    layout.ensure()
    seed_cache(source_cache, layout.embeddings, texts)
    warm_with_progress(base, texts, layout.embeddings)
    write_rows(layout.inbox, "history.csv", header, history)
    log.info("bootstrap: a refit on %d history tweets (feature cache %s)", len(history), source_cache)
    bootstrap = run_cycle(base, "history", RunOptions(strategy="refit", force_promote=True))
    seed_cache(layout.embeddings, source_cache, texts)
    return base, bootstrap
