"""GETs of presigned links with retries: network errors, timeouts, 5xx and 429 are retried
with exponential back-off and jitter; an expired link (S3's 403 ``Request has expired``) is
not; anything else is final and named. A ranged GET (resuming a partial file) may also be
answered 412 (the object is no longer the ETag asked for: :class:`Mismatch`) or 416
(:class:`Restart`).

Every wait is bounded. An attempt fails after ``CONNECT_TIMEOUT`` seconds without a
connection or ``READ_TIMEOUT`` seconds without a byte; each retry is announced
(``on_retry``: ``reading the index: timed out after 10 s waiting for host, retry 1 of 4``);
and no retry starts past ``WAIT_BOUND`` seconds after the first attempt began, each attempt's
timeouts cut to the time left, unless an attempt received bytes (a download making progress
restarts that clock). So a server that accepts
connections and never answers costs ``WAIT_BOUND`` seconds (plus at most one back-off), not
``retries`` x ``READ_TIMEOUT``. A wait given up without any answer from anywhere while it
lasted (no response, no byte, in any thread) marks the client ``silent``: the server has
stopped answering, and the fetch starts nothing more that would wait the same way."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from .links import is_expired_response, link_expired, new_session, s3_error_fields, send_as_given

CONNECT_TIMEOUT = 10.0  # seconds to connect
READ_TIMEOUT = 10.0  # seconds without a byte: the attempt failed
WAIT_BOUND = 30.0  # seconds a wait may last, its retries included, while no bytes arrive
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class FetchFailed(Exception):
    """One object (or part) could not be fetched; the message is the reason."""


class Mismatch(FetchFailed):
    """The bytes are not the object the part lists (size, checksum or ETag): never kept."""


def check_size(written: int, listed: int) -> None:
    if written != listed:
        raise Mismatch(f"size mismatch: got {written:,} bytes, the part lists {listed:,}")


def network_error(exc: Exception, url: str | None = None) -> str:
    """``network error reaching host:port: [Errno 111] Connection refused`` or ``timed out after
    10 s waiting for host:port`` - short, no URL query."""
    host = urlsplit(url).netloc if url else ""
    text = str(exc)
    timeout = re.search(r"timeout=([0-9.]+)", text)
    if timeout or isinstance(exc, requests.Timeout | TimeoutError) or "timed out" in text.lower():
        seconds = f" after {round(float(timeout.group(1)), 1):g} s" if timeout else ""
        connecting = isinstance(exc, requests.ConnectTimeout) or "connect timeout" in text.lower()
        where = f" {'connecting to' if connecting else 'waiting for'} {host}" if host else ""
        return f"timed out{seconds}{where}"
    where = f" reaching {host}" if host else ""
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    return f"network error{where}: {errno.group(0) if errno else type(exc).__name__}"


class Retryable(Exception):
    """Worth another attempt. ``progressed``: this attempt received bytes of the body (a
    download moving forward), which restarts the ``WAIT_BOUND`` clock."""

    def __init__(self, message: str, *, progressed: bool = False) -> None:
        super().__init__(message)
        self.progressed = progressed


class Restart(Retryable):
    """Retry from byte 0: the partial file cannot be continued (the server refused its range)."""


class Cancelled(Exception):
    pass


class Wait:
    """One bounded wait for ``what`` (``reading the index``, ``downloading <key>``): at most
    ``retries`` retries, none starting past ``bound`` seconds after the wait began (or after the
    last attempt that received bytes), each attempt's timeouts cut to the time left."""

    def __init__(self, client: HttpClient, what: str) -> None:
        self.client = client
        self.what = what
        self.attempts = 0
        self.since = time.monotonic()

    def timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts for the next attempt: the usual ones, cut to the time left."""
        left = max(self.client.bound - (time.monotonic() - self.since), 0.1)
        return min(self.client.connect_timeout, left), min(self.client.read_timeout, left)

    def failed(self, exc: Retryable) -> None:
        """After a failed attempt: announce the retry and sleep, or raise FetchFailed (given up)."""
        self.attempts += 1
        now = time.monotonic()
        if exc.progressed:
            self.since = now
        if self.attempts > self.client.retries:
            raise self._give_up(exc, f"{exc} (gave up after {self.attempts} attempts)")
        delay = self.client.backoff * 2 ** (self.attempts - 1) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter
        waited = now - self.since
        if waited + delay >= self.client.bound:
            raise self._give_up(exc, f"{exc} (gave up after {self.attempts} attempts in {waited:.0f} s)")
        self.client.on_retry(f"{self.what}: {exc}, retry {self.attempts} of {self.client.retries}")
        if self.client.stop.wait(delay):
            raise Cancelled

    def _give_up(self, exc: Retryable, reason: str) -> FetchFailed:
        if not exc.progressed and self.client.last_answer <= self.since and self.client.silent is None:
            self.client.silent = f"the server stopped answering ({self.what}: {reason})"
        return FetchFailed(reason)


class HttpClient:
    """A session sized for the threads, the retry policy and its bounds, and a stop flag (Ctrl-C).

    ``on_retry`` is told each retry, in a sentence (the command shows it on stderr)."""

    def __init__(
        self,
        *,
        pool: int,
        retries: int = 4,
        backoff: float = 0.5,
        session: requests.Session | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        bound: float = WAIT_BOUND,
    ) -> None:
        self.retries = retries
        self.backoff = backoff
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.bound = bound
        self.session = session or new_session(pool)
        self.stop = threading.Event()
        self.on_retry: Callable[[str], None] = lambda _message: None
        self.last_answer = time.monotonic()  # when a response or a byte last arrived, in any thread
        self.silent: str | None = None  # why the server counts as gone (``Wait._give_up``), once it does
        self._attempt = threading.local()  # this thread's attempt's timeouts (``Wait.timeouts``)

    def wait(self, what: str) -> Wait:
        return Wait(self, what)

    def answered(self) -> None:
        """Something arrived (a response, body bytes): the server is not silent."""
        self.last_answer = time.monotonic()

    @contextmanager
    def bounded(self, wait: Wait) -> Iterator[None]:
        """The GETs this thread makes inside get ``wait``'s timeouts for its next attempt."""
        self._attempt.timeouts = wait.timeouts()
        try:
            yield
        finally:
            self._attempt.timeouts = None

    def attempt(self, wait: Wait, attempt_once: Callable[[], Any]) -> Any:
        with self.bounded(wait):
            return attempt_once()

    def with_retries(self, what: str, attempt_once: Callable[[], Any]) -> Any:
        """``attempt_once()``, retried on Retryable within a bounded :class:`Wait` for ``what``."""
        wait = self.wait(what)
        while True:
            try:
                return self.attempt(wait, attempt_once)
            except Retryable as exc:
                wait.failed(exc)

    def get(self, url: str, headers: dict[str, str] | None = None) -> requests.Response:
        """GET ``url`` streaming, its path sent as given (``links.send_as_given``)."""
        timeouts = getattr(self._attempt, "timeouts", None) or (self.connect_timeout, self.read_timeout)
        return send_as_given(self.session, url, headers, timeout=timeouts, stream=True)

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
        self.answered()
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
