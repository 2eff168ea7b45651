"""Synthetic S3 for the planning benchmark: the key spaces of ``bench.keyspace``.

The bucket name is the space (``flat1m``, ``skewed``, ...). ListObjectsV2 with Prefix,
StartAfter, ContinuationToken, MaxKeys, Delimiter (any string; CommonPrefixes count toward
MaxKeys, as on S3) and EncodingType=url; HeadBucket answers 200 for every space. Every LIST
answers after the injected latency (the whole time to respond). Counters at
``GET /__stats``, zeroed by ``POST /__reset``. Own process; prints ``PORT <n>``::

    python -m bench.plan_server --list-latency-ms 50
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from urllib.parse import quote
from xml.sax.saxutils import escape

from bench.keyspace import SPACES, space
from bench.processes import entry
from bench.server import PAGE_MAX, SyntheticS3, main


class KeySpaceS3(SyntheticS3):
    def __init__(self, list_latency: float, per_key_latency: float = 0.0, list_rate: float = 0.0) -> None:
        super().__init__(list_latency, per_key_latency, list_rate)
        self.spaces: dict[str, Sequence[str]] = {}

    def _generated(self, bucket: str) -> bool:
        return bucket in SPACES

    def _space(self, bucket: str) -> Sequence[str]:
        if bucket not in self.spaces:
            self.spaces[bucket] = space(bucket)
        return self.spaces[bucket]

    def list_objects_v2(self, bucket: str, query: dict[str, str]) -> bytes:
        keys = self._space(bucket)
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        if "continuation-token" in query:
            index = int(query["continuation-token"])
        else:
            index = bisect.bisect_left(keys, prefix)
            if query.get("start-after"):
                index = max(index, bisect.bisect_right(keys, query["start-after"]))
        max_keys = min(int(query.get("max-keys", PAGE_MAX)), PAGE_MAX)
        url = query.get("encoding-type") == "url"

        def text(value: str) -> str:
            return quote(value, safe="/") if url else escape(value)

        contents: list[str] = []
        common: list[str] = []
        listed = 0
        while index < len(keys) and len(contents) + len(common) < max_keys:
            key = keys[index]
            if not key.startswith(prefix):
                index = len(keys)
                break
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                rolled = key[: cut + len(delimiter)]
                common.append(f"<CommonPrefixes><Prefix>{text(rolled)}</Prefix></CommonPrefixes>")
                # Every key under the common prefix is rolled into it: jump past them.
                index = bisect.bisect_left(keys, rolled[:-1] + chr(ord(rolled[-1]) + 1))
                continue
            contents.append(
                f"<Contents><Key>{text(key)}</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified>"
                f'<ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag><Size>{index % 50_000}</Size>'
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
            listed += 1
            index += 1
        truncated = index < len(keys) and keys[index].startswith(prefix)
        self.stats.list_requests += 1
        self.stats.listed_keys += listed
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{bucket}</Name><Prefix>{text(prefix)}</Prefix>"
            f"<KeyCount>{len(contents) + len(common)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>"
            + (f"<Delimiter>{text(delimiter)}</Delimiter>" if delimiter else "")
            + f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
            + "".join(contents)
            + "".join(common)
            + ("<EncodingType>url</EncodingType>" if url else "")
            + (f"<NextContinuationToken>{index}</NextContinuationToken>" if truncated else "")
            + "</ListBucketResult>"
        )
        return body.encode()


if __name__ == "__main__":
    entry(functools.partial(main, KeySpaceS3, default_latency_ms=50.0), "bench.plan_server")
