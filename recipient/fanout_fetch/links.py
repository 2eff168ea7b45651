"""Presigned links as S3 answers them: an expired link, an S3 error body, a session sized
for the download threads, the share page that leads to the index. No AWS credentials
anywhere: plain HTTP(S) GETs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

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


SHARE_DATA_ID = "fanout-share"


class _ShareData(HTMLParser):
    """The text of every ``<script id="fanout-share">`` element. HTMLParser reads a script's
    content as raw text up to ``</script``, and skips comments: a lookalike inside either is
    not an element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and dict(attrs).get("id") == SHARE_DATA_ID:
            self._inside = True
            self.found.append("")

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.found[-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inside = False


def is_html(content_type: str, body: bytes) -> bool:
    """A share page rather than the index: served as HTML, or a body that opens with a tag."""
    return content_type.split(";", 1)[0].strip().lower() == "text/html" or body.lstrip()[:1] == b"<"


def index_url_from_page(html: str) -> str | None:
    """The ``index_url`` of a share page's ``<script id="fanout-share" type="application/json">``
    data, or None: no such element, more than one (ambiguous: refuse rather than guess), not
    a JSON object, or an ``index_url`` that is not an absolute http(s) URL."""
    parser = _ShareData()
    parser.feed(html)
    parser.close()
    if len(parser.found) != 1:
        return None
    try:
        data = json.loads(parser.found[0])
    except ValueError:
        return None
    url = data.get("index_url") if isinstance(data, dict) else None
    if not isinstance(url, str) or not re.match(r"https?://[^/?#\s]+", url) or re.search(r"\s", url):
        return None
    return url


def new_session(pool: int = 16) -> requests.Session:
    """A session whose connection pool fits ``pool`` threads."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def path_as_given(url: str, prepared: str) -> str:
    """``prepared`` (requests' URL) with ``url``'s path: requests removes ``.`` and ``..``
    segments (``a/x/../c.pdf`` -> ``a/c.pdf``), but in S3 they are part of the key and signed."""
    path = urlsplit(url).path
    if "/." not in path:
        return prepared
    return urlunsplit(urlsplit(prepared)._replace(path=requests.utils.requote_uri(path)))


def send_as_given(
    session: requests.Session, url: str, headers: dict[str, str] | None = None, **send: Any
) -> requests.Response:
    """A GET of ``url`` with its path exactly as signed (see :func:`path_as_given`)."""
    prepared = session.prepare_request(requests.Request("GET", url, headers=headers))
    prepared.url = path_as_given(url, prepared.url or url)
    settings = session.merge_environment_settings(prepared.url, {}, send.pop("stream", False), None, None)
    return session.send(prepared, **{**settings, **send})


def http_get(session: requests.Session, url: str) -> bytes:
    response = send_as_given(session, url, timeout=60)
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
