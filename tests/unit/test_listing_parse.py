"""The fast ListObjectsV2 parse against botocore's full parse, and on moto over HTTP."""

from __future__ import annotations

import asyncio
import copy
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import botocore.session
import pytest
from botocore.handlers import decode_list_object_v2
from botocore.parsers import RestXMLParser
from hypothesis import given, settings
from hypothesis import strategies as st

from s3fanout import listing
from s3fanout import s3 as s3mod
from s3fanout.listing import FAST_LISTING, iter_object_pages, probe_page, split_list_objects_v2
from s3fanout.records import WorkUnit
from s3fanout.s3 import ListingParser, new_session
from tests.support.s3_helpers import put_keys

OPERATION = botocore.session.get_session().get_service_model("s3").operation_model("ListObjectsV2")
OUTPUT_SHAPE = OPERATION.output_shape
NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def contents_xml(key: str, size: int, *, order: str) -> str:
    fields = {
        "Key": key,
        "LastModified": "2024-01-02T03:04:05.000Z",
        "ETag": "&quot;c4ca4238a0b923820dcc509a6f75849b&quot;",
        "ChecksumAlgorithm": "CRC32",
        "Size": str(size),
        "StorageClass": "STANDARD",
    }
    names = list(fields) if order == "s3" else ["Size", "StorageClass", "ETag", "Key", "LastModified"]
    return "<Contents>" + "".join(f"<{n}>{fields[n]}</{n}>" for n in names) + "</Contents>"


def listing_xml(
    keys: list[str],
    *,
    url: bool,
    prefixes: tuple[str, ...] = (),
    truncated: bool = False,
    order: str = "s3",
    pretty: bool = False,
) -> bytes:
    def enc(value: str) -> str:
        return quote(value.encode("utf-8"), safe="/") if url else escape(value)

    contents = [contents_xml(enc(k), 7 * i, order=order) for i, k in enumerate(keys)]
    common = [f"<CommonPrefixes><Prefix>{enc(p)}</Prefix></CommonPrefixes>" for p in prefixes]
    head = f"<Name>bucket</Name><Prefix>{enc('pre fix/')}</Prefix><KeyCount>{len(keys) + len(prefixes)}</KeyCount>"
    head += f"<MaxKeys>1000</MaxKeys><IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
    tail = "<Delimiter>/</Delimiter>" if prefixes else ""
    if url:
        tail += "<EncodingType>url</EncodingType>"
    if truncated:
        tail += "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    sep = "\n  " if pretty else ""
    body = sep.join([head, *contents, *common, tail])
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult {NS}>{body}</ListBucketResult>'.encode()


def full_parse(body: bytes) -> dict[str, Any]:
    parser = RestXMLParser(timestamp_parser=lambda value: value)
    return parser.parse({"body": body, "headers": {}, "status_code": 200}, OUTPUT_SHAPE)


class _Run:
    """Stands in for listing.PageRun: records the read-ahead token instead of requesting."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    async def prefetch(self, token: str) -> None:
        self.tokens.append(token)


def fast_parse(body: bytes) -> dict[str, Any]:
    """What a fast-path page goes through: the before-parse hook, then the parser."""

    async def run() -> dict[str, Any]:
        pages = _Run()
        marker = FAST_LISTING.set(pages)  # type: ignore[arg-type]
        try:
            response = {"body": body, "headers": {}, "status_code": 200, "context": {}}
            await s3mod.split_listing_body(operation_model=OPERATION, response_dict=response)
            parsed = await ListingParser(timestamp_parser=lambda value: value).parse(response, OUTPUT_SHAPE)
        finally:
            FAST_LISTING.reset(marker)
        assert pages.tokens == ([parsed["NextContinuationToken"]] if parsed.get("IsTruncated") else [])
        return parsed

    return asyncio.run(run())


def decoded(parsed: dict[str, Any]) -> dict[str, Any]:
    parsed = copy.deepcopy(parsed)
    decode_list_object_v2(parsed, {"encoding_type_auto_set": True})
    return parsed


def assert_same(body: bytes, *, fast_path: bool = True) -> dict[str, Any]:
    full, fast = full_parse(body), fast_parse(body)
    assert (split_list_objects_v2(body) is not None) is fast_path
    # Everything botocore gives, with each object cut down to Key and Size.
    expected = full
    if fast_path and "Contents" in full:
        expected = {**full, "Contents": [{"Key": o["Key"], "Size": o["Size"]} for o in full["Contents"]]}
    assert fast == expected
    assert decoded(fast) == decoded(expected)
    return decoded(fast)


key_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60)
xml_text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\r\ufffe\uffff", min_codepoint=0x20)
    | st.sampled_from("\t\n"),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(
    keys=st.lists(key_text, min_size=1, max_size=40),
    prefixes=st.lists(key_text, max_size=5),
    truncated=st.booleans(),
    order=st.sampled_from(["s3", "other"]),
)
def test_url_encoded_pages_match_botocore_and_decode_to_the_exact_keys(
    keys: list[str], prefixes: list[str], truncated: bool, order: str
) -> None:
    body = listing_xml(keys, url=True, prefixes=tuple(prefixes), truncated=truncated, order=order)
    parsed = assert_same(body)
    assert [o["Key"] for o in parsed["Contents"]] == keys
    assert [o["Size"] for o in parsed["Contents"]] == [7 * i for i in range(len(keys))]
    assert [p["Prefix"] for p in parsed.get("CommonPrefixes", [])] == prefixes


@settings(max_examples=150, deadline=None)
@given(keys=st.lists(xml_text, min_size=1, max_size=40), order=st.sampled_from(["s3", "other"]))
def test_xml_escaped_pages_match_botocore(keys: list[str], order: str) -> None:
    """Without EncodingType=url keys arrive XML-escaped; entities must decode exactly."""
    body = listing_xml(keys, url=False, order=order)
    parsed = assert_same(body, fast_path="/>" not in body.decode().split("<Contents>", 1)[1])
    assert [o["Key"] for o in parsed["Contents"]] == keys


def test_character_references() -> None:
    body = listing_xml(["x"], url=False).replace(b"<Key>x</Key>", b"<Key>a&#233;&#x6587;&#128196;&amp;&lt;&gt;</Key>")
    assert assert_same(body)["Contents"][0]["Key"] == "a\u00e9\u6587\U0001f4c4&<>"


@pytest.mark.parametrize(
    ("name", "mutate"),
    [
        ("empty page", lambda b: listing_xml([], url=True)),
        ("pretty printed", lambda b: listing_xml(["a", "b"], url=True, pretty=True)),
        ("comment", lambda b: b.replace(b"<Contents>", b"<!-- c --><Contents>", 1)),
        ("cdata", lambda b: b.replace(b"<Key>a</Key>", b"<Key><![CDATA[a]]></Key>")),
        ("carriage return", lambda b: b.replace(b"<Key>a</Key>", b"<Key>a\r\nb</Key>")),
        ("self-closing", lambda b: b.replace(b"<StorageClass>STANDARD</StorageClass>", b"<StorageClass/>", 1)),
        ("missing size", lambda b: b.replace(b"<Size>0</Size>", b"", 1)),
        ("two keys", lambda b: b.replace(b"<Key>a</Key>", b"<Key>a</Key><Key>c</Key>", 1)),
        (
            "interleaved",
            lambda b: b.replace(
                b"</Contents><Contents>",
                b"</Contents><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes><Contents>",
                1,
            ),
        ),
        ("nested owner", lambda b: b.replace(b"</Contents>", b"<Owner><ID>1</ID></Owner></Contents>", 1)),
    ],
)
def test_anything_unusual_goes_to_botocores_parser(name: str, mutate: Any) -> None:
    body = mutate(listing_xml(["a", "b"], url=False))
    if name == "nested owner":  # still plain enough for the fast path
        assert_same(body)
        return
    assert split_list_objects_v2(body) is None, name
    if name != "two keys":  # botocore's own output is garbage there (XML elements)
        assert_same(body, fast_path=False)


def test_fast_path_is_opt_in() -> None:
    body = listing_xml(["a"], url=True)
    parsed = asyncio.run(
        ListingParser(timestamp_parser=lambda v: v).parse(
            {"body": body, "headers": {}, "status_code": 200}, OUTPUT_SHAPE
        )
    )
    assert parsed["Contents"][0]["LastModified"] == "2024-01-02T03:04:05.000Z"


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


async def _collect(moto_endpoint: str, bucket: str, work: WorkUnit) -> list[tuple[str, int]]:
    session = new_session()
    async with session.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as client:
        entries: list[tuple[str, int]] = []
        async for page in iter_object_pages(client, bucket, work):
            entries.extend(page)
        direct = await client.list_objects_v2(Bucket=bucket, MaxKeys=1)
        assert "LastModified" in direct["Contents"][0]  # outside listing.py: botocore's full output
        probe = await probe_page(client, bucket, "", entries[2][0], max_keys=5)
        assert probe.keys == tuple(key for key, _ in entries[3:8])  # the planner's probe: same parse
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

    monkeypatch.setattr(s3mod, "split_list_objects_v2", spy)
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
    assert [key for key, _ in entries] == expected
    sizes = dict(entries)
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
    assert [key for key, _ in bounded] == [k for k in many if "many/00999" < k <= "many/02000"]
