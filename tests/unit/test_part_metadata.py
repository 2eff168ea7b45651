"""A part's summary in its user metadata (s3fanout.part_metadata): read back as written,
left out when over S3's 2 KB, and anything else read as no summary."""

from __future__ import annotations

import base64
import zlib
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from s3fanout.part_metadata import MAX_METADATA_BYTES, SUMMARY_KEY, summary_from_metadata, summary_metadata
from s3fanout.records import PartSummary

keys = st.text(min_size=1, max_size=300)


def summary(**fields: object) -> PartSummary:
    base = PartSummary(
        unit=3, segment=1, prefix="k/", count=40, bytes=9_000, object_bytes=123_456,
        part_key="manifests/r/parts/00003-0001.jsonl", listed=41, done=False, next_start_after="k/0040.pdf",
        first_key="k/0001.pdf", last_key="k/0040.pdf", skipped={"GLACIER": 1}, attempt="a1", signed_at=1.5,
        start_after="k/0000.pdf", etag='"written"', resume={"unit": 3, "segment": 2},
    )  # fmt: skip
    return replace(base, **fields)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(first=keys, last=keys, after=st.none() | keys, count=st.integers(0, 10**9))
def test_a_summary_reads_back_as_written_with_the_parts_etag(
    first: str, last: str, after: str | None, count: int
) -> None:
    written = summary(first_key=first, last_key=last, next_start_after=after, count=count)
    metadata = summary_metadata(written)
    if metadata is None:  # (keys that do not compress: over the limit)
        return
    assert list(metadata) == [SUMMARY_KEY]
    assert metadata[SUMMARY_KEY].isascii()  # (an HTTP header value)
    assert len(SUMMARY_KEY) + len(metadata[SUMMARY_KEY]) <= MAX_METADATA_BYTES
    assert summary_from_metadata(metadata, '"now"') == replace(written, etag='"now"')


def test_a_summary_over_the_limit_is_left_out() -> None:
    # Four keys near 1,024 bytes of characters that barely compress.
    noise = "".join(chr(0x4E00 + (i * 7919) % 20_000) for i in range(340))
    assert summary_metadata(summary(first_key=noise, last_key=noise[::-1], next_start_after=noise[1:] + "x")) is None
    assert summary_metadata(summary()) is not None


def test_anything_else_reads_as_no_summary() -> None:
    packed = summary_metadata(summary())
    assert packed is not None
    valid = packed[SUMMARY_KEY]
    bomb = base64.b64encode(zlib.compress(b"{" + b" " * 10_000_000 + b"}")).decode()
    not_a_summary = base64.b64encode(zlib.compress(b'{"unit": 1}')).decode()
    for value in ("", "not base64!", base64.b64encode(b"not zlib").decode(), valid[:-8], bomb, not_a_summary,
                  base64.b64encode(zlib.compress(b"[1, 2]")).decode()):  # fmt: skip
        assert summary_from_metadata({SUMMARY_KEY: value}, '"e"') is None, value
    assert summary_from_metadata({}, '"e"') is None
    assert summary_from_metadata({"other": valid}, '"e"') is None
