"""The state database: small records that change one row at a time, by transaction, through SQLAlchemy.

SQLite in the data root on the embedded default, PostgreSQL (or any SQLAlchemy URL) in production, with the same
code. Writers take :func:`write_transaction`: on SQLite it begins ``IMMEDIATE`` (the write lock is taken at the
start, so two writers queue instead of failing half-way with "database is locked"); readers take
:func:`read_connection` and, in SQLite's WAL mode, never wait for a writer. Tables are declared on :data:`METADATA`
by the modules that own them and created on first use.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

METADATA = sa.MetaData()
BUSY_TIMEOUT_S = 60.0  # how long a SQLite writer waits for another's transaction before it fails

_ENGINES: dict[tuple[str, bool], Engine] = {}
_CREATED: set[tuple[str, int]] = set()  # (URL, tables declared then): a module imported later adds its own
_LOCK = threading.Lock()


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    """A SQLite engine whose transactions SQLAlchemy begins itself (pysqlite's own BEGIN is switched off)."""
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def engine(url: str, immediate: bool = False) -> Engine:
    """The process's engine for ``url`` (one per URL and kind, made on first use)."""
    with _LOCK:
        key = (url, immediate)
        if key not in _ENGINES:
            if url.startswith("sqlite"):
                _ENGINES[key] = _sqlite_engine(url, immediate)
            else:
                _ENGINES[key] = sa.create_engine(url, pool_pre_ping=True)
        return _ENGINES[key]


def ensure_tables(url: str) -> None:
    """Create the tables declared on :data:`METADATA` that the database lacks (once per process, URL and set of
    declared tables)."""
    key = (url, len(METADATA.tables))
    with _LOCK:
        if key in _CREATED:
            return
    METADATA.create_all(engine(url, immediate=True))
    with _LOCK:
        _CREATED.add(key)


@contextlib.contextmanager
def write_transaction(url: str) -> Iterator[Connection]:
    """One transaction that writes: committed when the block ends, rolled back if it raises."""
    ensure_tables(url)
    with engine(url, immediate=True).begin() as connection:
        yield connection


@contextlib.contextmanager
def read_connection(url: str) -> Iterator[Connection]:
    """A connection for reads (one consistent snapshot per statement; a block's reads share a transaction)."""
    ensure_tables(url)
    with engine(url).connect() as connection:
        yield connection


def dispose_engines() -> None:
    """Close every pooled connection (a forked child must not share its parent's)."""
    with _LOCK:
        for made in _ENGINES.values():
            made.dispose(close=False)
        _ENGINES.clear()
