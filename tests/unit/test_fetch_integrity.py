"""Which check a download gets: MD5 only where the ETag is the MD5 of the bytes served."""

from __future__ import annotations

import hashlib

import pytest

from fanout_fetch.http import Mismatch
from fanout_fetch.integrity import check_etag, check_md5, md5_hasher, response_etag

MD5 = hashlib.md5(b"hello").hexdigest()

KMS = {"x-amz-server-side-encryption": "aws:kms"}


@pytest.mark.parametrize(
    ("listed", "headers", "md5"),
    [
        (MD5, {}, True),
        (MD5.upper(), {"x-amz-server-side-encryption": "AES256"}, True),  # SSE-S3: still the MD5
        (MD5, KMS, False),
        (MD5, {"x-amz-server-side-encryption": "aws:kms:dsse"}, False),
        (MD5, {"x-amz-server-side-encryption-customer-algorithm": "AES256"}, False),  # SSE-C
        (f"{MD5[:32]}-2", {}, False),  # multipart
        ("abc-2", {}, False),
        (MD5[:31], {}, False),
        (None, {}, False),  # an older manifest
        ("", {}, False),
    ],
)
def test_md5_is_checked_only_where_the_etag_is_one(listed: str | None, headers: dict[str, str], md5: bool) -> None:
    assert (md5_hasher(headers, listed) is not None) is md5


def test_an_md5_mismatch_names_both_sides() -> None:
    hasher = hashlib.md5(b"hellp")
    with pytest.raises(Mismatch, match=f"^checksum mismatch: MD5 {hasher.hexdigest()} != ETag {MD5}$"):
        check_md5(hasher, MD5)
    check_md5(hashlib.md5(b"hello"), MD5.upper())


@pytest.mark.parametrize(
    ("header", "expected"), [('"abc"', "abc"), ('W/"abc"', "abc"), ("abc-3", "abc-3"), (None, None), ("", None)]
)
def test_the_response_etag_loses_its_quotes(header: str | None, expected: str | None) -> None:
    assert response_etag({} if header is None else {"ETag": header}) == expected


def test_a_different_etag_header_is_a_changed_object() -> None:
    check_etag({"ETag": f'"{MD5}"'}, MD5)
    check_etag({}, MD5)  # no header: nothing to compare
    check_etag({"ETag": '"other"'}, None)  # no etag listed: nothing to compare
    with pytest.raises(Mismatch, match=f"changed since the index was made: ETag other, the part lists {MD5}"):
        check_etag({"ETag": '"other"'}, MD5)
