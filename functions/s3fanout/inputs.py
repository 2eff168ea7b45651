"""Validation of every event the handlers accept.

Each check raises ``InvalidInput`` naming the field and the value, before any S3 call,
so bad input never writes anything.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .config import DEFAULT_EXPIRES_IN, DEFAULT_SUFFIX, MAX_CONCURRENCY_LIMIT, MAX_EXPIRES_IN
from .errors import InvalidInput
from .planner import MAX_ESTIMATE
from .records import RUN_ID_RE, BuildRequest, Filters, MergeRequest, RunRequest, WorkUnit, new_run_id

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Every partition's region names (botocore partitions.json): us-east-1, us-gov-west-1,
# us-isob-east-1, eusc-de-east-1.
_REGION_RE = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")
MAX_PREFIX_BYTES = 1024  # S3 keys are at most 1024 bytes of UTF-8.
MAX_SUFFIX_BYTES = 255

# run_id: optional, to re-run a run under the same keys (execution names cannot be reused on AWS).
FILTER_FIELDS = frozenset({"modified_after", "modified_before", "min_size", "max_size"})
# title / message: the sender's words on the share page (its tab title and headline, a note under it).
TEXT_FIELDS = frozenset({"title", "message"})
EXECUTION_FIELDS = (
    frozenset({"bucket", "prefix", "suffix", "expires_in", "max_concurrency", "run_id"}) | FILTER_FIELDS | TEXT_FIELDS
)
# In characters (what a reader sees), not bytes: a headline fits a line or two, a message a
# short letter; both end up in run.json, index.json and the page, never in a URL.
MAX_TITLE_CHARS = 200
MAX_MESSAGE_CHARS = 2000
MAX_OBJECT_SIZE = 5 * 1024**4  # S3's largest object, 5 TiB


def _require_object(event: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(event, Mapping):
        raise InvalidInput(what, event, "must be a JSON object")
    return event


def validate_bucket(value: Any, field: str = "bucket") -> str:
    if value is None:
        raise InvalidInput(field, value, "is required")
    if not isinstance(value, str):
        raise InvalidInput(field, value, "must be a string")
    if not _BUCKET_RE.match(value) or ".." in value or ".-" in value or "-." in value:
        raise InvalidInput(
            field, value, "is not a valid S3 bucket name (3-63 of a-z 0-9 . -, starting and ending alphanumeric)"
        )
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return value
    raise InvalidInput(field, value, "is not a valid S3 bucket name (looks like an IP address)")


def validate_string(value: Any, field: str, *, max_bytes: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, value, "must be a string")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:  # JSON's "\ud800": no UTF-8 for it, so no S3 key either
        raise InvalidInput(
            field, value, f"has an unpaired surrogate U+{ord(value[exc.start]):04X} at character {exc.start + 1}"
        ) from None
    if size > max_bytes:
        raise InvalidInput(field, value, f"is longer than {max_bytes} bytes")
    return value


def validate_text(value: Any, field: str, *, max_chars: int, multiline: bool = False) -> str:
    """A sender's words for a person to read: a non-blank string of at most ``max_chars``
    characters, without control characters (``multiline``: newlines allowed) or unpaired
    surrogates, which JSON carries but a page would show as garbage or not at all."""
    if not isinstance(value, str):
        raise InvalidInput(field, value, "must be a string")
    # The value in a message is shown shortened: a 10,000-character message is no help there.
    shown = value if len(value) <= 60 else value[:57] + "..."
    if len(value) > max_chars:
        raise InvalidInput(field, shown, f"is {len(value):,} characters long; at most {max_chars:,} are allowed")
    if not value.strip():
        raise InvalidInput(field, value, "is empty; leave the field out instead")
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if char == "\n" and multiline:
            continue
        if category in ("Cc", "Cs"):
            allowed = "newlines (\\n) are the only control character allowed" if multiline else "use one line of text"
            raise InvalidInput(
                field, shown, f"has the control character U+{ord(char):04X} at character {position + 1}; {allowed}"
            )
    return value


def validate_int(value: Any, field: str, *, minimum: int, maximum: int) -> int:
    # bool is an int subclass in Python; JSON true is not a number of seconds.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, value, "must be an integer")
    if not minimum <= value <= maximum:
        raise InvalidInput(field, value, f"must be between {minimum} and {maximum}")
    return value


def validate_run_id(value: Any, field: str = "run_id") -> str:
    if not isinstance(value, str) or not RUN_ID_RE.match(value):
        raise InvalidInput(field, value, "must be 1-80 characters of A-Z a-z 0-9 _ -")
    return value


def validate_timestamp(value: Any, field: str) -> str:
    """An ISO-8601 date or time (a time without an offset is UTC), as S3 writes LastModified
    (``2024-01-02T03:04:05.000Z``), so listings compare as text, no per-key parsing."""
    if not isinstance(value, str):
        raise InvalidInput(field, value, "must be an ISO-8601 date or time string, such as 2024-01-31T12:00:00Z")
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise InvalidInput(field, value, "is not an ISO-8601 date or time, such as 2024-01-31T12:00:00Z") from None
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise InvalidInput(field, value, "is out of range in UTC (years 1-9999)") from None
    # Four-digit years always (strftime writes 999, not 0999): these compare as text.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:"
        f"{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


def parse_filters(data: Mapping[str, Any]) -> Filters:
    """``modified_after`` / ``modified_before`` (ISO-8601) and ``min_size`` / ``max_size``
    (bytes); each optional, the bounds in order."""

    def optional(name: str, check: Any) -> Any:
        return None if data.get(name) is None else check(data[name], name)

    filters = Filters(
        modified_after=optional("modified_after", validate_timestamp),
        modified_before=optional("modified_before", validate_timestamp),
        min_size=optional("min_size", lambda v, f: validate_int(v, f, minimum=0, maximum=MAX_OBJECT_SIZE)),
        max_size=optional("max_size", lambda v, f: validate_int(v, f, minimum=0, maximum=MAX_OBJECT_SIZE)),
    )
    after, before = filters.modified_after, filters.modified_before
    if after is not None and before is not None and after >= before:
        raise InvalidInput("modified_before", data["modified_before"], "must be later than modified_after")
    if filters.min_size is not None and filters.max_size is not None and filters.min_size > filters.max_size:
        raise InvalidInput("max_size", filters.max_size, "must be at least min_size")
    return filters


def parse_run_request(event: Any, *, default_expires_in: int, default_max_concurrency: int) -> RunRequest:
    """Validate the execution input ``{"bucket", "prefix", "suffix", "expires_in", "max_concurrency", ...}``
    (``EXECUTION_FIELDS``: also ``run_id``, the filters, and the sender's ``title`` and ``message``)."""
    data = _require_object(event, "input")
    unknown = sorted(set(data) - EXECUTION_FIELDS)
    if unknown:
        raise InvalidInput(
            unknown[0], data[unknown[0]], f"is not a known field (known: {', '.join(sorted(EXECUTION_FIELDS))})"
        )
    return RunRequest(
        bucket=validate_bucket(data.get("bucket")),
        prefix=validate_string(data.get("prefix", ""), "prefix", max_bytes=MAX_PREFIX_BYTES),
        suffix=validate_string(data.get("suffix", DEFAULT_SUFFIX), "suffix", max_bytes=MAX_SUFFIX_BYTES),
        expires_in=validate_int(
            data.get("expires_in", default_expires_in), "expires_in", minimum=1, maximum=MAX_EXPIRES_IN
        ),
        max_concurrency=validate_int(
            data.get("max_concurrency", default_max_concurrency),
            "max_concurrency",
            minimum=1,
            maximum=MAX_CONCURRENCY_LIMIT,
        ),
        run_id=None if data.get("run_id") is None else validate_run_id(data["run_id"]),
        filters=parse_filters(data),
        title=None if data.get("title") is None else validate_text(data["title"], "title", max_chars=MAX_TITLE_CHARS),
        message=None
        if data.get("message") is None
        else validate_text(data["message"], "message", max_chars=MAX_MESSAGE_CHARS, multiline=True),
    )


def parse_list_event(event: Any, *, default_expires_in: int, default_max_concurrency: int) -> tuple[RunRequest, str]:
    """ListPrefixes' event: the workflow's envelope ``{"input": {...}, "run_id": <execution
    name>}`` or a bare execution input (``sam local invoke``, tests). Returns the request and
    its run id: the input's (a deliberate re-run), else the execution name, else a new id.
    """
    raw_input, execution_name = event, None
    if isinstance(event, dict) and set(event) == {"input", "run_id"}:
        raw_input, execution_name = event["input"], event["run_id"]
    request = parse_run_request(
        raw_input, default_expires_in=default_expires_in, default_max_concurrency=default_max_concurrency
    )
    if request.run_id is not None:
        return request, request.run_id
    # The execution name is null when an engine starts an execution without one.
    if execution_name is not None:
        return request, validate_run_id(execution_name, "execution name")
    return request, new_run_id()


def _optional_region(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _REGION_RE.match(value):
        raise InvalidInput("bucket_region", value, "must be an AWS region name such as eu-west-1")
    return value


def _optional_key(value: Any, field: str) -> str | None:
    if value is None:
        return None
    return validate_string(value, field, max_bytes=MAX_PREFIX_BYTES)


def parse_build_request(event: Any) -> BuildRequest:
    """Validate ``{"run_id", "bucket", "prefix", "unit", "suffix", "expires_in", ...}``."""
    data = _require_object(event, "event")
    work = WorkUnit(
        unit=validate_int(data.get("unit"), "unit", minimum=0, maximum=99_999),
        prefix=validate_string(data.get("prefix", ""), "prefix", max_bytes=MAX_PREFIX_BYTES),
        start_after=_optional_key(data.get("start_after"), "start_after"),
        end_key=_optional_key(data.get("end_key"), "end_key"),
        estimate=None
        if data.get("estimate") is None
        else validate_int(data["estimate"], "estimate", minimum=0, maximum=MAX_ESTIMATE),
    )
    attempt = data.get("attempt", "")
    if not isinstance(attempt, str):
        raise InvalidInput("attempt", attempt, "must be a string")
    return BuildRequest(
        run_id=validate_run_id(data.get("run_id")),
        attempt=attempt,
        bucket=validate_bucket(data.get("bucket")),
        suffix=validate_string(data.get("suffix", DEFAULT_SUFFIX), "suffix", max_bytes=MAX_SUFFIX_BYTES),
        expires_in=validate_int(
            data.get("expires_in", DEFAULT_EXPIRES_IN), "expires_in", minimum=1, maximum=MAX_EXPIRES_IN
        ),
        work=work,
        segment=validate_int(data.get("segment", 0), "segment", minimum=0, maximum=9_999),
        child=validate_int(data.get("child", 0), "child", minimum=0, maximum=999),
        bucket_region=_optional_region(data.get("bucket_region")),
        filters=parse_filters(data),
        budget_until=_optional_epoch(data.get("budget_until"), "budget_until"),
    )


def _optional_epoch(value: Any, field: str) -> float | None:
    if value is None:
        return None
    # bool is an int subclass; JSON true is not a time.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e11:
        raise InvalidInput(field, value, "must be a time in seconds since the epoch")
    return float(value)


def parse_merge_request(event: Any) -> MergeRequest:
    """Validate ``{"run_id", "bucket", "plan_key"?}``; the rest of the run is read from S3."""
    data = _require_object(event, "event")
    return MergeRequest(
        run_id=validate_run_id(data.get("run_id")),
        bucket=validate_bucket(data.get("bucket")),
        plan_key=_optional_key(data.get("plan_key"), "plan_key"),
    )
