"""A Delta table on S3 (moto, applying each conditional write atomically as S3 does): writers in several processes
appending at once lose no commit, as on a local folder (tests/unit/test_tables.py); delta-rs 1.x commits with a
conditional PUT, no lock service."""

from __future__ import annotations

from native_services import s3_with_bucket
from table_support import assert_no_commit_lost, race_appenders


def test_writers_in_several_processes_on_s3_lose_no_commit(tmp_path):
    with s3_with_bucket(tmp_path / "s3", "tables"):
        assert_no_commit_lost(race_appenders("s3://tables/race"))
