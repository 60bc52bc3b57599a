"""The data root on S3 when the bucket is missing or the credentials are wrong: a clear error, nothing written,
no bucket created. The S3 API is moto with authentication on (its IAM checks each request's key), a user whose
key may do anything on S3, and one bucket.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import boto3
import pytest
from native_services import S3_CREDENTIALS, MotoS3, running
from reliability_corpus import csv_text, good
from s3fs import S3FileSystem
from upath import UPath

from tweet_sentiment.config import Settings
from tweet_sentiment.pipeline import retrain

BUCKET = "tweets-auth"
ALLOW_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[boto3.client]:
    """moto answering the first 3 requests unauthenticated (the user, its policy, its key), the rest checked."""
    server = MotoS3(tmp_path_factory.mktemp("s3-auth"), {"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    with running(server), pytest.MonkeyPatch.context() as mp:
        iam = boto3.client("iam", endpoint_url=server.endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="pipeline")
        iam.put_user_policy(UserName="pipeline", PolicyName="s3", PolicyDocument=json.dumps(ALLOW_S3))
        key = iam.create_access_key(UserName="pipeline")["AccessKey"]
        creds = {**S3_CREDENTIALS, "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                 "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"], "AWS_ENDPOINT_URL": server.endpoint}
        for name, value in creds.items():
            mp.setenv(name, value)
        client = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                              aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"])
        client.create_bucket(Bucket=BUCKET)
        S3FileSystem.clear_instance_cache()
        yield client
        S3FileSystem.clear_instance_cache()


def _settings(root: str) -> Settings:
    return dataclasses.replace(Settings.from_env(), data_root=root, cache_root="", file_settle_s=0.0)


def _keys(client) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_a_missing_bucket_is_named_and_never_created(s3):
    with pytest.raises(FileNotFoundError, match=r"bucket 'tweets-typo'.*TWEET_SENTIMENT_DATA_ROOT"):
        retrain.claim_and_ingest(_settings("s3://tweets-typo/data"), "batch_1")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [BUCKET]


def test_wrong_credentials_are_refused_and_nothing_is_written(s3, monkeypatch):
    (UPath(f"s3://{BUCKET}/data/inbox") / "batch.csv").write_text(csv_text(*good("auth", 5)))
    before = _keys(s3)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    S3FileSystem.clear_instance_cache()
    with pytest.raises(PermissionError, match=f"refused these credentials for the bucket '{BUCKET}'"):
        retrain.claim_and_ingest(_settings(f"s3://{BUCKET}/data"), "batch_1")
    S3FileSystem.clear_instance_cache()
    assert _keys(s3) == before == ["data/inbox/batch.csv"]
