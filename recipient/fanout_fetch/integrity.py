"""Is it the object the part lists? Size always; the ETag when the line carries one; MD5 when
the ETag is one.

S3's ETag is the MD5 of the bytes only for an object uploaded in one piece (32 hex digits,
no ``-N`` parts suffix) and stored unencrypted or with SSE-S3; with SSE-KMS (``aws:kms``,
``aws:kms:dsse``) or SSE-C it is not, and those objects get the size check only. A response
whose own ETag header differs from the line's is a changed object, whatever its kind.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .http import Mismatch

_PLAIN_MD5 = re.compile(r"[0-9a-fA-F]{32}")
_KMS = frozenset({"aws:kms", "aws:kms:dsse"})


def response_etag(headers: Mapping[str, str]) -> str | None:
    """The response's ETag without its quotes (or ``W/`` prefix), None if it sent none."""
    value = headers.get("ETag")
    if not value:
        return None
    return value.removeprefix("W/").strip('"')


def check_etag(headers: Mapping[str, str], listed: str | None) -> None:
    got = response_etag(headers)
    if listed and got and got != listed:
        raise Mismatch(f"changed since the index was made: ETag {got}, the part lists {listed}")


def is_md5_etag(etag: str | None) -> bool:
    """Whether ``etag`` can be the MD5 of the bytes: 32 hex digits (one-piece upload). A
    multipart ETag (``...-3``) never is; an SSE-KMS object's looks like one but is not."""
    return bool(etag) and _PLAIN_MD5.fullmatch(etag or "") is not None


def file_md5(path: Path) -> str:
    """The MD5 of ``path``'s bytes, read in 1 MiB chunks."""
    hasher = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            hasher.update(chunk)
    return hasher.hexdigest()


def md5_hasher(headers: Mapping[str, str], listed: str | None) -> Any | None:
    """A fresh MD5 if ``listed`` is the MD5 of the bytes this response carries, else None."""
    if not listed or not _PLAIN_MD5.fullmatch(listed):
        return None
    if headers.get("x-amz-server-side-encryption", "").lower() in _KMS:
        return None
    if "x-amz-server-side-encryption-customer-algorithm" in headers:
        return None
    return hashlib.md5(usedforsecurity=False)


def check_md5(hasher: Any | None, listed: str | None) -> None:
    if hasher is not None and listed and hasher.hexdigest() != listed.lower():
        raise Mismatch(f"checksum mismatch: MD5 {hasher.hexdigest()} != ETag {listed}")
