"""Event validation, table-driven: every bad field is named, with its value, before any S3 call."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from s3fanout.config import MAX_EXPIRES_IN
from s3fanout.errors import FanoutError, InvalidInput
from s3fanout.inputs import (
    EXECUTION_FIELDS,
    MAX_CONCURRENCY_LIMIT,
    MAX_MESSAGE_CHARS,
    MAX_PREFIX_BYTES,
    MAX_SUFFIX_BYTES,
    MAX_TITLE_CHARS,
    parse_build_request,
    parse_merge_request,
    parse_run_request,
    validate_run_id,
)
from s3fanout.records import RunRequest, WorkUnit, new_run_id

GOOD_BUCKET = "demo-bucket"
RUN_DEFAULTS = {"default_expires_in": 1234, "default_max_concurrency": 7}


def run_request(event: Any) -> RunRequest:
    return parse_run_request(event, **RUN_DEFAULTS)


def assert_invalid(call: Any, event: Any, field: str, value: Any, reason: str) -> None:
    with pytest.raises(FanoutError) as raised:
        call(event)
    error = raised.value
    assert type(error).__name__ == "InvalidInput"
    assert error.field == field
    assert error.value == value
    message = str(error)
    # The message names the field and shows the offending value.
    assert message.startswith(f"{field}={value!r}")
    assert reason in message


# Bucket names: (value, reason fragment).
BAD_BUCKETS = [
    pytest.param(None, "is required", id="missing"),
    pytest.param(42, "must be a string", id="not-a-string"),
    pytest.param("", "not a valid S3 bucket name", id="empty"),
    pytest.param("ab", "not a valid S3 bucket name", id="too-short"),
    pytest.param("a" * 64, "not a valid S3 bucket name", id="too-long"),
    pytest.param("MyBucket", "not a valid S3 bucket name", id="uppercase"),
    pytest.param("my_bucket", "not a valid S3 bucket name", id="underscore"),
    pytest.param("my..bucket", "not a valid S3 bucket name", id="double-dot"),
    pytest.param("my.-bucket", "not a valid S3 bucket name", id="dot-dash"),
    pytest.param("my-.bucket", "not a valid S3 bucket name", id="dash-dot"),
    pytest.param("-bucket", "not a valid S3 bucket name", id="leading-dash"),
    pytest.param("bucket-", "not a valid S3 bucket name", id="trailing-dash"),
    pytest.param("bucket.", "not a valid S3 bucket name", id="trailing-dot"),
    pytest.param("my bucket", "not a valid S3 bucket name", id="space"),
    pytest.param("192.168.1.10", "looks like an IP address", id="ip-address"),
    pytest.param("s3://demo-bucket", "not a valid S3 bucket name", id="url"),
]

GOOD_BUCKETS = ["abc", "a" * 63, "my.bucket-1", "1.2.3", "0bucket9", "demo-bucket"]

BAD_EXPIRES = [
    pytest.param("900", "must be an integer", id="string"),
    pytest.param(1.5, "must be an integer", id="float"),
    pytest.param(900.0, "must be an integer", id="integral-float"),
    pytest.param(True, "must be an integer", id="bool"),
    pytest.param(None, "must be an integer", id="null"),
    pytest.param(0, f"must be between 1 and {MAX_EXPIRES_IN}", id="zero"),
    pytest.param(-5, f"must be between 1 and {MAX_EXPIRES_IN}", id="negative"),
    pytest.param(MAX_EXPIRES_IN + 1, f"must be between 1 and {MAX_EXPIRES_IN}", id="over-7-days"),
]

NOT_STRINGS = [
    pytest.param(5, id="int"),
    pytest.param(None, id="null"),
    pytest.param(["a/"], id="list"),
    pytest.param({"p": 1}, id="object"),
    pytest.param(False, id="bool"),
]

NOT_OBJECTS = [
    pytest.param(None, id="null"),
    pytest.param([], id="list"),
    pytest.param("demo-bucket", id="string"),
    pytest.param(3, id="number"),
]


# --- parse_run_request -------------------------------------------------------------------


@pytest.mark.parametrize(("value", "reason"), BAD_BUCKETS)
def test_run_request_rejects_bad_buckets(value: Any, reason: str) -> None:
    event = {} if value is None else {"bucket": value}
    assert_invalid(run_request, event, "bucket", value, reason)


@pytest.mark.parametrize("name", GOOD_BUCKETS)
def test_run_request_accepts_valid_buckets(name: str) -> None:
    assert run_request({"bucket": name}).bucket == name


@pytest.mark.parametrize(("value", "reason"), BAD_EXPIRES)
def test_run_request_rejects_bad_expires_in(value: Any, reason: str) -> None:
    assert_invalid(run_request, {"bucket": GOOD_BUCKET, "expires_in": value}, "expires_in", value, reason)


@pytest.mark.parametrize("value", [1, 3600, MAX_EXPIRES_IN])
def test_run_request_accepts_expires_in_in_range(value: int) -> None:
    assert run_request({"bucket": GOOD_BUCKET, "expires_in": value}).expires_in == value


@pytest.mark.parametrize("field", ["prefix", "suffix"])
@pytest.mark.parametrize("value", NOT_STRINGS)
def test_run_request_rejects_non_string_prefix_and_suffix(field: str, value: Any) -> None:
    assert_invalid(run_request, {"bucket": GOOD_BUCKET, field: value}, field, value, "must be a string")


@pytest.mark.parametrize(
    ("field", "limit"),
    [("prefix", MAX_PREFIX_BYTES), ("suffix", MAX_SUFFIX_BYTES)],
)
def test_run_request_limits_prefix_and_suffix_in_utf8_bytes(field: str, limit: int) -> None:
    ascii_over = "a" * (limit + 1)
    assert_invalid(run_request, {"bucket": GOOD_BUCKET, field: ascii_over}, field, ascii_over, f"{limit} bytes")
    # Two bytes per character: fewer characters than the limit, more bytes.
    wide_over = "é" * (limit // 2 + 1)
    assert len(wide_over) <= limit
    assert_invalid(run_request, {"bucket": GOOD_BUCKET, field: wide_over}, field, wide_over, f"{limit} bytes")
    at_limit = "é" * (limit // 2) + "a" * (limit % 2)
    assert len(at_limit.encode()) == limit
    assert getattr(run_request({"bucket": GOOD_BUCKET, field: at_limit}), field) == at_limit


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(0, id="zero"),
        pytest.param(-1, id="negative"),
        pytest.param(MAX_CONCURRENCY_LIMIT + 1, id="over-limit"),
        pytest.param("4", id="string"),
        pytest.param(True, id="bool"),
        pytest.param(2.0, id="float"),
    ],
)
def test_run_request_rejects_max_concurrency_out_of_range(value: Any) -> None:
    reason = "must be an integer" if isinstance(value, bool | str | float) else "must be between"
    assert_invalid(run_request, {"bucket": GOOD_BUCKET, "max_concurrency": value}, "max_concurrency", value, reason)


@pytest.mark.parametrize("value", [1, MAX_CONCURRENCY_LIMIT])
def test_run_request_accepts_max_concurrency_bounds(value: int) -> None:
    assert run_request({"bucket": GOOD_BUCKET, "max_concurrency": value}).max_concurrency == value


@pytest.mark.parametrize(
    ("event", "field"),
    [
        pytest.param({"bucket": GOOD_BUCKET, "Bucket": "x"}, "Bucket", id="wrong-case"),
        pytest.param({"bucket": GOOD_BUCKET, "prefixes": ["a/"]}, "prefixes", id="plural"),
        pytest.param({"bucket": GOOD_BUCKET, "expiry": 60}, "expiry", id="synonym"),
        pytest.param({"bucket": GOOD_BUCKET, "unit": 0}, "unit", id="build-field-in-execution-input"),
    ],
)
def test_run_request_rejects_unknown_fields(event: dict[str, Any], field: str) -> None:
    assert_invalid(run_request, event, field, event[field], "is not a known field")
    with pytest.raises(FanoutError) as raised:
        run_request(event)
    # The message lists the fields that are known.
    assert all(known in str(raised.value) for known in EXECUTION_FIELDS)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("has space", id="space"),
        pytest.param("a/b", id="slash"),
        pytest.param("r" * 81, id="too-long"),
        pytest.param(5, id="int"),
    ],
)
def test_run_request_rejects_bad_run_ids(value: Any) -> None:
    assert_invalid(run_request, {"bucket": GOOD_BUCKET, "run_id": value}, "run_id", value, "1-80 characters")


@pytest.mark.parametrize("event", NOT_OBJECTS)
def test_run_request_must_be_an_object(event: Any) -> None:
    assert_invalid(run_request, event, "input", event, "must be a JSON object")


def test_run_request_defaults() -> None:
    request = run_request({"bucket": GOOD_BUCKET})
    assert request == RunRequest(
        bucket=GOOD_BUCKET,
        prefix="",
        suffix=".pdf",
        expires_in=RUN_DEFAULTS["default_expires_in"],
        max_concurrency=RUN_DEFAULTS["default_max_concurrency"],
        run_id=None,
    )


def test_a_generated_run_id_is_a_valid_run_id() -> None:
    run_id = new_run_id()
    assert validate_run_id(run_id) == run_id
    assert new_run_id() != run_id


def test_run_request_keeps_given_values() -> None:
    event = {
        "bucket": GOOD_BUCKET,
        "prefix": "a/b/",
        "suffix": "",
        "expires_in": 60,
        "max_concurrency": 3,
        "run_id": "re-run_1",
        "title": "Q4 reports",
        "message": "All of them.\nAsk if one is missing.",
    }
    no_filters = {"modified_after": None, "modified_before": None, "min_size": None, "max_size": None}
    assert asdict(run_request(event)) == {**event, "filters": no_filters}


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2024-01-31", "2024-01-31T00:00:00.000Z"),
        ("2024-01-31T12:30:00Z", "2024-01-31T12:30:00.000Z"),
        ("2024-01-31T12:30:00.123456", "2024-01-31T12:30:00.123Z"),
        ("2024-01-31T14:30:00+02:00", "2024-01-31T12:30:00.000Z"),
        ("2024-01-31T12:30:00.000Z", "2024-01-31T12:30:00.000Z"),  # as stored: unchanged
        ("0999-06-01", "0999-06-01T00:00:00.000Z"),  # four digits, or it compares wrong as text
    ],
)
def test_dates_become_s3s_last_modified_text(given: str, stored: str) -> None:
    assert run_request({"bucket": GOOD_BUCKET, "modified_after": given}).filters.modified_after == stored


@pytest.mark.parametrize(
    ("extra", "field", "reason"),
    [
        ({"modified_after": "yesterday"}, "modified_after", "is not an ISO-8601 date or time"),
        ({"modified_before": 20240131}, "modified_before", "must be an ISO-8601 date or time string"),
        ({"min_size": -1}, "min_size", "must be between 0 and"),
        ({"max_size": "10"}, "max_size", "must be an integer"),
        ({"max_size": True}, "max_size", "must be an integer"),
        ({"min_size": 10, "max_size": 9}, "max_size", "must be at least min_size"),
        (
            {"modified_after": "2024-02-01", "modified_before": "2024-01-01"},
            "modified_before",
            "must be later than modified_after",
        ),
        ({"modified_after": "0001-01-01T00:00:00+01:00"}, "modified_after", "is out of range in UTC"),
        ({"modified_before": "9999-12-31T23:00:00-05:00"}, "modified_before", "is out of range in UTC"),
    ],
)
def test_bad_filters_are_named(extra: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        run_request({"bucket": GOOD_BUCKET, **extra})
    assert raised.value.field == field
    assert reason in raised.value.reason


# --- parse_build_request -----------------------------------------------------------------

GOOD_BUILD = {"run_id": "example-run", "bucket": GOOD_BUCKET, "unit": 0, "prefix": "reports/2024/"}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        pytest.param("run_id", None, "must be 1-80 characters", id="run_id-missing"),
        pytest.param("run_id", "", "must be 1-80 characters", id="run_id-empty"),
        pytest.param("run_id", "has space", "must be 1-80 characters", id="run_id-space"),
        pytest.param("run_id", "../escape", "must be 1-80 characters", id="run_id-path"),
        pytest.param("run_id", "r" * 81, "must be 1-80 characters", id="run_id-too-long"),
        pytest.param("run_id", 7, "must be 1-80 characters", id="run_id-int"),
        pytest.param("unit", None, "must be an integer", id="unit-missing"),
        pytest.param("unit", "0", "must be an integer", id="unit-string"),
        pytest.param("unit", True, "must be an integer", id="unit-bool"),
        pytest.param("unit", -1, "must be between 0 and", id="unit-negative"),
        pytest.param("unit", 100_000, "must be between 0 and", id="unit-too-big"),
        pytest.param("prefix", 3, "must be a string", id="prefix-int"),
        pytest.param("prefix", "p" * (MAX_PREFIX_BYTES + 1), f"{MAX_PREFIX_BYTES} bytes", id="prefix-too-long"),
        pytest.param("suffix", [".pdf"], "must be a string", id="suffix-list"),
        pytest.param("expires_in", 0, "must be between 1 and", id="expires_in-zero"),
        pytest.param("expires_in", MAX_EXPIRES_IN + 1, "must be between 1 and", id="expires_in-too-big"),
        pytest.param("expires_in", "900", "must be an integer", id="expires_in-string"),
        pytest.param("expires_in", False, "must be an integer", id="expires_in-bool"),
        pytest.param("start_after", 5, "must be a string", id="start_after-int"),
        pytest.param("end_key", ["k"], "must be a string", id="end_key-list"),
        pytest.param("prefix", "a\ud800b", "unpaired surrogate U+D800 at character 2", id="prefix-lone-surrogate"),
        pytest.param("start_after", "\udfff", "unpaired surrogate U+DFFF", id="start_after-lone-surrogate"),
        pytest.param("end_key", "k\udc80", "unpaired surrogate U+DC80", id="end_key-lone-surrogate"),
        pytest.param("attempt", 5, "must be a string", id="attempt-int"),
        pytest.param("segment", -1, "must be between 0 and", id="segment-negative"),
        pytest.param("segment", "1", "must be an integer", id="segment-string"),
    ],
)
def test_build_request_rejects(field: str, value: Any, reason: str) -> None:
    event = {**GOOD_BUILD, field: value}
    if value is None:
        del event[field]
    assert_invalid(parse_build_request, event, field, value, reason)


@pytest.mark.parametrize(("value", "reason"), BAD_BUCKETS)
def test_build_request_rejects_bad_buckets(value: Any, reason: str) -> None:
    event = {**GOOD_BUILD, "bucket": value}
    if value is None:
        del event["bucket"]
    assert_invalid(parse_build_request, event, "bucket", value, reason)


@pytest.mark.parametrize("event", NOT_OBJECTS)
def test_build_request_must_be_an_object(event: Any) -> None:
    assert_invalid(parse_build_request, event, "event", event, "must be a JSON object")


def test_build_request_defaults() -> None:
    request = parse_build_request(GOOD_BUILD)
    assert request.run_id == "example-run"
    assert request.bucket == GOOD_BUCKET
    assert request.attempt == ""
    assert request.suffix == ".pdf"
    assert request.expires_in == 900
    assert request.segment == 0
    assert request.work == WorkUnit(unit=0, prefix="reports/2024/", start_after=None, end_key=None)


def test_build_request_keeps_a_continuation() -> None:
    event = {
        **GOOD_BUILD,
        "attempt": "abc",
        "suffix": "",
        "expires_in": 60,
        "start_after": "reports/2024/0999.pdf",
        "end_key": "reports/2024/5000.pdf",
        "segment": 3,
        "next": None,  # fields the workflow passes along are ignored
    }
    request = parse_build_request(event)
    assert (request.attempt, request.suffix, request.expires_in, request.segment) == ("abc", "", 60, 3)
    assert request.work == WorkUnit(
        unit=0,
        prefix="reports/2024/",
        start_after="reports/2024/0999.pdf",
        end_key="reports/2024/5000.pdf",
    )


def test_build_request_carries_the_plan_estimate_and_the_piece_number() -> None:
    request = parse_build_request({**GOOD_BUILD, "estimate": 5000, "child": 3})
    assert (request.work.estimate, request.child) == (5000, 3)
    assert parse_build_request({**GOOD_BUILD, "estimate": None}).work.estimate is None


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("estimate", -1, "must be between 0 and"),
        ("estimate", "5000", "must be an integer"),
        ("estimate", True, "must be an integer"),
        ("child", -1, "must be between 0 and 999"),
        ("child", 1000, "must be between 0 and 999"),
        ("child", None, "must be an integer"),
        ("child", 1.5, "must be an integer"),
    ],
)
def test_build_request_rejects_a_bad_estimate_or_piece(field: str, value: Any, reason: str) -> None:
    assert_invalid(parse_build_request, {**GOOD_BUILD, field: value}, field, value, reason)


# --- parse_merge_request -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        pytest.param("run_id", None, "must be 1-80 characters", id="run_id-missing"),
        pytest.param("run_id", "a/b", "must be 1-80 characters", id="run_id-slash"),
        pytest.param("run_id", 12, "must be 1-80 characters", id="run_id-int"),
        *[
            pytest.param("bucket", p.values[0], p.values[1], id=f"bucket-{p.id}")
            for p in BAD_BUCKETS
            if p.id is not None
        ],
    ],
)
def test_merge_request_rejects(field: str, value: Any, reason: str) -> None:
    event = {"run_id": "example-run", "bucket": GOOD_BUCKET, field: value}
    if value is None:
        del event[field]
    assert_invalid(parse_merge_request, event, field, value, reason)


@pytest.mark.parametrize("event", NOT_OBJECTS)
def test_merge_request_must_be_an_object(event: Any) -> None:
    assert_invalid(parse_merge_request, event, "event", event, "must be a JSON object")


def test_merge_request_ok() -> None:
    request = parse_merge_request({"run_id": "example-run", "bucket": GOOD_BUCKET, "units": 3})
    assert (request.run_id, request.bucket) == ("example-run", GOOD_BUCKET)


# --- the sender's words: title and message ------------------------------------------------

LONG_TITLE = "t" * (MAX_TITLE_CHARS + 1)
LONG_MESSAGE = "m" * (MAX_MESSAGE_CHARS + 1)


@pytest.mark.parametrize(
    ("field", "value", "shown", "reason"),
    [
        pytest.param("title", 7, 7, "must be a string", id="title-int"),
        pytest.param("title", ["a"], ["a"], "must be a string", id="title-list"),
        pytest.param("title", "", "", "is empty", id="title-empty"),
        pytest.param("title", " \n ", " \n ", "is empty", id="title-blank"),
        pytest.param("title", LONG_TITLE, "t" * 57 + "...", "is 201 characters long; at most 200", id="title-long"),
        pytest.param("title", "two\nlines", "two\nlines", "U+000A at character 4; use one line", id="title-newline"),
        pytest.param("title", "tab\there", "tab\there", "control character U+0009", id="title-tab"),
        pytest.param("title", "esc\x1b[31m", "esc\x1b[31m", "control character U+001B", id="title-escape"),
        pytest.param("title", "lone \ud800", "lone \ud800", "U+D800", id="title-lone-surrogate"),
        pytest.param("message", False, False, "must be a string", id="message-bool"),
        pytest.param("message", "", "", "is empty", id="message-empty"),
        pytest.param(
            "message", LONG_MESSAGE, "m" * 57 + "...", "is 2,001 characters long; at most 2,000", id="message-long"
        ),
        pytest.param("message", "a\r\nb", "a\r\nb", "U+000D at character 2; newlines", id="message-cr"),
        pytest.param("message", "nul\x00", "nul\x00", "U+0000", id="message-nul"),
        pytest.param("message", "c1\x85", "c1\x85", "U+0085", id="message-c1-control"),
    ],
)
def test_run_request_rejects_bad_sender_text(field: str, value: Any, shown: Any, reason: str) -> None:
    assert_invalid(run_request, {"bucket": GOOD_BUCKET, field: value}, field, shown, reason)


def test_run_request_takes_the_senders_words_up_to_their_limits() -> None:
    title = "Résumé <script>alert(1)</script> & 📄" + "x" * (MAX_TITLE_CHARS - 36)
    message = "Hello,\nthe files of Q4.\n\n" + "é" * (MAX_MESSAGE_CHARS - 25)
    assert (len(title), len(message)) == (MAX_TITLE_CHARS, MAX_MESSAGE_CHARS)
    request = run_request({"bucket": GOOD_BUCKET, "title": title, "message": message})
    assert (request.title, request.message) == (title, message)
    assert {"title", "message"} <= EXECUTION_FIELDS


def test_run_request_without_sender_text_has_none() -> None:
    request = run_request({"bucket": GOOD_BUCKET, "title": None})
    assert (request.title, request.message) == (None, None)


def test_every_region_botocore_knows_is_a_bucket_region() -> None:
    """Region names come from botocore's partitions (eusc-de-east-1 has a four-letter head)."""
    import json
    from pathlib import Path

    import botocore

    path = Path(botocore.__file__).parent / "data" / "partitions.json"
    partitions = json.loads(path.read_text())["partitions"]
    regions = [r for p in partitions for r in p.get("regions", {}) if not r.endswith("-global")]
    for region in regions:
        parsed = parse_build_request({**GOOD_BUILD, "bucket_region": region})
        assert parsed.bucket_region == region
    assert_invalid(parse_build_request, {**GOOD_BUILD, "bucket_region": "mars-1"}, "bucket_region", "mars-1", "region")
