"""The demo's link check, done the way a recipient with no AWS account does it: follow the index
URL, the parts, the objects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from fanout_fetch import interrupts
from fanout_fetch.links import (  # re-exported: the demo verifies links the way a recipient follows them
    LinkExpired,
    http_get,
    iter_part_lines,
    new_session,
    read_index,
)


@dataclass
class Verification:
    parts: int = 0
    listed: int = 0
    checked: int = 0
    failures: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


def verify_chain(
    index_url: str,
    expected_body: Callable[[str], bytes],
    *,
    sample: int | None = None,
    threads: int = 16,
    on_object: Callable[[], None] | None = None,
    on_listed: Callable[[int], None] | None = None,
) -> Verification:
    """GET the index, every part, and objects (all, or the first ``sample``) through their URLs."""
    session = new_session(threads)
    result = Verification()
    index = read_index(session, index_url)
    lines: list[dict[str, Any]] = []
    for part in index["parts"]:
        interrupts.check()
        part_lines = list(iter_part_lines(session, part["url"]))
        if len(part_lines) != part["count"]:
            result.failures.append(f"part {part['key']}: {len(part_lines)} lines, index says {part['count']}")
        lines.extend(part_lines)
        result.parts += 1
    result.listed = len(lines)
    result.keys = [line["key"] for line in lines]
    if index["count"] != len(lines):
        result.failures.append(f"index count {index['count']} != {len(lines)} lines in its parts")
    chosen = lines if sample is None else lines[:sample]
    if on_listed is not None:
        on_listed(len(chosen))

    def check(line: dict[str, Any]) -> str | None:
        try:
            body = http_get(session, line["url"])
        except (requests.RequestException, LinkExpired) as exc:
            return f"{line['key']}: {exc}"
        finally:
            if on_object is not None:
                on_object()
        if body != expected_body(line["key"]) or len(body) != line["size"]:
            return f"{line['key']}: content or size differs"
        return None

    # Interruptible (a signal raises Interrupted between checks, never inside a pool's lock).
    for problem in interrupts.parallel(check, chosen, threads=threads):
        result.checked += 1
        if problem:
            result.failures.append(problem)
    return result
