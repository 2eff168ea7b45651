"""ListObjectsV2 as async streams of pages, with S3 errors turned into named errors.

With a client from :func:`s3fanout.s3.new_session`, the requests made here (``FAST_LISTING``
set) are parsed on the fast path of :mod:`s3fanout.botocore_overrides` (five fields per
object read from the raw page) and read ahead: the next page is requested while this one
is parsed (:class:`PageRun`). Other clients get botocore's full output, one request at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import ClientError, PaginationError

from .botocore_overrides import FAST_LISTING, url_decoded
from .errors import AWS_CALL_ERRORS, error_code, translate_client_error

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

    from .records import WorkUnit


class ObjectEntry(NamedTuple):
    """One listed object: all a manifest needs. A tuple (cheap to make per key); timestamps
    stay S3's text: nothing is parsed per key."""

    key: str
    size: int
    # Why it gets no link (an archived storage class, "folder marker"), or None.
    not_shared: str | None
    last_modified: str  # S3's LastModified text
    etag: str  # without its quotes


class PageRun:
    """One :func:`list_pages` run, as the response hook of botocore_overrides sees it.

    Set in ``FAST_LISTING`` (only) around the ListObjectsV2 calls made in this module: the
    hook and parser take the fast path only then, so every other caller of
    list_objects_v2 on the same client still gets botocore's complete output.

    Read-ahead: as soon as a page's raw body is in, the hook calls :meth:`prefetch` with
    its NextContinuationToken, so the next request is on the wire while this page is
    parsed and consumed. At most one prefetched page is unclaimed at a time (memory stays
    bounded when the consumer is slow), and a prefetch whose token differs from the one
    botocore then parses is cancelled and not used.
    """

    def __init__(
        self, client: S3Client, params: dict[str, Any], *, read_ahead: bool = True, keys_only: bool = False
    ) -> None:
        self.client = client
        self.params = params
        # Probes (one page each) must not request a second page nobody reads.
        self.read_ahead = read_ahead
        # Probes need only the keys: the parse puts them (decoded) here, not in Contents.
        self.keys_only = keys_only
        self.keys: list[str] | None = None
        self._ahead: tuple[str, asyncio.Task[Any]] | None = None

    async def prefetch(self, token: str) -> None:
        if self._ahead is not None or not self.read_ahead:
            return
        task = asyncio.ensure_future(self.client.list_objects_v2(**{**self.params, "ContinuationToken": token}))
        self._ahead = (token, task)
        await asyncio.sleep(0)  # let it reach the socket before this page is parsed

    def claim(self, token: str) -> asyncio.Task[Any] | None:
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        if ahead[0] == token:
            return ahead[1]
        ahead[1].cancel()
        return None

    def cancel(self) -> None:
        if self._ahead is not None:
            self._ahead[1].cancel()
            self._ahead = None


# Storage classes whose objects answer a GET with 403 InvalidObjectState until restored.
# GLACIER_IR (Instant Retrieval) is read like STANDARD; Intelligent-Tiering's archive tiers
# do not show in a listing at all (their StorageClass stays INTELLIGENT_TIERING).
ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
FOLDER_MARKER = "folder marker"


async def _first_page(run: PageRun, params: dict[str, Any]) -> Any:
    marker = FAST_LISTING.set(run)
    try:
        return await run.client.list_objects_v2(**params)
    finally:
        FAST_LISTING.reset(marker)


async def list_pages(client: S3Client, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """ListObjectsV2 pages, following continuation tokens like botocore's paginator.

    With a client from :func:`s3fanout.s3.new_session`, pages carry only the five fields
    of ``botocore_overrides.split_list_objects_v2`` per object and the next page is
    requested while this one is parsed (see :class:`PageRun`); other clients give
    botocore's full output, one request at a time.
    """
    params = dict(params)
    run = PageRun(client, dict(params))
    previous: str | None = None
    pending: asyncio.Task[Any] | None = None
    try:
        while True:
            if pending is not None:
                page, pending = await pending, None
            else:
                page = await _first_page(run, params)
            next_token = page.get("NextContinuationToken")
            more = bool(page.get("IsTruncated") and next_token)
            if more:
                if next_token == previous:
                    raise PaginationError(message=f"The same next token was received twice: {next_token}")
                previous = params["ContinuationToken"] = next_token
                pending = run.claim(next_token)
            else:
                run.cancel()
            yield page
            if not more:
                return
    finally:
        run.cancel()
        if pending is not None:
            pending.cancel()


@dataclass(frozen=True)
class ProbePage:
    """The first keys after a string, and whether more follow."""

    keys: tuple[str, ...]
    truncated: bool


async def probe_page(
    client: S3Client, bucket: str, prefix: str, start_after: str | None, *, max_keys: int = 1000
) -> ProbePage:
    """One ListObjectsV2 page (the planner's question: "the first keys after this string")."""
    # EncodingType=url asked for here (keys stay exact whatever characters they hold, as
    # botocore would ask): botocore then leaves the keys encoded, decoded below per page.
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys, "EncodingType": "url"}
    if start_after is not None:
        params["StartAfter"] = start_after
    run = PageRun(client, params, read_ahead=False, keys_only=True)
    try:
        page = await _first_page(run, params)
    except AWS_CALL_ERRORS as exc:
        raise translate_client_error(exc, bucket=bucket, operation="ListObjectsV2") from exc
    # The keys-only parse's keys; botocore's Contents where it was not taken (another client).
    raw = run.keys if run.keys is not None else [obj["Key"] for obj in page.get("Contents", ())]
    keys = tuple(url_decoded(raw) if page.get("EncodingType") == "url" else raw)
    return ProbePage(keys, bool(page.get("IsTruncated")) and bool(keys))


async def list_keys(client: S3Client, bucket: str, prefix: str) -> list[str]:
    """Every key under ``prefix`` (small listings: a run's summaries)."""
    keys: list[str] = []
    try:
        async for page in list_pages(client, {"Bucket": bucket, "Prefix": prefix}):
            keys.extend(obj["Key"] for obj in page.get("Contents", ()))
    except AWS_CALL_ERRORS as exc:
        raise translate_client_error(exc, bucket=bucket, operation="ListObjectsV2") from exc
    return keys


# Pages reach the consumer in batches this size, with a yield to the event loop between
# them: presigning a whole 1,000-key page is ~15 ms of CPU, and the next page's response
# (read-ahead) must not wait that long for the loop to notice it.
BATCH = 250


def not_shared(obj: dict[str, Any]) -> str | None:
    """Why a listed object gets no link, or None: an archived object not restored (its storage
    class: a link would answer 403 InvalidObjectState), or a zero-byte folder marker."""
    storage_class = obj.get("StorageClass")
    if storage_class in ARCHIVED_CLASSES:
        restore = obj.get("RestoreStatus")  # botocore's parse; the fast path sets "Restored"
        restored = obj.get("Restored") or (isinstance(restore, dict) and restore.get("IsRestoreInProgress") is False)
        if not restored:
            return str(storage_class)
    if obj["Size"] == 0 and obj["Key"].endswith("/"):
        return FOLDER_MARKER
    return None


# Codes an S3-compatible server answers when it does not know OptionalObjectAttributes.
_UNSUPPORTED = frozenset({"InvalidArgument", "NotImplemented", "InvalidRequest"})


async def _pages_with_optional_attributes(client: S3Client, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """``list_pages``, asking for RestoreStatus; a server that refuses that header on the
    first page (some S3-compatible ones) is asked again without it - the listing goes on,
    and archived objects are then judged by storage class alone."""
    first = True
    try:
        async for page in list_pages(client, params):
            first = False
            yield page
    except ClientError as exc:
        if not first or error_code(exc) not in _UNSUPPORTED:
            raise
        plain = {k: v for k, v in params.items() if k != "OptionalObjectAttributes"}
        async for page in list_pages(client, plain):
            yield page


async def iter_object_pages(client: S3Client, bucket: str, work: WorkUnit) -> AsyncIterator[list[ObjectEntry]]:
    """Yield the unit's objects in key order, a listing page at a time (in batches of BATCH)."""
    # RestoreStatus tells a restored copy of an archived object (absent for any other).
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": work.prefix, "OptionalObjectAttributes": ["RestoreStatus"]}
    if work.start_after:
        params["StartAfter"] = work.start_after
    end_key = work.end_key
    try:
        async for page in _pages_with_optional_attributes(client, params):
            rows = [
                (
                    obj["Key"],
                    obj["Size"],
                    not_shared(obj),
                    str(obj.get("LastModified", "")),
                    str(obj.get("ETag", "")).strip('"'),
                )
                for obj in page.get("Contents", ())
            ]
            # tuple.__new__ straight from C: ObjectEntry(...) is a Python call per key (~0.7 us).
            entries: list[ObjectEntry] = list(map(tuple.__new__, repeat(ObjectEntry), rows))
            done = end_key is not None and bool(entries) and entries[-1].key > end_key
            if done and end_key is not None:
                entries = [entry for entry in entries if entry.key <= end_key]
            for start in range(0, len(entries), BATCH):
                if start:
                    await asyncio.sleep(0)
                yield entries[start : start + BATCH]
            if done:
                return
    except AWS_CALL_ERRORS as exc:
        raise translate_client_error(exc, bucket=bucket, operation="ListObjectsV2") from exc
