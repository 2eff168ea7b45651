"""The fast SigV4 signer against botocore's own presigner, byte for byte, at frozen times."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import botocore.auth
import botocore.session
import pytest
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3fanout import presign, sigv4
from s3fanout.presign import BotocoreUrlSigner, new_url_signer
from s3fanout.sigv4 import FrozenCredentials, SigV4GetSigner
from tests.unit.conftest import FROZEN, FROZEN_EPOCH

ODD_KEYS = [
    "x",
    "plain/key.pdf",
    "with space.pdf",
    "plus+sign",
    "per%cent",
    "per%2Fcent-encoded",
    "equals=sign",
    "tilde~",
    "//leading/double//slashes//",
    "/leading-slash",
    "trailing/",
    "quote\"and'apostrophe",
    "amp&hash#question?",
    "semi;colon:at@dollar$comma,bang!star*(parens)",
    "back\\slash",
    "tab\there\nnewline\rcr",
    "ctrl\x00\x01\x1f\x7f",
    "unicodé-文件-📄",
    "\u00e9\u0301 combining",
    "\ufeffbom",
    "a" * 1024,
    ".",
    "..",
    "./a/../b",
]

# (region, endpoint_url, bucket)
ENDPOINTS = [
    ("us-east-1", "http://127.0.0.1:5000", "bucket"),  # custom endpoint: path style
    ("us-west-2", "http://127.0.0.1:5000/", "bucket"),
    ("us-east-1", "http://localhost:80", "bucket"),  # default port dropped from Host
    ("us-east-1", "https://S3.Example.com:8443/base", "bucket"),  # path under the endpoint
    ("us-east-1", "http://[::1]:9000", "bucket"),  # IPv6
    ("us-east-1", None, "my-bucket"),  # virtual hosted, global endpoint s3.amazonaws.com
    ("aws-global", None, "my-bucket"),
    ("eu-west-1", None, "my-bucket"),
    ("ap-southeast-2", None, "my-bucket"),
    ("cn-north-1", None, "my-bucket"),  # other partition
    ("us-gov-west-1", None, "my-bucket"),
    ("us-east-1", None, "my.dotted.bucket"),  # https + dots: botocore falls back to path style
    ("eu-central-1", None, "my.dotted.bucket"),
    ("us-east-1", None, "Legacy_Bucket"),  # not DNS compatible: path style
]


pytestmark = pytest.mark.usefixtures("pure_python_botocore")


def botocore_client(region: str, endpoint_url: str | None, creds: FrozenCredentials) -> Any:
    kwargs: dict[str, Any] = {
        "region_name": region,
        "config": Config(signature_version="s3v4"),
        "aws_access_key_id": creds.access_key,
        "aws_secret_access_key": creds.secret_key,
        "aws_session_token": creds.token,
    }
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    return presign._botocore_session().create_client("s3", **kwargs)


def botocore_url(client: Any, bucket: str, key: str, expires_in: int) -> str:
    return client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in)


def fast_signer(
    region: str, endpoint_url: str | None, bucket: str, expires_in: int, creds: FrozenCredentials
) -> SigV4GetSigner:
    session = presign._botocore_session()
    session.set_credentials(creds.access_key, creds.secret_key, creds.token)
    reference = BotocoreUrlSigner(bucket, expires_in, region=region, endpoint_url=endpoint_url, session=session)
    signer = presign.fast_signer_from(reference, session.get_credentials())
    assert isinstance(signer, SigV4GetSigner), "the self-check should accept this configuration"
    return signer


STATIC = FrozenCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
TEMPORARY = FrozenCredentials("ASIAEXAMPLE", "secret/with+chars=", "IQoJb3JpZ2luX2VjE/+token==with%odd&chars")


@pytest.mark.parametrize("creds", [STATIC, TEMPORARY], ids=["static", "temporary"])
@pytest.mark.parametrize(("region", "endpoint_url", "bucket"), ENDPOINTS)
def test_identical_to_botocore(
    frozen_botocore: Any, region: str, endpoint_url: str | None, bucket: str, creds: FrozenCredentials
) -> None:
    signer = fast_signer(region, endpoint_url, bucket, 900, creds)
    signer._clock = lambda: FROZEN_EPOCH
    client = botocore_client(region, endpoint_url, creds)
    for key in ODD_KEYS:
        assert signer.presign_get(key) == botocore_url(client, bucket, key, 900), key


@pytest.mark.parametrize("expires_in", [1, 900, 3600, 604_800])
def test_expiry_values(frozen_botocore: Any, expires_in: int) -> None:
    signer = fast_signer("eu-west-1", None, "bkt", expires_in, TEMPORARY)
    client = botocore_client("eu-west-1", None, TEMPORARY)
    assert signer.presign_get_at("k", FROZEN_EPOCH) == botocore_url(client, "bkt", "k", expires_in)
    assert f"X-Amz-Expires={expires_in}&" in signer.presign_get_at("k", FROZEN_EPOCH)


def test_seconds_and_date_rollover(frozen_botocore: list[dt.datetime]) -> None:
    """The per-second strings and the per-day signing key are rebuilt as the clock moves."""
    signer = fast_signer("us-east-1", "http://127.0.0.1:5000", "bucket", 900, STATIC)
    clock = [FROZEN_EPOCH]
    signer._clock = lambda: clock[0] + 0.75
    client = botocore_client("us-east-1", "http://127.0.0.1:5000", STATIC)
    for offset in (0, 0, 1, 2, 3, 86_400, 86_401):  # crosses midnight (and Feb 29 -> Mar 1)
        clock[0] = FROZEN_EPOCH + offset
        frozen_botocore[0] = FROZEN + dt.timedelta(seconds=offset)
        assert signer.presign_get("a b/c") == botocore_url(client, "bucket", "a b/c", 900)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=300))
def test_any_unicode_key(frozen_botocore: Any, key: str) -> None:
    signer = _hypothesis_signer()
    assert signer.presign_get_at(key, FROZEN_EPOCH) == botocore_url(_hypothesis_client(), "my-bucket", key, 3600)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(st.sampled_from(list(" +%=~/?#&\\\"'.-_aZ09é文📄\t")), min_size=1, max_size=40))
def test_keys_made_of_special_characters(frozen_botocore: Any, key: str) -> None:
    signer = _hypothesis_signer()
    assert signer.presign_get_at(key, FROZEN_EPOCH) == botocore_url(_hypothesis_client(), "my-bucket", key, 3600)


_CACHE: dict[str, Any] = {}


def _hypothesis_signer() -> SigV4GetSigner:
    if "signer" not in _CACHE:
        botocore_now = botocore.auth.get_current_datetime
        _CACHE["signer"] = fast_signer("us-west-2", None, "my-bucket", 3600, TEMPORARY)
        assert botocore.auth.get_current_datetime is botocore_now
    return _CACHE["signer"]


def _hypothesis_client() -> Any:
    if "client" not in _CACHE:
        _CACHE["client"] = botocore_client("us-west-2", None, TEMPORARY)
    return _CACHE["client"]


def test_new_url_signer_uses_the_credential_chain(monkeypatch: pytest.MonkeyPatch, frozen_botocore: Any) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "envtoken")
    signer = new_url_signer("bkt", 600, region="eu-west-1", endpoint_url=None)
    assert isinstance(signer, SigV4GetSigner)
    creds = FrozenCredentials("ASIAENV", "envsecret", "envtoken")
    expected = botocore_url(botocore_client("eu-west-1", None, creds), "bkt", "k y", 600)
    assert signer.presign_get_at("k y", FROZEN_EPOCH) == expected
    assert "X-Amz-Security-Token=envtoken" in expected
    # Per invocation (per call) the chain is read again.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAROTATED")
    rotated = new_url_signer("bkt", 600, region="eu-west-1", endpoint_url=None)
    assert "Credential=ASIAROTATED%2F" in rotated.presign_get("k")


def test_explicit_signing_identity(frozen_botocore: Any) -> None:
    identity = FrozenCredentials("AKIASIGNER", "signer-secret")
    signer = new_url_signer("bkt", 600, region="eu-west-1", endpoint_url=None, credentials=identity)
    assert isinstance(signer, SigV4GetSigner)
    expected = botocore_url(botocore_client("eu-west-1", None, identity), "bkt", "k", 600)
    assert signer.presign_get_at("k", FROZEN_EPOCH) == expected
    assert "Security-Token" not in expected


def test_refreshable_credentials_are_re_read(monkeypatch: pytest.MonkeyPatch, frozen_botocore: Any) -> None:
    monkeypatch.setattr(sigv4, "CREDENTIALS_CHECK_SECONDS", 0.0)
    generation = [0]

    def refresh() -> dict[str, str]:
        generation[0] += 1
        expiry = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)  # inside the refresh window
        return {
            "access_key": f"ASIAGEN{generation[0]}",
            "secret_key": f"secret{generation[0]}",
            "token": f"token{generation[0]}",
            "expiry_time": expiry.isoformat(),
        }

    creds = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    signer = SigV4GetSigner(
        "https://bkt.s3.amazonaws.com/", region="us-east-1", expires_in=60, credentials=creds, clock=lambda: 0
    )
    first = signer.presign_get_at("k", FROZEN_EPOCH)
    second = signer.presign_get_at("k", FROZEN_EPOCH + 1)
    generations = [int(re.search(r"Credential=ASIAGEN(\d+)%2F", url)[1]) for url in (first, second)]
    assert generations[1] > generations[0]  # expiring credentials were refreshed mid-run
    n = generations[1]
    frozen_botocore[0] = FROZEN + dt.timedelta(seconds=1)
    client = botocore_client("us-east-1", None, FrozenCredentials(f"ASIAGEN{n}", f"secret{n}", f"token{n}"))
    assert second == botocore_url(client, "bkt", "k", 60)


def test_unproven_configurations_fall_back_to_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    # A signer that disagrees with botocore on the probe keys must not be used.
    monkeypatch.setattr(SigV4GetSigner, "presign_get_at", lambda self, key, epoch: "https://wrong/")
    assert isinstance(new_url_signer("bkt", 60, region="us-east-1", endpoint_url=None), BotocoreUrlSigner)


def test_no_credentials_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    session = presign._botocore_session()
    reference = BotocoreUrlSigner("bkt", 60, region="us-east-1", endpoint_url=None, session=session)
    assert presign.fast_signer_from(reference, None) is None


def test_url_prefix_validation() -> None:
    with pytest.raises(ValueError, match="url_prefix"):
        SigV4GetSigner("https://host/bucket", region="us-east-1", expires_in=1, credentials=STATIC)
