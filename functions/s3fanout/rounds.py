"""MergeIndex's first question: is every unit finished, or did a child execution's time limit
defer some to another Map round?

A unit's child execution (EXPRESS: at most 5 minutes) stops listing at its time budget and
leaves, in its summary, the Map item that continues it (``PartSummary.resume``). MergeIndex
collects those items as the next round's (``rounds/NNNN.json``) and the state machine runs
the Map again on them, until none are left; then it publishes.

An item sent once that left nothing behind (its function crashed before it could record
anything) is not sent again: that would loop forever. ``collect_parts`` names it instead.
Everything here is a function of what S3 holds, so a retried MergeIndex writes the same round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import InvalidInput
from .records import NextRound

if TYPE_CHECKING:
    from .records import PartSummary, RunRecord
    from .store import RunStore


def _item_id(item: dict[str, Any]) -> tuple[int, int, int]:
    return item["unit"], item["child"], item["segment"]


def deferred_items(summaries: list[PartSummary]) -> list[dict[str, Any]]:
    """The resume items of every unit (or piece) whose last segment so far was deferred."""
    last: dict[tuple[int, int], PartSummary] = {}
    for summary in summaries:
        where = (summary.unit, summary.child)
        if where not in last or summary.segment > last[where].segment:
            last[where] = summary
    items = [summary.resume for summary in last.values() if summary.resume is not None]
    return sorted(items, key=_item_id)


def round_number(store: RunStore, plan_key: str | None) -> int:
    """Which round just ended, from the items its Map read (None or the plan: round 0)."""
    if plan_key is None:
        return 0
    number = store.layout.round_of(plan_key)
    if number is None:
        where = store.layout.base
        raise InvalidInput("plan_key", plan_key, f"must be this run's plan or one of its rounds under {where}")
    return number


async def next_round(
    store: RunStore, run: RunRecord, summaries: list[PartSummary], ended: int, *, inline_plan: bool = False
) -> NextRound | None:
    """The next Map round, or None: nothing deferred is left to run (publish, or name what is
    missing). ``ended``: the round that just ended."""
    items = deferred_items(summaries)
    if not items:
        return None
    sent = {_item_id(item) for items_of in await store.read_rounds(list(range(1, ended + 1))) for item in items_of}
    items = [item for item in items if _item_id(item) not in sent]
    if not items:
        return None
    number = ended + 1
    await store.write_round(number, items)
    state = {**run.to_result(), "plan_key": store.layout.round_key(number)}
    if inline_plan:
        state["plan"] = items  # an INLINE Map's items (local Step Functions only), as ListPrefixes does
    return NextRound(state=state, deferred=len(items))
