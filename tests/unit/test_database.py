"""The state database (storage/database.py): writers in several processes queue, none is lost."""

from __future__ import annotations

import multiprocessing

import pytest
import sqlalchemy as sa

from tweet_sentiment.config import SettingError, Settings
from tweet_sentiment.storage.database import METADATA, read_connection, write_transaction

COUNTER = sa.Table("test_counter", METADATA, sa.Column("name", sa.String, primary_key=True),
                   sa.Column("value", sa.Integer, nullable=False))


def _increment(url: str, times: int) -> None:
    for _ in range(times):
        with write_transaction(url) as connection:  # read, then write: a lost update if two interleave
            value = connection.execute(sa.select(COUNTER.c.value).where(COUNTER.c.name == "n")).scalar_one()
            connection.execute(sa.update(COUNTER).where(COUNTER.c.name == "n").values(value=value + 1))


def test_read_modify_write_transactions_in_three_processes_lose_no_update(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with write_transaction(url) as connection:
        connection.execute(sa.insert(COUNTER).values(name="n", value=0))
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_increment, args=(url, 300)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    with read_connection(url) as connection:
        assert connection.execute(sa.select(COUNTER.c.value)).scalar_one() == 900


def test_a_transaction_that_raises_writes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with pytest.raises(RuntimeError), write_transaction(url) as connection:
        connection.execute(sa.insert(COUNTER).values(name="n", value=1))
        raise RuntimeError("died half-way")
    with read_connection(url) as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(COUNTER)).scalar_one() == 0


def test_the_state_database_defaults_to_sqlite_in_a_local_data_root_and_must_be_named_on_s3(tmp_path):
    assert Settings(data_root=str(tmp_path)).state_db == f"sqlite:///{tmp_path / 'state.sqlite'}"
    assert Settings(data_root="s3://bucket/root", state_db_url="postgresql://h/db").state_db == "postgresql://h/db"
    with pytest.raises(SettingError, match="TWEET_SENTIMENT_STATE_DB_URL"):
        _ = Settings(data_root="s3://bucket/root").state_db


def test_a_table_declared_after_the_first_use_is_created_too(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with write_transaction(url) as connection:
        connection.execute(sa.insert(COUNTER).values(name="n", value=1))
    late = sa.Table("test_declared_late", METADATA, sa.Column("id", sa.Integer, primary_key=True))
    try:
        with write_transaction(url) as connection:  # a module imported after the first use declared it
            connection.execute(sa.insert(late).values(id=1))
    finally:
        METADATA.remove(late)
