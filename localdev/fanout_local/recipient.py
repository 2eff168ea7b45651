"""What a recipient with no AWS account does: follow the index URL, the parts, the objects."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests


class LinkExpired(Exception):
    """S3 refused a presigned URL because it has expired.

    ``expired_at``: when the URL stopped working, from its own signature (``X-Amz-Date`` +
    ``X-Amz-Expires``, or SigV2 ``Expires``), or None if the URL does not say.
    """

    def __init__(self, message: str, *, url: str | None = None, expired_at: datetime | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.expired_at = expired_at


def s3_error_fields(body: bytes) -> tuple[str, str]:
    """``(Code, Message)`` of an S3 XML error body; empty strings if absent (never raises)."""
    text = body[:16384].decode("utf-8", "replace")
    code = re.search(r"<Code>([^<]*)</Code>", text)
    message = re.search(r"<Message>([^<]*)</Message>", text)
    return (code.group(1) if code else "", message.group(1) if message else "")


def is_expired_response(status: int, body: bytes) -> bool:
    """S3's answer to an expired presigned URL: 403, ``<Code>AccessDenied</Code>``,
    ``<Message>Request has expired</Message>`` (any 403 whose body says "expired")."""
    return status == 403 and b"expired" in body[:16384].lower()


def url_expiry(url: str) -> datetime | None:
    """When a presigned URL expires, read from its query string (SigV4 or SigV2)."""
    query = parse_qs(urlsplit(url).query)
    try:
        if "X-Amz-Date" in query and "X-Amz-Expires" in query:
            signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return signed + timedelta(seconds=int(query["X-Amz-Expires"][0]))
        if "Expires" in query:
            return datetime.fromtimestamp(int(query["Expires"][0]), tz=UTC)
    except (ValueError, OverflowError):
        return None
    return None


def link_expired(url: str, what: str = "link") -> LinkExpired:
    expired_at = url_expiry(url)
    when = f" at {expired_at:%Y-%m-%dT%H:%M:%SZ}" if expired_at else ""
    return LinkExpired(f"{what} expired{when}: {url.split('?', 1)[0]}", url=url, expired_at=expired_at)


def new_session(pool: int = 16) -> requests.Session:
    """A session whose connection pool fits ``pool`` threads."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def http_get(session: requests.Session, url: str) -> bytes:
    response = session.get(url, timeout=60)
    if is_expired_response(response.status_code, response.content):
        raise link_expired(url)
    response.raise_for_status()
    return response.content


def read_index(session: requests.Session, index_url: str) -> dict[str, Any]:
    return json.loads(http_get(session, index_url))


def iter_part_lines(session: requests.Session, part_url: str) -> Iterator[dict[str, Any]]:
    for line in http_get(session, part_url).decode("utf-8").splitlines():
        if line:
            yield json.loads(line)


@dataclass
class Verification:
    parts: int = 0
    listed: int = 0
    checked: int = 0
    failures: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


def verify_chain(
    index_url: str,
    expected_body: Callable[[str], bytes],
    *,
    sample: int | None = None,
    threads: int = 16,
    on_object: Callable[[], None] | None = None,
    on_listed: Callable[[int], None] | None = None,
) -> Verification:
    """GET the index, every part, and objects (all, or the first ``sample``) through their URLs."""
    session = new_session(threads)
    result = Verification()
    index = read_index(session, index_url)
    lines: list[dict[str, Any]] = []
    for part in index["parts"]:
        part_lines = list(iter_part_lines(session, part["url"]))
        if len(part_lines) != part["count"]:
            result.failures.append(f"part {part['key']}: {len(part_lines)} lines, index says {part['count']}")
        lines.extend(part_lines)
        result.parts += 1
    result.listed = len(lines)
    result.keys = [line["key"] for line in lines]
    if index["count"] != len(lines):
        result.failures.append(f"index count {index['count']} != {len(lines)} lines in its parts")
    chosen = lines if sample is None else lines[:sample]
    if on_listed is not None:
        on_listed(len(chosen))

    def check(line: dict[str, Any]) -> str | None:
        try:
            body = http_get(session, line["url"])
        except (requests.RequestException, LinkExpired) as exc:
            return f"{line['key']}: {exc}"
        finally:
            if on_object is not None:
                on_object()
        if body != expected_body(line["key"]) or len(body) != line["size"]:
            return f"{line['key']}: content or size differs"
        return None

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for problem in pool.map(check, chosen):
            result.checked += 1
            if problem:
                result.failures.append(problem)
    return result
