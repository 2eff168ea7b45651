"""Synthetic source data for the demo: PDFs (and some non-PDFs) across prefixes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fanout_fetch import interrupts


def synthetic_body(key: str) -> bytes:
    """Deterministic content, so a recipient's download can be checked byte for byte."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    filler = digest * (1 + int(digest[:2], 16) // 16)
    return f"%PDF-1.4\n% synthetic object {key}\n% {filler}\n%%EOF\n".encode()


@dataclass(frozen=True)
class Dataset:
    keys: list[str]
    matching: list[str]  # the keys a ".pdf" run must list
    prefixes: list[str]


def make_dataset(objects: int, prefixes: int) -> Dataset:
    """``objects`` keys: ~90 % PDFs spread over ``prefixes`` sub-prefixes (some nested, some
    with odd characters), the rest .txt/.jpg, plus a few PDFs at the root."""
    names = [f"dept-{i:02d}/" for i in range(prefixes)]
    if names:
        names[-1] = f"dept {prefixes - 1:02d} + misc/"  # a space and a plus in a prefix
    keys: list[str] = []
    for i in range(objects):
        if i % 50 == 7 or not names:
            keys.append(f"root-{i:06d}.pdf")
            continue
        prefix = names[i % len(names)]
        nested = "2026/" if i % 3 == 0 else ""
        extension = (".txt", ".jpg")[i % 2] if i % 10 == 9 else (".pdf", ".PDF")[i % 17 == 0]
        keys.append(f"{prefix}{nested}report-{i:06d}{extension}")
    matching = [k for k in keys if k.lower().endswith(".pdf")]
    return Dataset(keys=keys, matching=matching, prefixes=names)


def upload_keys(
    s3: Any,
    bucket: str,
    keys: list[str],
    body_for: Callable[[str], bytes],
    *,
    threads: int = 16,
    on_done: Callable[[], None] | None = None,
) -> None:
    """PutObject each key, in parallel threads (boto3 clients are thread-safe). A signal
    (``fanout_fetch.interrupts``) raises Interrupted here, between uploads: the puts in
    flight are left to end with the process."""

    def put(key: str) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=body_for(key))
        if on_done is not None:
            on_done()

    interrupts.parallel(put, keys, threads=threads)
