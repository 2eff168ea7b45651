"""What every handler shares per execution environment: settings, event loop, S3 client.

Lambda reuses a warm environment for many invocations, so the event loop, the aioboto3
client (its connection pool, its endpoint resolution) and planning's lean probe session (its
connections: up to 128 TCP and TLS handshakes, ~0.1 s of CPU per planning run) live as long
as the process instead of being rebuilt on every invocation.
"""

from __future__ import annotations

import asyncio
import atexit
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from functools import cache
from typing import Any, TypeVar

import aiohttp
from botocore.config import Config

from .config import Settings
from .errors import InvalidInput
from .layout import RunLayout
from .observability import logger
from .presign import UrlSigner, new_url_signer
from .s3 import CLIENT_CONFIG, client_kwargs, new_session
from .signing_identity import load_signing_credentials
from .sigv4 import FrozenCredentials

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_clients: dict[tuple[Any, ...], Any] = {}
# Lean probe sessions by list_probe.http_session_key, with the loop each one runs on.
_http_sessions: dict[tuple[Any, ...], tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession]] = {}
_exit_stack: AsyncExitStack | None = None


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def _session() -> Any:
    return new_session()


async def s3_client(client_config: Config = CLIENT_CONFIG) -> Any:
    """The process-wide client for the current settings and ``client_config`` (kept open
    for warm invocations): ListPrefixes asks for s3.PLANNING_CLIENT_CONFIG's larger pool."""
    global _exit_stack  # noqa: PLW0603 - one per execution environment
    config = settings()
    key = (config.s3_endpoint_url, config.region, id(client_config))
    client = _clients.get(key)
    if client is None:
        if _exit_stack is None:
            _exit_stack = AsyncExitStack()
        kwargs = client_kwargs(config, client_config)
        client = await _exit_stack.enter_async_context(_session().client("s3", **kwargs))
        _clients[key] = client
    return client


async def probe_http_session(url: str, limit: int) -> aiohttp.ClientSession:
    """The process-wide aiohttp session for planning's lean probes to ``url`` with ``limit``
    connections (list_probe.HttpSessions), kept open for warm invocations and closed at exit
    like the clients. One that is closed, or on another loop, is never handed out again."""
    # (Imported here: only ListPrefixes probes, the other handlers' cold starts skip it.)
    from .list_probe import http_session_key, new_http_session  # noqa: PLC0415

    global _exit_stack  # noqa: PLW0603 - one per execution environment
    loop = asyncio.get_running_loop()
    key = http_session_key(url, limit)
    kept = _http_sessions.get(key)
    if kept is not None and kept[0] is loop and not kept[1].closed:
        return kept[1]
    if _exit_stack is None:
        _exit_stack = AsyncExitStack()
    session = await _exit_stack.enter_async_context(new_http_session(url, limit))
    _http_sessions[key] = (loop, session)
    return session


async def signing_credentials() -> FrozenCredentials | None:
    """The configured signing identity (SIGNING_SECRET_ARN), or None for the default chain."""
    config = settings()
    if config.signing_secret_arn is None:
        return None
    return await load_signing_credentials(
        _session(), config.signing_secret_arn, region=config.region, endpoint_url=config.secrets_endpoint_url
    )


def url_signer(
    bucket: str, expires_in: int, credentials: FrozenCredentials | None = None, *, region: str | None = None
) -> UrlSigner:
    """A signer for ``bucket``, for its own region when known (else the function's)."""
    config = settings()
    return new_url_signer(
        bucket,
        expires_in,
        region=region or config.region,
        endpoint_url=config.s3_endpoint_url,
        credentials=credentials,
    )


async def identity_url_signer(bucket: str, expires_in: int, *, region: str | None = None) -> UrlSigner:
    """``url_signer`` with the configured signing identity (loaded now: it may fail)."""
    return url_signer(bucket, expires_in, await signing_credentials(), region=region)


def run_layout(run_id: str) -> RunLayout:
    return RunLayout(root=settings().manifest_prefix, run_id=run_id)


@atexit.register
def _close_clients() -> None:
    """Close pooled connections when the process ends (tests, local workers)."""
    if _loop is not None and not _loop.is_closed() and _exit_stack is not None:
        _loop.run_until_complete(_exit_stack.aclose())


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a handler's coroutine on the environment's long-lived event loop.

    Bad input is logged as a warning (field and reason) before it fails the invocation.
    """
    global _loop, _exit_stack  # noqa: PLW0603
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
        # What the old loop's clients and sessions held died with it: none can be closed (or
        # used) on the new one, so the new loop starts a new exit stack too.
        _clients.clear()
        _http_sessions.clear()
        _exit_stack = None
    try:
        return _loop.run_until_complete(coroutine)
    except InvalidInput as exc:
        logger.warning("invalid input", extra={"field": exc.field, "reason": exc.reason})
        raise
