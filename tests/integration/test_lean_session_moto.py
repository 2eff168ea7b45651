"""The lean probe's aiohttp session kept per process (s3fanout.runtime.probe_http_session):
warm ListPrefixes invocations reuse its connections, counted at a TCP relay in front of moto
(behind tests.support.s3_proxy, which keeps connections alive);
without it each run opens and closes its own, as before."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from botocore.config import Config

from s3fanout import runtime
from s3fanout.handlers import list_prefixes
from s3fanout.list_prefixes import plan_units
from s3fanout.list_probe import LeanProbe, lean_prober
from s3fanout.listing import ProbePage
from s3fanout.records import RunRequest
from s3fanout.s3 import PLANNING_CLIENT_CONFIG, new_session
from tests.support.function_identity import forget_runtime_clients
from tests.support.lambda_context import FakeLambdaContext
from tests.support.s3_helpers import put_keys
from tests.support.s3_proxy import ProxyRequest, S3Proxy

# Probes in flight at once in these runs (ListPrefixes' own is 128): few, so a run surely
# opens every connection its pool allows.
CONCURRENCY = 8


class CountingRelay:
    """A TCP relay in front of ``upstream``: how many connections clients opened through
    it, and how many are open now (the server's view of a connection pool)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.opened = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def open_now(self) -> int:
        with self._lock:
            return len(self._open)

    def wait_open(self, expected: int, seconds: float = 5.0) -> int:
        """The open connections once they are ``expected`` (closing ones take a moment)."""
        deadline = time.monotonic() + seconds
        while self.open_now != expected and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.open_now

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed by stop()
                return
            upstream = socket.create_connection(self._upstream)
            with self._lock:
                self.opened += 1
                self._open.add(client)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, client: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(client)
            for sock in (source, sink):  # (wakes the other direction's pump too)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def drop_open(self) -> None:
        """Close every open connection, as a server does with idle ones (S3 after ~20 s,
        some S3-compatible servers after a few)."""
        with self._lock:
            live = list(self._open)
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._listener.close()
        self.drop_open()


@pytest.fixture
def fresh_runtime() -> Iterator[None]:
    """The runtime's clients and sessions of this test only (closed after it)."""
    forget_runtime_clients()
    yield
    forget_runtime_clients()


@pytest.fixture
def relay(moto_endpoint: str) -> Iterator[CountingRelay]:
    # moto's server (werkzeug's) closes every connection after one answer; S3Proxy keeps
    # them alive, as S3 does.
    with S3Proxy(moto_endpoint) as keep_alive:
        relay = CountingRelay(keep_alive.url)
        yield relay
        relay.stop()


@pytest.fixture
def seeded(s3: Any, bucket: str) -> str:
    # Enough keys that planning samples them: tens of probes, CONCURRENCY at once.
    put_keys(s3, bucket, [f"docs/{i:05d}" for i in range(6000)], body=b"x")
    return bucket


def _request(bucket: str) -> RunRequest:
    return RunRequest(bucket=bucket, prefix="", suffix="", expires_in=900, max_concurrency=40)


async def _runtime_plan(bucket: str, stats: dict[str, int]) -> None:
    """One warm planning run the way ListPrefixes plans: the runtime's client and session."""
    client = await runtime.s3_client(PLANNING_CLIENT_CONFIG)
    await plan_units(
        client,
        _request(bucket),
        min_unit=10,
        stats=stats,
        concurrency=CONCURRENCY,
        http_sessions=runtime.probe_http_session,
    )


def _use(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("S3_ENDPOINT_URL", endpoint)
    runtime.settings.cache_clear()


@pytest.mark.usefixtures("fresh_runtime")
def test_warm_runs_open_their_connections_once(
    seeded: str, relay: CountingRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, relay.url)
    opened: list[int] = []
    for _ in range(2):
        stats: dict[str, int] = {}
        runtime.run_async(_runtime_plan(seeded, stats))
        assert stats["lean_probes"] == stats["probes"] > 2 * CONCURRENCY
        opened.append(relay.opened)
    # The first run fills the pool; the warm one takes its connections, open between runs.
    assert 0 < opened[0] <= CONCURRENCY
    assert opened[1] == opened[0], opened
    assert relay.wait_open(opened[0]) == opened[0]
    # Closing the runtime at exit closes the session and its connections.
    session = runtime._http_sessions[next(iter(runtime._http_sessions))][1]
    runtime._close_clients()
    assert session.closed
    assert relay.wait_open(0) == 0


@pytest.mark.usefixtures("fresh_runtime")
def test_a_warm_run_after_the_server_dropped_the_idle_connections_stays_lean(
    seeded: str, relay: CountingRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server closed the kept connections while the loop was not running (between
    invocations): the warm run must open new ones, not count failed probes (16 fallbacks
    would leave the lean path for the whole run)."""
    _use(monkeypatch, relay.url)
    runtime.run_async(_runtime_plan(seeded, {}))
    opened = relay.opened
    relay.drop_open()
    assert relay.wait_open(0) == 0
    stats: dict[str, int] = {}
    runtime.run_async(_runtime_plan(seeded, stats))
    assert stats["lean_fallbacks"] == 0, stats
    assert stats["lean_probes"] == stats["probes"]
    assert relay.opened > opened  # new connections replaced the dropped ones


def test_without_a_shared_session_each_run_has_its_own(seeded: str, relay: CountingRelay) -> None:
    async def twice() -> list[tuple[int, int]]:
        seen = []
        async with new_session().client(
            "s3", endpoint_url=relay.url, region_name="us-east-1", config=PLANNING_CLIENT_CONFIG
        ) as client:
            for _ in range(2):
                stats: dict[str, int] = {}
                await plan_units(client, _request(seeded), min_unit=10, stats=stats, concurrency=CONCURRENCY)
                assert stats["lean_probes"] == stats["probes"]
                seen.append((relay.opened, relay.wait_open(0)))
        return seen

    (first, open_after_first), (second, open_after_second) = asyncio.run(twice())
    assert first > 0
    assert second > first  # the second run handshakes again
    assert open_after_first == open_after_second == 0  # each run closed its session


@pytest.mark.usefixtures("fresh_runtime")
def test_the_session_survives_a_run_that_raised(
    seeded: str, relay: CountingRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, relay.url)

    class Boom(Exception):
        pass

    async def fail_inside() -> aiohttp.ClientSession:
        client = await runtime.s3_client(PLANNING_CLIENT_CONFIG)
        async with lean_prober(
            client, seeded, "", concurrency=CONCURRENCY, http_sessions=runtime.probe_http_session
        ) as probe:
            lean: LeanProbe = probe.__self__  # type: ignore[attr-defined]
            assert (await probe(None, 3)).keys == ("docs/00000", "docs/00001", "docs/00002")
            raise Boom
        return lean._session  # (not reached)

    async def session_of_a_failed_run() -> aiohttp.ClientSession:
        with pytest.raises(Boom):
            await fail_inside()
        return await runtime.probe_http_session(relay.url, CONCURRENCY)

    async def probe_again() -> aiohttp.ClientSession:
        client = await runtime.s3_client(PLANNING_CLIENT_CONFIG)
        async with lean_prober(
            client, seeded, "", concurrency=CONCURRENCY, http_sessions=runtime.probe_http_session
        ) as probe:
            assert (await probe("docs/00002", 1)).keys == ("docs/00003",)
            return probe.__self__._session  # type: ignore[attr-defined, no-any-return]

    session = runtime.run_async(session_of_a_failed_run())
    assert not session.closed
    assert relay.opened == relay.wait_open(1) == 1  # the probe's connection, kept
    assert runtime.run_async(probe_again()) is session
    assert relay.opened == 1  # and used again


@pytest.mark.usefixtures("fresh_runtime")
def test_each_probe_carries_its_runs_timeout(s3: Any, bucket: str, moto_endpoint: str) -> None:
    """The shared session has no timeout of its own: a run with short ones (the client's
    config) gives up on a slow lean probe and asks again through aiobotocore."""
    put_keys(s3, bucket, ["a", "b"])

    def slow_lean(request: ProxyRequest) -> Any:
        if "X-Amz-Signature" in request.query:  # presigned: the lean probe's
            time.sleep(1.5)
        return None

    short = PLANNING_CLIENT_CONFIG.merge(Config(connect_timeout=0.2, read_timeout=0.3))

    async def run(endpoint: str) -> tuple[list[ProbePage], dict[str, int]]:
        pages = []
        stats: dict[str, int] = {}
        for config in (PLANNING_CLIENT_CONFIG, short):  # the session is made for the first
            async with (
                new_session().client("s3", endpoint_url=endpoint, region_name="us-east-1", config=config) as client,
                lean_prober(
                    client, bucket, "", concurrency=2, stats=stats, http_sessions=runtime.probe_http_session
                ) as probe,
            ):
                pages.append(await probe(None, 5))
        return pages, stats

    with S3Proxy(moto_endpoint, rule=slow_lean) as proxy:
        pages, stats = runtime.run_async(run(proxy.url))
        time.sleep(1.6)  # the proxy finishes the request the client gave up on
    assert pages == [ProbePage(("a", "b"), False)] * 2
    assert stats == {"lean_probes": 0, "lean_fallbacks": 1}  # the second run's
    assert len(runtime._http_sessions) == 1


@pytest.mark.usefixtures("fresh_runtime")
def test_a_warm_list_prefixes_invocation_reuses_the_connections(
    seeded: str, relay: CountingRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler itself hands the runtime's session over (its pool: 128 connections)."""
    _use(monkeypatch, relay.url)
    opened = []
    for _ in range(2):
        event = {"input": {"bucket": seeded}, "run_id": f"warm-{uuid.uuid4().hex[:8]}"}
        list_prefixes.lambda_handler(event, FakeLambdaContext())
        opened.append(relay.opened)
    assert len(runtime._http_sessions) == 1
    # The second invocation opens far fewer connections: none, or a few when it had more
    # probes in flight at once than the first left open.
    assert opened[1] - opened[0] <= opened[0] // 4, opened
