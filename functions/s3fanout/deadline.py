"""When BuildManifest stops listing: early enough to finish its part before the timeout."""

from __future__ import annotations

from typing import Any

# Unset: 20 s, but at most a quarter of the time the invocation had.
DEFAULT_SAFETY_MS = 20_000


class DeadlineCheck:
    """True once too little time is left for one more page plus finishing the part.

    The margin is the larger of a floor (``safety_ms``; by default 20 s but at most a
    quarter of the time we started with) and three times the slowest page seen so far, so
    a slow network or a short local timeout still leaves room to complete the part.
    """

    def __init__(self, context: Any, safety_ms: int | None = None) -> None:
        self._remaining = getattr(context, "get_remaining_time_in_millis", None)
        start = self._remaining() if self._remaining else 0
        self._floor = safety_ms if safety_ms is not None else min(DEFAULT_SAFETY_MS, start // 4)
        self._last = start
        self._slowest = 0

    def __call__(self) -> bool:
        if self._remaining is None:
            return False
        now = int(self._remaining())
        self._slowest = max(self._slowest, self._last - now)
        self._last = now
        return now < max(self._floor, 3 * self._slowest)
