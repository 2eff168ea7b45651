"""When BuildManifest stops listing: early enough to finish its part before the timeout -
its invocation's, or its child execution's (``budget_until``), whichever comes first."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# Unset: 20 s, but at most a quarter of the time the invocation had.
DEFAULT_SAFETY_MS = 20_000


class DeadlineCheck:
    """True once too little time is left for one more page plus finishing the part.

    The margin is the larger of a floor (``safety_ms``; by default 20 s but at most a
    quarter of the time we started with) and three times the slowest page seen so far, so
    a slow network or a short local timeout still leaves room to complete the part.
    ``budget_until`` (epoch seconds) is a second clock: the unit's child execution's limit.
    """

    def __init__(
        self,
        context: Any,
        safety_ms: int | None = None,
        *,
        budget_until: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        lambda_left = getattr(context, "get_remaining_time_in_millis", None)
        self._clocks: list[Callable[[], int]] = []
        if lambda_left is not None:
            self._clocks.append(lambda: int(lambda_left()))
        if budget_until is not None:
            self._clocks.append(lambda: int((budget_until - clock()) * 1000))
        start = self._remaining() if self._clocks else 0
        self._floor = safety_ms if safety_ms is not None else min(DEFAULT_SAFETY_MS, max(start, 0) // 4)
        self._last = start
        self._slowest = 0

    def _remaining(self) -> int:
        return min(left() for left in self._clocks)

    def __call__(self) -> bool:
        if not self._clocks:
            return False
        now = self._remaining()
        self._slowest = max(self._slowest, self._last - now)
        self._last = now
        return now < max(self._floor, 3 * self._slowest)
