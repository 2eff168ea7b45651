"""A threaded HTTP reverse proxy in front of the moto server, for fault injection.

Every request goes through ``rule(request)``, which decides what happens to it:

* ``None`` (or :data:`FORWARD`) - forward it to the upstream server unchanged;
* :class:`Respond` - answer with that status and an S3 XML error body, never reaching S3;
* :data:`DROP` - close the connection without answering (a network failure);
* :class:`Rewrite` - forward it, then change the answer (status, headers, body);
* :class:`CutAfter` - forward it, then send the headers but only the body's first bytes and
  close the connection (or first stall, holding it open), as a network failing mid-download.

The proxy records every request and what it did with it, so a test can prove a fault was
actually injected (and how often the client retried).

    with S3Proxy(moto_endpoint, rule=lambda r: Respond.s3_error(503, "SlowDown") if ... else None) as proxy:
        monkeypatch.setenv("S3_ENDPOINT_URL", proxy.url)
"""

from __future__ import annotations

import http.client
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

# Headers that describe one hop, not the message (RFC 9110 section 7.6.1).
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)


class _RequestFacts:
    """What kind of S3 request this is (path-style S3: ``/{bucket}/{key}``)."""

    method: str
    path: str
    query: dict[str, list[str]]

    @property
    def bucket(self) -> str:
        return unquote(self.path.lstrip("/").split("/", 1)[0])

    @property
    def key(self) -> str:
        parts = self.path.lstrip("/").split("/", 1)
        return unquote(parts[1]) if len(parts) > 1 else ""

    @property
    def is_list_objects_v2(self) -> bool:
        return self.method == "GET" and not self.key and self.query.get("list-type") == ["2"]

    @property
    def is_continuation_page(self) -> bool:
        """A ListObjectsV2 request for page 2 or later."""
        return self.is_list_objects_v2 and "continuation-token" in self.query

    @property
    def is_upload_part(self) -> bool:
        return self.method == "PUT" and "partNumber" in self.query and "uploadId" in self.query


@dataclass(frozen=True)
class ProxyRequest(_RequestFacts):
    """What a rule sees of one request."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Respond:
    """Answer the request ourselves."""

    status: int
    body: bytes = b""
    content_type: str = "application/xml"

    @classmethod
    def s3_error(cls, status: int, code: str, message: str | None = None, resource: str = "") -> Respond:
        text = message or code
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(text)}</Message>"
            f"<Resource>{escape(resource)}</Resource><RequestId>proxy-injected</RequestId></Error>"
        ).encode()
        return cls(status=status, body=body)


Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Rewrite:
    """Forward the request, then answer ``edit(status, headers, body)`` instead."""

    edit: Callable[[int, Headers, bytes], tuple[int, Headers, bytes]]


@dataclass(frozen=True)
class CutAfter:
    """Forward the request; send the answer's headers (its full Content-Length) and ``size``
    bytes of its body, then close the connection - after ``stall`` seconds of sending nothing
    more, if given (a client sees a download hang mid-body)."""

    size: int
    stall: float = 0.0


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()
FORWARD: Final = None

Action = Respond | Rewrite | CutAfter | _Drop | None
Rule = Callable[[ProxyRequest], Action]


@dataclass(frozen=True)
class Seen(_RequestFacts):
    """One request the proxy handled and what it did (``action`` forward/respond/drop;
    ``status`` None when dropped)."""

    method: str
    path: str
    query: dict[str, list[str]]
    action: str
    status: int | None
    headers: dict[str, str] = field(default_factory=dict, compare=False)


def forward_all(_request: ProxyRequest) -> Action:
    return FORWARD


@dataclass
class _State:
    upstream_host: str
    upstream_port: int
    rule: Rule
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip(), 16)
                if size == 0:
                    # Trailers end with an empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(chunks)
                chunks += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        state = self.server.state
        body = self._read_body()
        split = urlsplit(self.path)
        request = ProxyRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
        )
        action = state.rule(request)
        if isinstance(action, _Drop):
            self._record(request, "drop", None)
            self.close_connection = True
            # RST rather than FIN: the client sees a reset connection mid-request.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return
        if isinstance(action, Respond):
            self._record(request, "respond", action.status)
            self._reply(action.status, [("Content-Type", action.content_type)], action.body)
            return
        status, headers, payload = self._forward(request, split.query)
        if isinstance(action, Rewrite):
            status, headers, payload = action.edit(status, headers, payload)
            self._record(request, "rewrite", status)
            self._reply(status, headers, payload)
            return
        if isinstance(action, CutAfter):
            self._record(request, "cut", status)
            self._reply(status, headers, payload[: action.size], length=len(payload))
            self.wfile.flush()
            self.close_connection = True
            # Closed, not reset: a reset would drop bytes the client has not read yet.
            time.sleep(action.stall)
            return
        self._record(request, "forward", status)
        self._reply(status, headers, payload)

    def _forward(self, request: ProxyRequest, raw_query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        state = self.server.state
        target = request.path + (f"?{raw_query}" if raw_query else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers.pop("Content-Length", None)
        headers.pop("content-length", None)
        connection = http.client.HTTPConnection(state.upstream_host, state.upstream_port, timeout=60)
        try:
            connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            if request.body or request.method in {"PUT", "POST"}:
                connection.putheader("Content-Length", str(len(request.body)))
            connection.endheaders(request.body or None)
            response = connection.getresponse()
            payload = response.read()
            out = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP | {"content-length"}]
            return response.status, out, payload
        finally:
            connection.close()

    def _reply(self, status: int, headers: Headers, body: bytes, *, length: int | None = None) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _record(self, request: ProxyRequest, action: str, status: int | None) -> None:
        state = self.server.state
        with state.lock:
            state.seen.append(Seen(request.method, request.path, request.query, action, status, request.headers))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (after a cut or reset we injected, or a timeout) is expected
        # here: no traceback on stderr for it.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class S3Proxy:
    """Context manager: ``with S3Proxy(upstream_url, rule) as proxy: ... proxy.url``."""

    def __init__(self, upstream_url: str, rule: Rule = forward_all) -> None:
        upstream = urlsplit(upstream_url)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State(upstream.hostname or "127.0.0.1", upstream.port or 80, rule)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="s3-proxy", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def rule(self) -> Rule:
        return self._server.state.rule

    @rule.setter
    def rule(self, rule: Rule) -> None:
        self._server.state.rule = rule

    @property
    def seen(self) -> list[Seen]:
        with self._server.state.lock:
            return list(self._server.state.seen)

    def clear(self) -> None:
        """Forget the requests seen so far."""
        with self._server.state.lock:
            self._server.state.seen.clear()

    def start(self) -> S3Proxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> S3Proxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class EveryNth:
    """A rule that applies ``action`` to every ``n``-th request matching ``when`` (thread-safe).

    For fault injection: ``EveryNth(5, lambda r: Respond.s3_error(503, "SlowDown"))``.
    """

    def __init__(
        self,
        n: int,
        action: Callable[[ProxyRequest], Action],
        when: Callable[[ProxyRequest], bool] = lambda _request: True,
    ) -> None:
        self._n = n
        self._action = action
        self._when = when
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, request: ProxyRequest) -> Action:
        if not self._when(request):
            return FORWARD
        with self._lock:
            self._count += 1
            hit = self._count % self._n == 0
        return self._action(request) if hit else FORWARD


class RotatingFaults:
    """A rule: 503 SlowDown, 500 InternalError, a dropped connection - in turn, on every
    request it is asked about (wrap it in :class:`EveryNth` for some); ``injected`` counts each."""

    KINDS: Final = ("slowdown", "internal", "drop")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turn = 0
        self.injected: dict[str, int] = dict.fromkeys(self.KINDS, 0)

    def __call__(self, _request: Any) -> Any:
        with self._lock:
            kind = self.KINDS[self._turn % len(self.KINDS)]
            self._turn += 1
            self.injected[kind] += 1
        if kind == "slowdown":
            return Respond.s3_error(503, "SlowDown", "Please reduce your request rate.")
        if kind == "internal":
            return Respond.s3_error(500, "InternalError", "We encountered an internal error.")
        return DROP


def fast_retries(monkeypatch: Any, delay: float = 0.01) -> None:
    """Keep botocore's retries (same attempts, same retryable errors) but not its back-off.

    Standard mode sleeps rand(0, 1) * 2**attempt (up to 20 s) between attempts: a fault
    that outlasts every retry would take ~40 s per request. aiobotocore uses botocore's
    ExponentialBackoff, so patching the class covers both.
    """
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: delay)
