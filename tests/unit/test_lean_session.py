"""s3fanout.runtime.probe_http_session without S3: one session per key and event loop, a
closed one or one on a dead loop never handed out again, and closed with the runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from s3fanout import runtime

HTTP = "http://127.0.0.1:9/bucket"
HTTPS = "https://s3.us-east-1.amazonaws.com/bucket"


def _forget_runtime() -> None:
    runtime._close_clients()
    runtime._clients.clear()
    runtime._http_sessions.clear()
    runtime._exit_stack = None


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    _forget_runtime()
    yield
    _forget_runtime()


def test_one_session_per_key() -> None:
    first = runtime.run_async(runtime.probe_http_session(HTTP, 4))
    assert runtime.run_async(runtime.probe_http_session(HTTP + "/other", 4)) is first
    assert runtime.run_async(runtime.probe_http_session(HTTP, 8)) is not first  # another pool size
    assert runtime.run_async(runtime.probe_http_session(HTTPS, 4)) is not first  # TLS
    sessions = [session for _loop, session in runtime._http_sessions.values()]
    assert len(sessions) == 3
    runtime._close_clients()
    assert all(session.closed for session in sessions)


def test_a_closed_session_is_not_handed_out_again() -> None:
    first = runtime.run_async(runtime.probe_http_session(HTTP, 4))
    runtime.run_async(first.close())
    second = runtime.run_async(runtime.probe_http_session(HTTP, 4))
    assert second is not first
    assert not second.closed


def test_a_new_loop_gets_a_new_session() -> None:
    first = runtime.run_async(runtime.probe_http_session(HTTP, 4))
    old_loop = runtime._loop
    assert old_loop is not None
    old_loop.close()
    second = runtime.run_async(runtime.probe_http_session(HTTP, 4))
    assert runtime._loop is not old_loop
    assert second is not first
    assert not second.closed
    # The new loop's exit stack closes the new session (the old one had no connection).
    runtime.run_async(first.close())
    runtime._close_clients()
    assert second.closed


async def _elsewhere() -> object:
    return await runtime.probe_http_session(HTTP, 4)


def test_a_session_on_another_loop_is_not_handed_out() -> None:
    kept = runtime.run_async(runtime.probe_http_session(HTTP, 4))
    assert asyncio.run(_elsewhere()) is not kept
