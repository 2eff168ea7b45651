"""The fast ListObjectsV2 parse against botocore's full parse, and on moto over HTTP."""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import botocore.session
import pytest
from botocore.compat import unquote_str
from botocore.handlers import decode_list_object_v2
from botocore.parsers import RestXMLParser
from hypothesis import given, settings
from hypothesis import strategies as st

from s3fanout import botocore_overrides, listing
from s3fanout.botocore_overrides import FAST_LISTING, ListingParser, split_list_objects_v2

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
            await botocore_overrides.split_listing_body(operation_model=OPERATION, response_dict=response)
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
    # Everything botocore gives, with each object cut down to the fields a manifest uses.
    expected = full
    if fast_path and "Contents" in full:
        keep = ("Key", "Size", "StorageClass", "LastModified", "ETag")
        expected = {**full, "Contents": [{k: o[k] for k in keep if k in o} for o in full["Contents"]]}
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


def _archive_page(objects: list[tuple[str, str, str]]) -> bytes:
    """A ListObjectsV2 page as S3 answers with OptionalObjectAttributes=RestoreStatus:
    (key, storage class, restore state: "" none, "progress", "restored")."""
    restore = {
        "": "",
        "progress": "<RestoreStatus><IsRestoreInProgress>true</IsRestoreInProgress></RestoreStatus>",
        "restored": "<RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress>"
        "<RestoreExpiryDate>2026-12-01T00:00:00.000Z</RestoreExpiryDate></RestoreStatus>",
    }
    contents = "".join(
        f"<Contents><Key>{key}</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>&quot;e&quot;</ETag>"
        f"<Size>7</Size><StorageClass>{cls}</StorageClass>{restore[state]}</Contents>"
        for key, cls, state in objects
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult {NS}><Name>b</Name><Prefix></Prefix>'
        f"<KeyCount>{len(objects)}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
        f"{contents}</ListBucketResult>"
    ).encode()


def test_archived_objects_are_not_shared_unless_restored_on_both_parse_paths() -> None:
    objects = [
        ("a-standard", "STANDARD", ""),
        ("b-glacier", "GLACIER", ""),
        ("c-deep", "DEEP_ARCHIVE", ""),
        ("d-glacier-restoring", "GLACIER", "progress"),
        ("e-glacier-restored", "GLACIER", "restored"),
        ("f-deep-restored", "DEEP_ARCHIVE", "restored"),
        ("g-instant", "GLACIER_IR", ""),
        ("h-tiering", "INTELLIGENT_TIERING", ""),
    ]
    body = _archive_page(objects)
    fast = split_list_objects_v2(body)
    assert fast is not None
    full = full_parse(body)["Contents"]
    want = [None, "GLACIER", "DEEP_ARCHIVE", "GLACIER", None, None, None, None]
    assert [listing.not_shared(o) for o in fast[1]] == want
    assert [listing.not_shared(o) for o in full] == want  # botocore's parse (the fallback) agrees


def test_zero_byte_folder_markers_are_not_shared() -> None:
    assert listing.not_shared({"Key": "docs/", "Size": 0}) == listing.FOLDER_MARKER
    assert listing.not_shared({"Key": "docs/", "Size": 3}) is None  # a real object that happens to end in /
    assert listing.not_shared({"Key": "empty.pdf", "Size": 0}) is None


class _ProbeRun(_Run):
    """Stands in for a probe's listing.PageRun: keys only."""

    keys_only = True

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] | None = None


def keys_only_parse(body: bytes) -> tuple[dict[str, Any], list[str] | None]:
    """What a probe's page goes through: the before-parse hook, then the parser."""

    async def run() -> tuple[dict[str, Any], list[str] | None]:
        probe = _ProbeRun()
        marker = FAST_LISTING.set(probe)
        try:
            response = {"body": body, "headers": {}, "status_code": 200, "context": {}}
            await botocore_overrides.split_listing_body(operation_model=OPERATION, response_dict=response)
            parsed = await ListingParser(timestamp_parser=lambda value: value).parse(response, OUTPUT_SHAPE)
        finally:
            FAST_LISTING.reset(marker)
        return parsed, probe.keys

    return asyncio.run(run())


@settings(max_examples=150, deadline=None)
@given(
    keys=st.lists(key_text, min_size=1, max_size=40), truncated=st.booleans(), order=st.sampled_from(["s3", "other"])
)
def test_a_probe_gets_exactly_the_keys_botocore_gives(keys: list[str], truncated: bool, order: str) -> None:
    body = listing_xml(keys, url=True, truncated=truncated, order=order)
    parsed, raw = keys_only_parse(body)
    full = full_parse(body)
    assert raw == [o["Key"] for o in full["Contents"]]  # encoded, as botocore parses them
    assert "Contents" not in parsed
    assert {k: v for k, v in parsed.items() if k != "ResponseMetadata"} == {
        k: v for k, v in full.items() if k not in ("Contents", "ResponseMetadata")
    }
    assert botocore_overrides.url_decoded(raw) == keys


@settings(max_examples=300, deadline=None)
@given(
    keys=st.lists(st.text(st.characters(exclude_categories=("Cs",))) | st.sampled_from(["%0a", "%0A", "%C3", "%A9+"]))
)
def test_url_decoded_is_botocores_decoding_key_by_key(keys: list[str]) -> None:
    """Whatever the text: line feeds, %0A, split UTF-8 sequences across keys."""
    assert botocore_overrides.url_decoded(keys) == [unquote_str(key) for key in keys]


# Pieces of S3's URL-encoded keys (ASCII): escapes valid, lowercase, split, lone and bad.
_ASCII_PIECES = st.sampled_from(
    [*"%+\\\n aZ09fFgG/-\x7f", "%C3%A9", "%e6%96%87", "%F0%9F%93%84", "%C3", "%zz", "%4", "%20", "%2B", "%5C", "%25"]
)


@settings(max_examples=500, deadline=None)
@given(keys=st.lists(st.lists(_ASCII_PIECES, max_size=30).map("".join), max_size=30))
def test_url_decoded_of_ascii_pages_is_botocores(keys: list[str]) -> None:
    """S3's URL-encoded pages are ASCII: the C path (escape_decode) decodes them exactly as
    unquote_str - valid, lowercase, split and lone escapes, + and backslashes included."""
    assert botocore_overrides.url_decoded(keys) == [unquote_str(key) for key in keys]


@pytest.mark.parametrize(
    ("element", "fast"),
    [("<StorageClass/>", True), ("<ETag/>", True), ("<Owner/>", True), ("<Key/>", False)],
)
def test_a_probe_reads_keys_past_self_closing_elements_but_an_empty_key(element: str, fast: bool) -> None:
    """Keys only: a self-closing element is no reason to leave the page to botocore unless
    it is a Key (its object then has no <Key>...</Key>: the count of keys tells)."""
    tag = element[1:-2].encode()
    body = listing_xml(["a b", "c"], url=True).replace(b"</Contents>", b"<Owner><ID>1</ID></Owner></Contents>", 1)
    body = re.sub(b"<" + tag + b">[^<]*(<ID>1</ID>)?</" + tag + b">", element.encode(), body, count=1)
    assert element.encode() in body
    assert split_list_objects_v2(body) is None  # (the full split leaves it to botocore)
    _, raw = keys_only_parse(body)
    assert (raw is not None) == fast
    if fast:
        assert raw == [o["Key"] for o in full_parse(body)["Contents"]] == ["a%20b", "c"]


def test_a_probe_page_botocore_parses_still_gives_its_keys() -> None:
    body = listing_xml(["a"], url=True).replace(b"<Key>a</Key>", b"<Key><![CDATA[a]]></Key>")
    parsed, raw = keys_only_parse(body)
    assert raw is None
    assert [o["Key"] for o in parsed["Contents"]] == ["a"]
