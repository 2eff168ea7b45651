"""BuildManifest's core: list a work unit, filter, presign, stream a JSONL part to S3."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .listing import ObjectEntry, iter_object_pages
from .pipeline import run_pipeline
from .records import PartSummary
from .writer import StreamingUpload

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

    from .layout import RunLayout
    from .presign import UrlSigner
    from .records import BuildRequest

JSONL_CONTENT_TYPE = "application/x-ndjson"
_dumps = json.JSONEncoder(ensure_ascii=False).encode


def folder_of(keys: list[str], prefix: str) -> str:
    """The deepest folder (``.../``) holding every key, at least ``prefix``: what a part of
    a key-range unit covers, in a reader's terms."""
    if not keys:
        return prefix
    first, last = keys[0], keys[-1]
    n = min(len(first), len(last))
    i = 0
    while i < n and first[i] == last[i]:
        i += 1
    common = first[:i]
    cut = common.rfind("/", len(prefix)) + 1
    return common[:cut] if cut > len(prefix) else prefix


def suffix_matcher(suffix: str) -> Callable[[str], bool]:
    """Case-insensitive suffix test; "" matches every key."""
    if not suffix:
        return lambda _key: True
    folded = suffix.casefold()
    if folded.isascii():
        lowered = suffix.lower()
        width = len(lowered)
        return lambda key: key[-width:].lower() == lowered
    return lambda key: key.casefold().endswith(folded)


def manifest_lines(entries: list[ObjectEntry], signer: UrlSigner) -> bytes:
    """JSONL lines ``{"key", "size", "etag", "last_modified", "url"}`` for a batch; one join
    per page, not per line. ``etag`` is the ETag without its quotes and ``last_modified`` S3's
    listing text, both as listed (a recipient checks its download against them)."""
    presign = signer.presign_get
    # URLs are plain ASCII with no quotes or backslashes; the listed texts are escaped like keys.
    lines = [
        f'{{"key":{_dumps(key)},"size":{size},"etag":{_dumps(etag)},"last_modified":{_dumps(modified)},'
        f'"url":"{presign(key)}"}}\n'
        for key, size, _why, modified, etag in entries
    ]
    return "".join(lines).encode("utf-8")


async def build_manifest(
    client: S3Client,
    signer: UrlSigner,
    request: BuildRequest,
    layout: RunLayout,
    manifest_bucket: str,
    *,
    queue_max: int,
    part_size: int,
    should_stop: Callable[[], bool] = lambda: False,
    oversized_at: int | None = None,
    skip_prefix: str | None = None,
) -> PartSummary:
    """Write one part for ``request``'s unit; stop early (with a continuation) if asked.

    ``oversized_at``: stop once this many keys were listed and more follow (the unit is
    far bigger than planned; the caller spreads the rest). ``skip_prefix``: keys listed
    but never written (earlier runs' manifests in the source bucket).
    """
    work = request.work
    selects = suffix_matcher(request.suffix)
    filters = request.filters if request.filters.active else None
    matches = selects if not skip_prefix else (lambda key: selects(key) and not key.startswith(skip_prefix))
    upload = StreamingUpload(
        client,
        manifest_bucket,
        layout.part_key(work.unit, request.segment, request.child),
        content_type=JSONL_CONTENT_TYPE,
        part_size=part_size,
    )
    state: dict[str, Any] = {"count": 0, "listed": 0, "object_bytes": 0, "last_key": None}
    written: dict[str, str] = {}  # "first" and "last" key written
    skipped: dict[str, int] = {}
    stopped = oversized = False

    async def write_page(entries: list[ObjectEntry]) -> None:
        nonlocal stopped, oversized
        if not entries:  # a range's last page can end before its first key
            return
        # Checked when another page is ready, not after the last one: a unit whose listing
        # is complete is done, however late. At least one page per segment: progress.
        if state["listed"]:
            if should_stop():
                stopped = True
                raise _StopListing
            if oversized_at is not None and state["listed"] >= oversized_at:
                stopped = oversized = True
                raise _StopListing
        state["listed"] += len(entries)
        state["last_key"] = entries[-1][0]
        selected = []
        for entry in entries:
            if matches(entry[0]) and (filters is None or filters.admits(entry[1], entry[3])):
                if entry[2] is None:
                    selected.append(entry)
                else:  # would match, but gets no link: counted by reason
                    skipped[entry[2]] = skipped.get(entry[2], 0) + 1
        if selected:
            written.setdefault("first", selected[0][0])
            written["last"] = selected[-1][0]
            upload.write(manifest_lines(selected, signer))
            state["count"] += len(selected)
            state["object_bytes"] += sum(entry[1] for entry in selected)
        if upload.needs_flush:
            await upload.flush()

    try:
        with contextlib.suppress(_StopListing):
            await run_pipeline(iter_object_pages(client, request.bucket, work), write_page, maxsize=queue_max)
        size = await upload.close()
    except BaseException:
        await upload.abort()
        raise
    return PartSummary(
        unit=work.unit,
        segment=request.segment,
        prefix=folder_of(list(written.values()), work.prefix),
        count=state["count"],
        bytes=size,
        object_bytes=state["object_bytes"],
        part_key=upload.key,
        listed=state["listed"],
        done=not stopped,
        next_start_after=state["last_key"] if stopped else None,
        child=request.child,
        first_key=written.get("first"),
        last_key=written.get("last"),
        oversized=oversized,
        skipped=skipped,
    )


class _StopListing(Exception):  # never escapes build_manifest
    """Raised by the consumer to end the pipeline early at a page boundary."""
