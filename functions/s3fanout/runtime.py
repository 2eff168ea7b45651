"""What every handler shares per cold start: settings, the aioboto3 session, signers."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager
from functools import cache
from typing import Any, TypeVar

from .config import Settings
from .layout import RunLayout
from .presign import UrlSigner, new_url_signer
from .s3 import client_kwargs, new_session

T = TypeVar("T")


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def _session() -> Any:
    return new_session()


def s3_client() -> AbstractAsyncContextManager[Any]:
    """A fresh client per invocation: aiohttp sessions are bound to the running event loop."""
    return _session().client("s3", **client_kwargs(settings()))


def url_signer(bucket: str, expires_in: int) -> UrlSigner:
    config = settings()
    return new_url_signer(bucket, expires_in, region=config.region, endpoint_url=config.s3_endpoint_url)


def run_layout(run_id: str) -> RunLayout:
    return RunLayout(root=settings().manifest_prefix, run_id=run_id)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Lambda handlers are sync; each invocation gets its own event loop."""
    return asyncio.run(coroutine)
