"""URLs signed by an optional signing identity from Secrets Manager (moto server)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from s3fanout import runtime, signing_identity
from s3fanout.handlers import build_manifest
from tests.support.flow import run_handlers
from tests.support.lambda_context import FakeLambdaContext
from tests.support.s3_helpers import all_keys, http_get, put_keys, read_jsonl

SIGNER_KEY = "AKIASIGNINGUSER00001"
SIGNER_SECRET = "signing-user-secret-key/0123456789abcdef"


@pytest.fixture
def secrets(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETSMANAGER", moto_endpoint)
    signing_identity._cache.clear()
    yield boto3.client(
        "secretsmanager",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    signing_identity._cache.clear()


def use_secret(monkeypatch: pytest.MonkeyPatch, arn: str) -> None:
    monkeypatch.setenv("SIGNING_SECRET_ARN", arn)
    runtime.settings.cache_clear()


def every_url(s3: Any, result: dict[str, Any]) -> list[str]:
    index = json.loads(http_get(result["index"]["index_url"]))
    urls = [result["index"]["index_url"]]
    for part in index["parts"]:
        urls.append(part["url"])
        urls.extend(line["url"] for line in read_jsonl(s3, result["plan"]["manifest_bucket"], part["key"]))
    return urls


def test_urls_are_signed_by_the_signing_identity(
    s3: Any, bucket: str, secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = secrets.create_secret(
        Name="fanout-signer",
        SecretString=json.dumps({"aws_access_key_id": SIGNER_KEY, "aws_secret_access_key": SIGNER_SECRET}),
    )["ARN"]
    use_secret(monkeypatch, arn)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "role-session-token")  # the role's creds are temporary
    put_keys(s3, bucket, ["a/1.pdf", "b/2 two.pdf"])

    result = run_handlers(s3, {"bucket": bucket, "expires_in": 604800})

    index = json.loads(http_get(result["index"]["index_url"]))
    assert index["url_credentials"] == "signing-identity"
    assert "note" not in index
    urls = every_url(s3, result)
    assert len(urls) == 1 + result["plan"]["units"] + 2
    for url in urls:
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Credential"][0].startswith(f"{SIGNER_KEY}/")
        assert "X-Amz-Security-Token" not in query
        assert query["X-Amz-Expires"] == ["604800"]
    # The signature is the signing identity's: botocore with that key pair, at the same
    # instant, produces the very same URL.
    part_line = read_jsonl(s3, bucket, index["parts"][0]["key"])[0]
    stamp = parse_qs(urlsplit(part_line["url"]).query)["X-Amz-Date"][0]
    assert part_line["url"] == botocore_url(s3, bucket, part_line["key"], stamp, 604800)


def botocore_url(s3: Any, bucket: str, key: str, stamp: str, expires_in: int) -> str:
    import datetime as dt
    from unittest import mock

    import botocore.auth
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=s3.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=SIGNER_KEY,
        aws_secret_access_key=SIGNER_SECRET,
        config=Config(signature_version="s3v4"),
    )
    frozen = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")  # noqa: DTZ007 - botocore signs naive UTC
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=frozen):
        url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in)
    assert f"X-Amz-Date={stamp}" in url  # the clock really was frozen
    return url


def test_without_a_signing_identity_the_index_warns_about_temporary_credentials(
    s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "role-session-token")
    put_keys(s3, bucket, ["a/1.pdf"])

    result = run_handlers(s3, {"bucket": bucket})

    index = json.loads(http_get(result["index"]["index_url"]))
    assert index["url_credentials"] == "temporary"
    assert "may stop working before expires_at" in index["note"]
    assert all("X-Amz-Security-Token=role-session-token" in url for url in every_url(s3, result))


def test_long_term_credentials_need_no_warning(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ["a/1.pdf"])
    index = json.loads(http_get(run_handlers(s3, {"bucket": bucket})["index"]["index_url"]))
    assert index["url_credentials"] == "long-term"
    assert "note" not in index


@pytest.mark.parametrize(
    ("secret_string", "reason"),
    [
        ("not json", "must be JSON"),
        (json.dumps({"user": "x"}), "must be JSON"),
        (None, "cannot be read"),
        # Valid JSON with unusable values: named here, not a TypeError deep in signing.
        (json.dumps({"aws_access_key_id": None, "aws_secret_access_key": "k"}), "non-empty strings"),
        (json.dumps({"aws_access_key_id": 123, "aws_secret_access_key": ["k"]}), "non-empty strings"),
        (json.dumps({"aws_access_key_id": "AKIA", "aws_secret_access_key": " "}), "non-empty strings"),
    ],
)
def test_an_unusable_signing_secret_is_a_named_error_and_writes_no_part(
    s3: Any, bucket: str, secrets: Any, monkeypatch: pytest.MonkeyPatch, secret_string: str | None, reason: str
) -> None:
    arn = (
        secrets.create_secret(Name=f"bad-{abs(hash(secret_string))}", SecretString=secret_string)["ARN"]
        if secret_string is not None
        else "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf"
    )
    use_secret(monkeypatch, arn)
    put_keys(s3, bucket, ["a/1.pdf"])
    event = {"run_id": "signing-bad", "attempt": "a1", "bucket": bucket, "unit": 0, "prefix": "a/"}

    with pytest.raises(signing_identity.SigningIdentityUnavailable, match=reason):
        build_manifest.lambda_handler(event, FakeLambdaContext())

    assert [k for k in all_keys(s3, bucket) if "/parts/" in k] == []
    # the failure is recorded where MergeIndex will name it
    record = json.loads(s3.get_object(Bucket=bucket, Key="manifests/signing-bad/errors/00000.json")["Body"].read())
    assert record["error"] == "SigningIdentityUnavailable"
