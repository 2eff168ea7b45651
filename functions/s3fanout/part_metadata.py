"""A part's summary carried in the part's own user metadata, where it fits.

A separate summary object costs a PutObject per part (at list prices 0.2 x the LIST floor
of a share, every share). S3 keeps up to 2 KB of user metadata with an object, written by
the same PutObject as its bytes: a summary there describes exactly those bytes (a second
run of the unit that overwrites the part overwrites its summary with it), and MergeIndex
reads it with the HeadObject it makes per part anyway. A summary that does not fit (keys
near 1,024 bytes), a part written in several uploads (its metadata is set before its
summary is known) and a unit that spreads (its pieces are counted after the part is
written) keep the separate ``summaries/`` object.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import replace
from typing import TYPE_CHECKING

from .records import PartSummary

if TYPE_CHECKING:
    from collections.abc import Mapping

# The metadata key (S3 stores it lowercase, sent as ``x-amz-meta-fanout-summary``).
SUMMARY_KEY = "fanout-summary"
# S3's limit is 2 KB for every key and value (UTF-8) together: a margin below it.
MAX_METADATA_BYTES = 2000
# A summary's JSON is a few hundred bytes to ~6 KB (four keys of up to 1,024 bytes): any
# value that inflates past this is not one of ours.
MAX_SUMMARY_JSON_BYTES = 64 * 1024


def summary_metadata(summary: PartSummary) -> dict[str, str] | None:
    """``summary`` as the part's user metadata (compressed JSON in base64: header values
    are ASCII), or None when it does not fit. Its ``etag`` is left out: the part's own
    ETag is read with it."""
    data = json.dumps(replace(summary, etag=None).to_json(), separators=(",", ":"), ensure_ascii=False)
    value = base64.b64encode(zlib.compress(data.encode(), 9)).decode("ascii")
    if len(SUMMARY_KEY) + len(value) > MAX_METADATA_BYTES:
        return None
    return {SUMMARY_KEY: value}


def summary_from_metadata(metadata: Mapping[str, str], etag: str | None) -> PartSummary | None:
    """The summary a part carries (with the part's ``etag``), or None: it carries none, or
    one that does not read as a summary (a part written by anything else has no summary,
    and MergeIndex then names its unit as missing)."""
    value = metadata.get(SUMMARY_KEY)
    if value is None:
        return None
    try:
        inflate = zlib.decompressobj()
        data = inflate.decompress(base64.b64decode(value, validate=True), MAX_SUMMARY_JSON_BYTES)
        if inflate.unconsumed_tail or not inflate.eof:
            return None  # (inflates past any summary, or cut short: its checksum unread)
        document = json.loads(data)
        summary = PartSummary.from_json(document) if isinstance(document, dict) else None
    except (binascii.Error, zlib.error, ValueError, TypeError):
        return None
    return None if summary is None else replace(summary, etag=etag)
