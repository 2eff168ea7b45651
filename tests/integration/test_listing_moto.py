"""The fast listing path against moto's real ListObjectsV2 (over HTTP): exact keys, the
read-ahead claims every next page, the planner's probe parses the same."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest

from s3fanout import botocore_overrides, listing
from s3fanout.botocore_overrides import split_list_objects_v2
from s3fanout.listing import iter_object_pages, probe_page
from s3fanout.records import WorkUnit
from s3fanout.s3 import new_session
from tests.support.s3_helpers import put_keys

ODD_KEYS = [
    "odd/with space.pdf",
    "odd/plus+sign.pdf",
    "odd/per%cent.pdf",
    "odd/per%2Fcent-encoded.pdf",
    "odd/equals=sign.pdf",
    "odd/tilde~.pdf",
    "odd/unicodé-文件-📄.pdf",
    "odd//double-slash.pdf",
    "odd/quote\"and'apostrophe.pdf",
    "odd/amp&hash#question?<lt>gt.pdf",
    "odd/tab\there.pdf",
]


async def _collect(moto_endpoint: str, bucket: str, work: WorkUnit) -> list[Any]:
    session = new_session()
    async with session.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as client:
        entries: list[Any] = []
        async for page in iter_object_pages(client, bucket, work):
            entries.extend(page)
        direct = await client.list_objects_v2(Bucket=bucket, MaxKeys=1)
        assert "LastModified" in direct["Contents"][0]  # outside listing.py: botocore's full output
        probe = await probe_page(client, bucket, "", entries[2][0], max_keys=5)
        assert probe.keys == tuple(entry.key for entry in entries[3:8])  # the planner's probe: same parse
        assert probe.truncated
        return entries


def test_moto_pages_take_the_fast_path_and_keep_keys_exact(
    s3: Any, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"fast": 0, "slow": 0}

    def spy(body: bytes) -> Any:
        result = split_list_objects_v2(body)
        if b"<Contents>" in body:  # (pages without objects always go to botocore)
            calls["fast" if result is not None else "slow"] += 1
        return result

    monkeypatch.setattr(botocore_overrides, "split_list_objects_v2", spy)
    claims: list[bool] = []
    original_claim = listing.PageRun.claim

    def claim(self: Any, token: str) -> Any:
        task = original_claim(self, token)
        claims.append(task is not None)
        return task

    monkeypatch.setattr(listing.PageRun, "claim", claim)
    many = [f"many/{i:05d}.bin" for i in range(3456)]
    put_keys(s3, bucket, many, body=b"12345")
    put_keys(s3, bucket, ODD_KEYS)
    entries = asyncio.run(_collect(moto_endpoint, bucket, WorkUnit(unit=0, prefix="")))
    expected = sorted(ODD_KEYS + many)
    assert [entry.key for entry in entries] == expected
    assert all(entry.not_shared is None for entry in entries)  # STANDARD, no folder markers: all shared
    sizes = {entry.key: entry.size for entry in entries}
    assert all(sizes[k] == 5 for k in many)
    assert all(sizes[k] == len(f"body of {k}".encode()) for k in ODD_KEYS)
    assert calls["fast"] >= 3
    assert calls["slow"] == 0
    assert claims
    assert all(claims)  # every next page was already requested (read-ahead) with the right token

    bounded = asyncio.run(
        _collect(
            moto_endpoint, bucket, WorkUnit(unit=0, prefix="many/", start_after="many/00999", end_key="many/02000")
        )
    )
    assert [entry.key for entry in bounded] == [k for k in many if "many/00999" < k <= "many/02000"]


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "botocore-parse"])
def test_entries_carry_the_listed_etag_and_last_modified_text(
    s3: Any, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    """What a manifest line gives a recipient to check its download: the ETag (the body's MD5
    for a single-part upload) without quotes, and LastModified exactly as S3 wrote it."""
    if not fast:  # (the probe in _collect then gets its keys from botocore's Contents)
        monkeypatch.setattr(botocore_overrides, "split_list_objects_v2", lambda _body: None)
        monkeypatch.setattr(botocore_overrides, "split_keys", lambda _body: None)
    put_keys(s3, bucket, ODD_KEYS)
    entries = asyncio.run(_collect(moto_endpoint, bucket, WorkUnit(unit=0, prefix="")))
    listed = {obj["Key"]: obj for obj in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    for key, _size, _why, modified, etag in entries:
        assert etag == hashlib.md5(f"body of {key}".encode()).hexdigest()
        assert modified == listed[key]["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
