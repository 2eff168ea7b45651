"""The reading side of a fetch: the index, then each part's lines streamed into a bounded
queue of objects to download (a retry after a network error skips lines already given).

Each key is mapped to its path here, in this one thread and in index order (``paths``): a
key refused by the mapping, or whose path another key already has, never reaches the queue."""

from __future__ import annotations

import json
import queue
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import requests
import urllib3

from .http import FetchFailed, HttpClient, Retryable, network_error
from .links import SHARE_DATA_ID, LinkExpired, index_url_from_page, is_html
from .paths import PathClaims, UnsafeKey, local_path
from .records import STATE_DIR
from .reporting import Failure, FetchReport

CHUNK_BYTES = 256 * 1024
_ETAG = re.compile(r"[\x21\x23-\x7e]{1,200}")


@dataclass
class Item:
    """One object to download: a line of a part."""

    key: str
    size: int
    url: str
    part: str
    path: PurePosixPath  # relative to DIR (``paths.local_path``)
    folder: bool = False  # a folder marker: an empty object whose key ends in "/"
    etag: str | None = None  # without its quotes; None in older manifests (then no resume, no MD5)
    modified: float | None = None  # the listing's LastModified (epoch seconds): the file's mtime


def last_modified(text: Any) -> float | None:
    """S3's LastModified text (``2026-11-20T09:14:03.000Z``) as epoch seconds; None if absent or
    not a timestamp (older manifests, odd servers): the file then keeps its download time."""
    if not isinstance(text, str) or not text:
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp.timestamp() if stamp.tzinfo is not None else None


class PartReader:
    def __init__(self, http: HttpClient, index_url: str, report: FetchReport, on_files: Callable[[int], None]) -> None:
        self.http = http
        self.index_url = index_url
        self.report = report
        self.on_files = on_files
        self.claims = PathClaims(reserved=STATE_DIR)
        self.listed_all = False  # every part read, every line accounted for
        self.unread = 0  # objects of the parts not read once the server stopped answering

    def _get(self, url: str, what: str, doing: str) -> tuple[bytes, str]:
        """The whole body of ``url`` and its Content-Type, with retries (announced as ``doing``)."""

        def once() -> tuple[bytes, str]:
            with self.http.open(url, what) as response:
                try:
                    return response.content, response.headers.get("Content-Type", "")
                except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                    raise Retryable(network_error(exc, url)) from exc

        result: tuple[bytes, str] = self.http.with_retries(doing, once)
        return result

    def read_index(self) -> dict[str, Any]:
        """The index, from its URL or from the share page's (``links.index_url_from_page``)."""
        body, content_type = self._get(self.index_url, "the index link", "reading the index")
        if is_html(content_type, body):
            index_url = index_url_from_page(body.decode("utf-8", "replace"))
            if index_url is None:
                raise FetchFailed(
                    f"this page is not an s3-fanout share page (no {SHARE_DATA_ID} data); "
                    "pass the page or index URL the sender gave you"
                )
            self.index_url = index_url
            body, _ = self._get(index_url, "the index link", "reading the index")
        try:
            index = json.loads(body)
        except ValueError as exc:
            raise FetchFailed("the index is not JSON (is this an s3-fanout index URL?)") from exc
        if not isinstance(index, dict) or not isinstance(index.get("parts"), list):
            raise FetchFailed("not an s3-fanout index: no 'parts' list")
        return index

    def iter_part(self, part: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The part's lines, streamed; a retry after a network error skips lines already given."""
        given = 0

        def once() -> Iterator[dict[str, Any]]:
            nonlocal given
            seen = 0
            with self.http.bounded(wait):
                response = self.http.open(part["url"], f"part {part.get('key')}")
            with response:
                try:
                    for raw in response.iter_lines(chunk_size=CHUNK_BYTES):
                        if not raw:
                            continue
                        seen += 1
                        if seen <= given:
                            continue
                        given += 1
                        yield json.loads(raw)
                except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                    raise Retryable(network_error(exc, part["url"]), progressed=given > given_before) from exc

        wait = self.http.wait(f"reading part {part.get('key')}")
        while True:
            given_before = given
            try:
                yield from once()
            except Retryable as exc:
                wait.failed(exc)
            else:
                return

    def produce(self, index: dict[str, Any], work: queue.Queue[Item | None], consumers: int) -> None:
        """Every part's items into ``work``, then one end marker per consumer."""
        try:
            complete = True
            for n, part in enumerate(index["parts"]):
                if self.http.stop.is_set():
                    return
                if self.http.silent is not None:  # each part would wait as long, in vain
                    self.unread = sum(int(p.get("count", 0) or 0) for p in index["parts"][n:])
                    self.on_files(self.unread)
                    return
                complete = self._produce_part(part, work) and complete
            self.listed_all = complete
        finally:
            for _ in range(consumers):
                work.put(None)

    def _item(self, line: dict[str, Any], part_key: str) -> Item | None:
        """The line as an Item with its path claimed, or None (refused: a failure reported)."""
        key, size = line["key"], line["size"]
        folder = size == 0 and key.endswith("/")
        try:
            path = local_path(key)
            self.claims.claim(key, path, folder=folder)
        except UnsafeKey as exc:
            self.report.fail(Failure(key, f"refused: {exc}"))
            self.on_files(1)
            return None
        etag = line.get("etag")
        # Only a token fit for an If-Match header; anything else is as good as absent.
        etag = etag if isinstance(etag, str) and _ETAG.fullmatch(etag) else None
        return Item(key, size, line["url"], part_key, path, folder, etag, last_modified(line.get("last_modified")))

    def _produce_part(self, part: dict[str, Any], work: queue.Queue[Item | None]) -> bool:
        """Queue the part's items; False if some lines could not be read."""
        part_key = str(part.get("key", "?"))
        listed = int(part.get("count", 0) or 0)
        lines = 0
        try:
            for line in self.iter_part(part):
                lines += 1
                if not (
                    isinstance(line, dict)
                    and isinstance(line.get("key"), str)
                    and isinstance(line.get("size"), int)
                    and line["size"] >= 0
                    and isinstance(line.get("url"), str)
                    and line["url"].startswith(("https://", "http://"))
                ):
                    self.report.fail(Failure(f"part {part_key}", f"line {lines} is not a key/size/url object"))
                    self.on_files(1)
                    continue
                item = self._item(line, part_key)
                if item is not None:
                    work.put(item)
        except LinkExpired:
            when = f"; the index says its links expire at {self.report.expires_at}" if self.report.expires_at else ""
            missing = max(listed - lines, 0)
            reason = f"link expired ({missing} objects not listed{when})"
            self.report.fail(Failure(f"part {part_key}", reason, expired=True, objects=missing))
            self.on_files(missing)
            return False
        except (FetchFailed, ValueError) as exc:
            missing = max(listed - lines, 0)
            reason = f"not JSON lines: {exc}" if isinstance(exc, ValueError) else str(exc)
            self.report.fail(Failure(f"part {part_key}", f"{reason} ({missing} objects not listed)", objects=missing))
            self.on_files(missing)
            return False
        if lines != listed:
            self.report.fail(Failure(f"part {part_key}", f"{lines} lines, the index says {listed}", objects=0))
            return False
        return True
