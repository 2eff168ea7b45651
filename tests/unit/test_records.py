"""The records between the Lambdas: each survives its own JSON, and the BuildManifest
event a record makes is the event the handler parses back to the same record."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from s3fanout.inputs import parse_build_request
from s3fanout.planner import KeyRange
from s3fanout.records import BuildRequest, ErrorRecord, PartSummary, RunRecord, WorkUnit

keys = st.one_of(st.none(), st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20))

work_units = st.builds(
    WorkUnit,
    unit=st.integers(0, 99_999),
    prefix=st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=10),
    start_after=keys,
    end_key=keys,
    estimate=st.one_of(st.none(), st.integers(0, 10**9)),
)


@given(
    work=work_units,
    segment=st.integers(0, 9_999),
    child=st.integers(0, 999),
    region=st.sampled_from([None, "eu-west-1"]),
)
def test_the_build_event_parses_back_to_the_same_request(work: WorkUnit, segment: int, child: int, region: str) -> None:
    request = BuildRequest(
        run_id="run-1",
        attempt="a1",
        bucket="my-bucket",
        suffix=".pdf",
        expires_in=60,
        work=work,
        segment=segment,
        child=child,
        bucket_region=region,
    )
    event = json.loads(json.dumps(request.to_event()))  # as the state machine passes it
    assert parse_build_request(event) == request


def test_a_continuation_and_pieces_keep_the_unit() -> None:
    request = BuildRequest("r", "a", "my-bucket", "", 60, WorkUnit(3, "p/", None, "p/z", estimate=10), 0)
    assert request.continued("p/k").work == WorkUnit(3, "p/", "p/k", "p/z", estimate=10)
    assert request.continued("p/k").segment == 1
    pieces = request.pieces([KeyRange("p/k", "p/m", 5), KeyRange("p/m", "p/z", 7)])
    assert [(p.child, p.segment, p.work.start_after, p.work.end_key, p.work.estimate) for p in pieces] == [
        (1, 0, "p/k", "p/m", 5),
        (2, 0, "p/m", "p/z", 7),
    ]


def test_documents_round_trip_and_older_ones_still_read() -> None:
    run = RunRecord("r", "a", "b", "p/", ".pdf", 60, 4, "m", "manifests/r/plan.json", 2, "us-east-1", 1.5)
    assert RunRecord.from_json(json.loads(json.dumps(run.to_json()))) == run
    assert "created_at" not in run.to_result()
    summary = PartSummary(1, 0, "p/", 2, 100, 10, "k", 2, True, None, attempt="a", signed_at=2.0, pieces=0)
    assert PartSummary.from_json(summary.to_json()) == summary
    # The state machine sees whether a unit was deferred, not the item that resumes it.
    bookkeeping = {"attempt", "signed_at", "pieces", "resume", "start_after", "etag"}
    assert set(summary.to_result()) == set(summary.to_json()) - bookkeeping | {"deferred"}
    assert summary.to_result()["deferred"] is False
    resumed = PartSummary.from_json({**summary.to_json(), "done": False, "resume": {"unit": 1, "segment": 1}})
    assert resumed.to_result()["deferred"] is True
    older = {k: v for k, v in summary.to_json().items() if k not in {"child", "first_key", "last_key", "pieces"}}
    assert PartSummary.from_json(older) == summary  # written before pieces existed
    error = ErrorRecord(1, 0, 2, "a", "AccessDenied", "no")
    assert ErrorRecord.from_json({k: v for k, v in error.to_json().items() if k != "child"}) == error
