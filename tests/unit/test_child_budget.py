"""A unit's child execution keeps to its time budget: when BuildManifest stops, what it
defers, and which items MergeIndex sends round again (``deadline``, ``build_manifest``,
``rounds``, ``layout``)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from s3fanout.build_manifest import deferred_item, with_child_budget
from s3fanout.deadline import DeadlineCheck
from s3fanout.errors import InvalidInput
from s3fanout.inputs import parse_build_request
from s3fanout.layout import RunLayout
from s3fanout.records import BuildRequest, PartSummary, WorkUnit
from s3fanout.rounds import deferred_items

WORK = WorkUnit(unit=3, prefix="p/", start_after="p/a", end_key="p/m", estimate=900)
# Where REQUEST's unit resumes after stopping at "p/c": its next segment, in the next round.
RESUME = {"unit": 3, "prefix": "p/", "start_after": "p/c", "end_key": "p/m", "estimate": 900, "segment": 3, "child": 0}
REQUEST = BuildRequest("r", "att", "src-bucket", "", 60, WORK, segment=2)


class Lambda:
    def __init__(self, left_ms: int) -> None:
        self.left_ms = left_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.left_ms


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def part(*, done: bool = False, oversized: bool = False, stopped_at: str | None = "p/c") -> PartSummary:
    return PartSummary(3, 2, "p/", 10, 100, 10, "k", 10, done, None if done else stopped_at, oversized=oversized)


def test_the_budget_is_a_second_clock_the_earlier_one_stops_listing() -> None:
    clock, invocation = Clock(), Lambda(900_000)
    check = DeadlineCheck(invocation, 10_000, budget_until=clock.now + 240, clock=clock)
    pages = 0
    while not check():  # a page a second
        clock.now += 1
        invocation.left_ms -= 1000
        pages += 1
    assert pages == 231  # stopped with under 10 s of the budget left, 669 s of the invocation
    # Without a budget, the invocation's clock alone.
    assert not DeadlineCheck(invocation, 10_000)()
    # A budget alone (no invocation clock: sam local invoke, tests) still stops.
    alone = DeadlineCheck(None, 10_000, budget_until=clock.now + 5, clock=clock)
    assert alone()


def test_the_first_invocation_of_a_child_sets_its_budget_and_its_segments_keep_it() -> None:
    started = with_child_budget(REQUEST, 240, now=5000.0)
    assert started.budget_until == 5240.0
    assert with_child_budget(started, 240, now=5100.0) is started  # a later segment: unchanged
    assert started.continued("p/c").budget_until == 5240.0
    assert all(piece.budget_until == 5240.0 for piece in started.pieces([]))
    assert with_child_budget(REQUEST, 0, now=5000.0) is REQUEST  # no budget configured
    assert parse_build_request(started.to_event()) == started


def test_only_a_unit_stopped_for_time_under_a_budget_is_deferred() -> None:
    budgeted = replace(REQUEST, budget_until=1.0)
    item = deferred_item(budgeted, part())
    assert item == RESUME
    assert deferred_item(budgeted, part(done=True)) is None
    assert deferred_item(budgeted, part(oversized=True)) is None  # spreads (or continues) in its child
    assert deferred_item(REQUEST, part()) is None  # no budget: continues in its child
    piece = replace(budgeted, child=7, segment=0)
    assert deferred_item(piece, part()) == {**item, "child": 7, "segment": 1}


def test_merge_sends_each_units_last_deferred_segment_only() -> None:
    resume = RESUME
    summaries = [
        replace(part(), segment=0, resume={**resume, "segment": 1}),  # continued since
        replace(part(), segment=1, resume={**resume, "segment": 2}),
        replace(part(), segment=2, resume=resume),  # the last: sent
        replace(part(done=True), unit=4, segment=0),  # done
        replace(part(), unit=3, child=2, segment=0, resume={**resume, "child": 2, "segment": 1}),
    ]
    assert deferred_items(summaries) == [resume, {**resume, "child": 2, "segment": 1}]
    assert deferred_items(summaries[3:4]) == []


def test_a_round_is_named_by_its_number_and_only_the_runs_own_are_read_back() -> None:
    layout = RunLayout("manifests", "run-1")
    assert layout.round_key(0) == layout.plan_key
    assert [layout.round_of(layout.round_key(n)) for n in (0, 1, 17, 9999)] == [0, 1, 17, 9999]
    for other in (
        "manifests/run-2/rounds/0001.json",
        "manifests/run-1/rounds/0000.json",
        "manifests/run-1/rounds/01.json",
        "manifests/run-1/rounds/x001.json",
        "",
    ):
        assert layout.round_of(other) is None, other


@pytest.mark.parametrize("bad", [True, "soon", -1, float("nan"), float("inf"), 1e12])
def test_a_budget_in_an_event_must_be_a_time(bad: object) -> None:
    with pytest.raises(InvalidInput, match="budget_until"):
        parse_build_request({**REQUEST.to_event(), "budget_until": bad})
