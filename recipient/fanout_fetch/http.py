"""GETs of presigned links with retries: network errors, 5xx and 429 are retried with
exponential back-off and jitter; an expired link (S3's 403 ``Request has expired``) is
not; anything else is final and named. A ranged GET (resuming a partial file) may also be
answered 412 (the object is no longer the ETag asked for: :class:`Mismatch`) or 416
(:class:`Restart`)."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from .links import is_expired_response, link_expired, new_session, s3_error_fields, send_as_given

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class FetchFailed(Exception):
    """One object (or part) could not be fetched; the message is the reason."""


class Mismatch(FetchFailed):
    """The bytes are not the object the part lists (size, checksum or ETag): never kept."""


def check_size(written: int, listed: int) -> None:
    if written != listed:
        raise Mismatch(f"size mismatch: got {written:,} bytes, the part lists {listed:,}")


def network_error(exc: Exception, url: str | None = None) -> str:
    """``network error reaching host:port: [Errno 111] Connection refused`` - short, no URL query."""
    where = f" reaching {urlsplit(url).netloc}" if url else ""
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", str(exc))
    return f"network error{where}: {errno.group(0) if errno else type(exc).__name__}"


class Retryable(Exception):
    pass


class Restart(Retryable):
    """Retry from byte 0: the partial file cannot be continued (the server refused its range)."""


class Cancelled(Exception):
    pass


class HttpClient:
    """A session sized for the threads, the retry policy, and a stop flag (Ctrl-C)."""

    def __init__(
        self, *, pool: int, retries: int = 4, backoff: float = 0.5, session: requests.Session | None = None
    ) -> None:
        self.retries = retries
        self.backoff = backoff
        self.session = session or new_session(pool)
        self.stop = threading.Event()

    def sleep_before_retry(self, attempt: int) -> None:
        delay = self.backoff * 2**attempt * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
        if self.stop.wait(delay):
            raise Cancelled

    def with_retries(self, what: str, attempt_once: Callable[[], Any]) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return attempt_once()
            except Retryable as exc:
                if attempt == self.retries:
                    raise FetchFailed(f"{exc} (gave up after {attempt + 1} attempts)") from None
                self.sleep_before_retry(attempt)
        raise AssertionError(what)  # pragma: no cover - the loop returns or raises

    def get(self, url: str, headers: dict[str, str] | None = None) -> requests.Response:
        """GET ``url`` streaming, its path sent as given (``links.send_as_given``)."""
        return send_as_given(self.session, url, headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), stream=True)

    def open(self, url: str, what: str, headers: dict[str, str] | None = None) -> requests.Response:
        """GET ``url`` streaming; raise LinkExpired, FetchFailed (final) or Retryable.

        With a ``Range`` header a 206 is an answer too; the caller checks its Content-Range."""
        headers = headers or {}
        try:
            response = self.get(url, headers)
        except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL):
            raise FetchFailed(f"not an http(s) URL: {url[:100]!r} (paste the whole link you were sent)") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Retryable(network_error(exc, url)) from exc
        if response.status_code == 200 or (response.status_code == 206 and "Range" in headers):
            return response
        with response:
            try:
                body = response.raw.read(16384, decode_content=True) or b""
            except (requests.RequestException, urllib3.exceptions.HTTPError):
                body = b""
        if is_expired_response(response.status_code, body):
            raise link_expired(url, what)
        code, message = s3_error_fields(body)
        detail = f"HTTP {response.status_code}" + (f" {code}" if code else "") + (f": {message}" if message else "")
        if response.status_code == 412 and "If-Match" in headers:
            raise Mismatch(f"changed since the index was made: not ETag {headers['If-Match']} any more ({detail})")
        if response.status_code == 416 and "Range" in headers:
            raise Restart(f"{detail} for {headers['Range']}; starting over")
        if response.status_code in RETRY_STATUSES:
            raise Retryable(detail)
        raise FetchFailed(detail)
