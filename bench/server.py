"""A synthetic S3 endpoint for benchmarks: any number of objects, no storage.

Serves ListObjectsV2 (path style, EncodingType=url, continuation tokens, StartAfter,
Prefix, MaxKeys) over a generated key space, and accepts PutObject and multipart uploads,
discarding bodies but counting bytes. Optional latency is injected per LIST request.
Run in its own process so its CPU is not charged to the client being measured::

    python -m bench.server --port 0 --list-latency-ms 50   # prints "PORT <n>" when ready

The bucket name chooses the key space: ``n<count>`` (``n20000``) holds ``count`` objects;
any other bucket is an empty bucket that accepts writes. ``GET /__stats`` returns counters
as JSON; ``POST /__reset`` zeroes them.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import hashlib
import json
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

EXTENSIONS = (".pdf", ".PDF", " copy.pdf", "-\u00e9t\u00e9 \u6587\u4ef6.pdf", ".txt", ".pdf", ".Pdf", "+plus=eq.pdf")
PAGE_MAX = 1000


_QUOTED_EXTENSIONS = tuple(quote(ext, safe="/") for ext in EXTENSIONS)


def quoted_key_at(index: int) -> str:
    """``quote(key_at(index), safe="/")``, without quoting per key."""
    return f"data/{index // 10_000:05d}/object-{index:09d}{_QUOTED_EXTENSIONS[index % len(EXTENSIONS)]}"


def key_at(index: int) -> str:
    """The index-th key of every synthetic bucket, in S3 (UTF-8 byte) order."""
    return f"data/{index // 10_000:05d}/object-{index:09d}{EXTENSIONS[index % len(EXTENSIONS)]}"


def size_at(index: int) -> int:
    return (index * 7919) % 50_000_000


def matching_expected_fraction(suffix: str) -> float:
    return sum(ext.lower().endswith(suffix.lower()) for ext in EXTENSIONS) / len(EXTENSIONS)


class _KeySpace:
    """A lazily evaluated sorted sequence of ``count`` keys, for bisect."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> str:
        return key_at(index)


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.list_requests = 0
        self.listed_keys = 0
        self.put_objects = 0
        self.parts = 0
        self.bytes_received = 0
        self.completed = 0
        self.aborted = 0


class SyntheticS3:
    def __init__(self, list_latency: float, per_key_latency: float = 0.0, list_rate: float = 0.0) -> None:
        # A LIST answers after list_latency + per_key_latency x the keys it returns, and
        # no more than list_rate LISTs start per second (0: no cap), like one S3 prefix
        # partition (``--list-latency-ms 20 --per-key-us 60 --list-rate 5500``, issue 19).
        self.list_latency = list_latency
        self.per_key_latency = per_key_latency
        self.list_rate = list_rate
        self._next_list = 0.0
        self.stats = Stats()
        self.uploads = 0
        # Bodies of PutObject by bucket and key (GetObject serves them back).
        self.stored: dict[str, dict[str, bytes]] = {}
        # Each written object's ETag, as its PUT (or multipart completion) answered it: a HEAD
        # or GET answers the same, as S3 does (MergeIndex checks every part by its ETag). A
        # completed multipart object is not kept, only its ETag.
        self.etags: dict[tuple[str, str], str] = {}
        # Each PutObject's user metadata (x-amz-meta-*: a part carries its summary there), as
        # a HEAD or GET answers it.
        self.metadata: dict[tuple[str, str], dict[str, str]] = {}

    # --- HTTP plumbing ---------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                if headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                payload: bytes | None = None
                if self._keeps(method, target, headers):
                    payload = await reader.readexactly(int(headers["content-length"]))
                    received = len(payload)
                else:
                    received = await self._read_body(reader, headers)
                status, extra, body = await self.route(method, target, headers, received, payload)
                out = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "x-amz-request-id: bench"]
                out += [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)
                await writer.drain()
        finally:
            writer.close()

    @staticmethod
    def _keeps(method: str, target: str, headers: dict[str, str]) -> bool:
        """PutObject bodies are kept (plans, summaries, indexes: small); multipart parts not."""
        return (
            method == "PUT"
            and "uploadId" not in target
            and "content-length" in headers
            and "chunked" not in headers.get("transfer-encoding", "").lower()
        )

    async def _read_body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> int:
        """Read and discard the body; returns its length (decoded chunked framing)."""
        total = 0
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    while (await reader.readline()) not in (b"\r\n", b""):
                        pass
                    return total
                await self._discard(reader, size)
                await reader.readexactly(2)
                total += size
        length = int(headers.get("content-length", "0"))
        await self._discard(reader, length)
        return length

    @staticmethod
    async def _discard(reader: asyncio.StreamReader, length: int) -> None:
        while length:
            chunk = await reader.read(min(length, 1 << 20))
            if not chunk:
                raise ConnectionError("body cut short")
            length -= len(chunk)

    # --- S3 --------------------------------------------------------------------------

    async def route(  # noqa: PLR0911, PLR0912 - one branch and return per S3 operation
        self, method: str, target: str, headers: dict[str, str], received: int, payload: bytes | None = None
    ) -> tuple:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = unquote(parts.path)
        if path == "/__stats":
            return 200, {"Content-Type": "application/json"}, json.dumps(vars(self.stats)).encode()
        if path == "/__reset":
            self.stats.reset()
            return 200, {}, b""
        bucket, _, key = path.lstrip("/").partition("/")
        if not key and method in {"PUT", "HEAD"}:  # CreateBucket, HeadBucket: any bucket exists
            self.stored.setdefault(bucket, {})
            return 200, {"x-amz-bucket-region": "us-east-1"}, b""
        if method in {"GET", "HEAD"} and key:
            stored = self.stored.get(bucket, {}).get(key)
            etag = self.etags.get((bucket, key), '"stored"')
            answer = {"Content-Type": "application/octet-stream", "ETag": etag, **self.metadata.get((bucket, key), {})}
            if method == "HEAD" and stored is None and (bucket, key) in self.etags:
                return 200, answer, b""
            if stored is None:
                error = f"<Error><Code>NoSuchKey</Code><Message>{escape(key)}</Message></Error>"
                return 404, {"Content-Type": "application/xml"}, b"" if method == "HEAD" else error.encode()
            return 200, answer, (b"" if method == "HEAD" else stored)
        if method == "GET" and not key and query.get("list-type") == "2" and not self._generated(bucket):
            return 200, {"Content-Type": "application/xml"}, self.list_stored(bucket, query)
        if method == "GET" and not key and query.get("list-type") == "2":
            # The latency is the whole time to the response, like S3's own work on a LIST;
            # under a rate cap a LIST waits for its turn first.
            loop = asyncio.get_running_loop()
            started = loop.time()
            if self.list_rate:
                started = max(started, self._next_list)
                self._next_list = started + 1 / self.list_rate
            listed = self.stats.listed_keys
            body = self.list_objects_v2(bucket, query)
            latency = self.list_latency + self.per_key_latency * (self.stats.listed_keys - listed)
            if latency or self.list_rate:
                await asyncio.sleep(max(0.0, started + latency - loop.time()))
            return 200, {"Content-Type": "application/xml"}, body
        if method == "PUT" and key and "uploadId" in query:
            self.stats.parts += 1
            self.stats.bytes_received += received
            return 200, {"ETag": f'"part-{query.get("partNumber")}"'}, b""
        if method == "PUT" and key:
            self.stats.put_objects += 1
            self.stats.bytes_received += received
            if payload is not None:
                self.stored.setdefault(bucket, {})[key] = payload
            etag = self.etags[bucket, key] = f'"{hashlib.md5(payload or b"", usedforsecurity=False).hexdigest()}"'
            self.metadata[bucket, key] = {
                name: value for name, value in headers.items() if name.startswith("x-amz-meta-")
            }
            return 200, {"ETag": etag}, b""
        if method == "POST" and "uploads" in query:
            self.uploads += 1
            body = (
                f"<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{quote(key)}</Key>"
                f"<UploadId>upload-{self.uploads}</UploadId></InitiateMultipartUploadResult>"
            )
            return 200, {"Content-Type": "application/xml"}, body.encode()
        if method == "POST" and "uploadId" in query:
            self.stats.completed += 1
            self.etags[bucket, key] = '"complete"'
            self.metadata.pop((bucket, key), None)
            body = (
                f"<CompleteMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{quote(key)}</Key>"
                '<ETag>"complete"</ETag></CompleteMultipartUploadResult>'
            )
            return 200, {"Content-Type": "application/xml"}, body.encode()
        if method == "DELETE" and "uploadId" in query:
            self.stats.aborted += 1
            return 204, {}, b""
        body = f"<Error><Code>NotImplemented</Code><Message>{method} {target}</Message></Error>"
        return 501, {"Content-Type": "application/xml"}, body.encode()

    def _generated(self, bucket: str) -> bool:
        """A generated key space (``n<count>``) rather than a bucket of stored objects."""
        return bucket[:1] == "n" and bucket[1:].isdigit()

    def list_stored(self, bucket: str, query: dict[str, str]) -> bytes:
        """ListObjectsV2 over what was PUT (a run's plan, summaries, index), no latency."""
        prefix = query.get("prefix", "")
        keys = sorted(k for k in self.stored.get(bucket, {}) if k.startswith(prefix))
        start = int(query.get("continuation-token", "0"))
        if "continuation-token" not in query and query.get("start-after"):
            start = bisect.bisect_right(keys, query["start-after"])
        end = min(len(keys), start + min(int(query.get("max-keys", PAGE_MAX)), PAGE_MAX))
        url = query.get("encoding-type") == "url"
        contents = "".join(
            f"<Contents><Key>{quote(k, safe='/') if url else escape(k)}</Key>"
            f"<Size>{len(self.stored[bucket][k])}</Size></Contents>"
            for k in keys[start:end]
        )
        truncated = end < len(keys)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{bucket}</Name><KeyCount>{end - start}</KeyCount>"
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{contents}"
            + ("<EncodingType>url</EncodingType>" if url else "")
            + (f"<NextContinuationToken>{end}</NextContinuationToken>" if truncated else "")
            + "</ListBucketResult>"
        ).encode()

    def list_objects_v2(self, bucket: str, query: dict[str, str]) -> bytes:
        count = int(bucket[1:]) if bucket[:1] == "n" and bucket[1:].isdigit() else 0
        keys = _KeySpace(count)
        prefix = query.get("prefix", "")
        if "continuation-token" in query:
            start = int(query["continuation-token"])
        else:
            start = bisect.bisect_left(keys, prefix)
            if query.get("start-after"):
                start = max(start, bisect.bisect_right(keys, query["start-after"]))
        stop = bisect.bisect_left(keys, prefix + "\U0010ffff") if prefix else count
        max_keys = min(int(query.get("max-keys", PAGE_MAX)), PAGE_MAX)
        end = min(stop, start + max_keys)
        url = query.get("encoding-type") == "url"
        contents = "".join(
            f"<Contents><Key>{quoted_key_at(i) if url else escape(key_at(i))}</Key>"
            "<LastModified>2024-01-02T03:04:05.000Z</LastModified>"
            "<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>"
            f"<Size>{size_at(i)}</Size><StorageClass>STANDARD</StorageClass></Contents>"
            for i in range(start, end)
        )
        truncated = end < stop
        self.stats.list_requests += 1
        self.stats.listed_keys += end - start
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{bucket}</Name><Prefix>{quote(prefix, safe='/') if url else prefix}</Prefix>"
            f"<KeyCount>{end - start}</KeyCount><MaxKeys>{max_keys}</MaxKeys>"
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{contents}"
            + ("<EncodingType>url</EncodingType>" if url else "")
            + (f"<NextContinuationToken>{end}</NextContinuationToken>" if truncated else "")
            + "</ListBucketResult>"
        )
        return body.encode()


async def serve(app: SyntheticS3, port: int) -> None:
    server = await asyncio.start_server(app.handle, "127.0.0.1", port, limit=1 << 20, backlog=512)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main(app_class: type[SyntheticS3] = SyntheticS3, *, default_latency_ms: float = 0.0) -> None:
    """Run ``app_class`` until stopped (also ``bench.plan_server``'s main)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--list-latency-ms", type=float, default=default_latency_ms, help="per LIST request")
    parser.add_argument("--per-key-us", type=float, default=0.0, help="per key a LIST returns")
    parser.add_argument("--list-rate", type=float, default=0.0, help="LISTs per second at most (0: no cap)")
    args = parser.parse_args()
    app = app_class(args.list_latency_ms / 1000, args.per_key_us / 1e6, args.list_rate)
    asyncio.run(serve(app, args.port))


if __name__ == "__main__":
    from bench.processes import entry

    entry(main, "bench.server")
