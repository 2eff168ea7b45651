"""The argument types of `fanout share`, `shares` and `revoke`, and the words they print."""

from __future__ import annotations

import argparse
import json

import pytest

from fanout_local import share, shares
from fanout_local.cli.argtypes import duration, human_duration, s3_location, stack_name, state_machine_arn
from s3fanout.config import MAX_EXPIRES_IN


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900), ("12h", 43200), ("7d", 604800), ("90s", 90), ("900", 900), ("1", 1), ("2H", 7200)],
)
def test_durations(text: str, seconds: int) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("8d", "out of range: 1s to 7d"),
        ("0m", "out of range"),
        ("", "is not a duration: give e.g. 15m, 12h, 7d"),
        ("15 minutes", "is not a duration"),
        ("1.5h", "is not a duration"),
        ("-5m", "is not a duration"),
    ],
)
def test_bad_durations_say_why(text: str, says: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=says):
        duration(text)


def test_the_longest_duration_is_the_longest_presigned_url() -> None:
    assert duration(human_duration(MAX_EXPIRES_IN)) == MAX_EXPIRES_IN
    assert (human_duration(900), human_duration(90), human_duration(7200)) == ("15m", "90s", "2h")


@pytest.mark.parametrize(
    ("text", "location"),
    [("s3://bucket", ("bucket", "")), ("s3://bucket/", ("bucket", "")), ("s3://b-1/a/b/", ("b-1", "a/b/"))],
)
def test_s3_locations(text: str, location: tuple[str, str]) -> None:
    assert s3_location(text) == location


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("bucket/prefix", "is not an S3 location: give s3://BUCKET/PREFIX"),
        ("s3://", "names no bucket"),
        ("s3:///prefix", "names no bucket"),
        ("s3://Bad_Bucket/x", "'s3://Bad_Bucket/x': 'Bad_Bucket'"),
        ("s3://bucket/" + "k" * 1025, "longer than 1024 bytes"),
    ],
)
def test_bad_s3_locations_say_why(text: str, says: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=says):
        s3_location(text)


def test_stack_names_and_state_machine_arns() -> None:
    assert stack_name("s3-fanout") == "s3-fanout"
    for bad in ("1stack", "has_underscore", "", "x" * 129):
        with pytest.raises(argparse.ArgumentTypeError, match="is not a stack name"):
            stack_name(bad)
    arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:s3-fanout-fanout"
    assert state_machine_arn(arn) == arn
    with pytest.raises(argparse.ArgumentTypeError, match="is not a state machine ARN"):
        state_machine_arn("arn:aws:states:eu-west-1:123456789012:execution:x:y")


def test_the_execution_input_leaves_unset_options_to_the_stack() -> None:
    assert share.ShareRequest(bucket="b").execution_input() == {"bucket": "b", "prefix": ""}
    full = share.ShareRequest(bucket="b", prefix="p/", suffix="", expires_in=60, max_concurrency=3)
    expected = {"bucket": "b", "prefix": "p/", "suffix": "", "expires_in": 60, "max_concurrency": 3}
    assert full.execution_input() == expected


def test_a_lambda_cause_reads_as_its_message() -> None:
    message = "bucket='x':\n no such bucket"
    cause = json.dumps({"errorType": "BucketNotFound", "errorMessage": message, "stackTrace": []})
    outcome = share.ShareOutcome("arn", "FAILED", None, "BucketNotFound", cause)
    assert outcome.failure() == "FAILED: BucketNotFound: bucket='x': no such bucket"
    assert share.readable_cause("plain\ntext") == "plain text"
    assert share.readable_cause(None) == "no cause given"


def test_progress_lines() -> None:
    counts = share.MapCounts(total=6, succeeded=3, failed=1, running=2, pending=0)
    assert share.Progress("RUNNING", items=counts).describe() == "RUNNING: Map 4/6 units, 2 running, 1 failed"
    assert share.Progress("RUNNING", states=("Plan", "Map")).describe() == "RUNNING: 2 states entered, now Map"
    assert share.Progress("RUNNING").describe() == "RUNNING: starting"


def test_what_revoke_cannot_do_depends_on_who_signed() -> None:
    live = shares.Share("r", shares.LIVE, expires_at="2030-01-01T00:00:00Z", url_credentials="signing-identity")
    said = " ".join(shares.what_revoke_cannot_do([live]))
    assert "until it expires (at the latest 2030-01-01T00:00:00Z)" in said
    assert "aws iam update-access-key --user-name USER --access-key-id KEY_ID --status Inactive" in said
    temporary = shares.Share("t", shares.LIVE, expires_at="2030-01-01T00:00:00Z", url_credentials="temporary")
    assert "Revoke active sessions" in " ".join(shares.what_revoke_cannot_do([temporary]))
    expired = shares.Share("e", shares.EXPIRED, expires_at="2020-01-01T00:00:00Z")
    assert shares.what_revoke_cannot_do([expired]) == []
