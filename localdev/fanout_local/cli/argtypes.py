"""Argument types of the ``fanout`` commands (httpie-style: apart from the command
definitions in ``definition``). Each checks its value completely at parse time - with the bounds
the deployed code enforces (``s3fanout.inputs``, ``s3fanout.config``), not copies - so a
bad argument is one line and exit 2 before an engine starts, a bucket is touched or a file
is written. A message shows the user's text as typed.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
from pathlib import Path
from typing import Any

from fanout_fetch.arguments import bounded_int, http_url, shown
from fanout_local.template import PROJECT_ROOT, load_template
from s3fanout.config import (
    LAMBDA_MAX_TIMEOUT_SECONDS,
    LAMBDA_MIN_TIMEOUT_SECONDS,
    MAX_CONCURRENCY_LIMIT,
    MAX_EXPIRES_IN,
    MIN_UNIT_KEYS_RANGE,
)
from s3fanout.errors import InvalidInput
from s3fanout.inputs import (
    MAX_MESSAGE_CHARS,
    MAX_PREFIX_BYTES,
    MAX_SUFFIX_BYTES,
    MAX_TITLE_CHARS,
    validate_bucket,
    validate_run_id,
    validate_text,
)

# The demo seeds into an in-memory moto S3 and keeps every key in memory: far beyond this
# it only runs out of memory or patience.
DEMO_MAX_OBJECTS = 1_000_000
DEMO_MAX_PREFIXES = 10_000

expires_in = bounded_int(1, MAX_EXPIRES_IN)
max_concurrency = bounded_int(1, MAX_CONCURRENCY_LIMIT)
unit_keys = bounded_int(*MIN_UNIT_KEYS_RANGE)
demo_objects = bounded_int(1, DEMO_MAX_OBJECTS)
demo_prefixes = bounded_int(0, DEMO_MAX_PREFIXES)
verify_sample = bounded_int(1, DEMO_MAX_OBJECTS)
port_number = bounded_int(0, 65535)


def bucket_name(text: str) -> str:
    """An S3 bucket name by the rules the execution input is checked with."""
    try:
        return validate_bucket(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(f"{shown(text)} {exc.reason}") from None


def _utf8(text: str) -> str:
    """Text S3 can store: argv bytes that are not UTF-8 arrive as lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not valid UTF-8 text") from None
    return text


def key_prefix(text: str) -> str:
    """A key prefix: at most an S3 key's length (1024 bytes of UTF-8)."""
    if len(_utf8(text).encode("utf-8")) > MAX_PREFIX_BYTES:
        raise argparse.ArgumentTypeError(f"{shown(text)} is longer than {MAX_PREFIX_BYTES} bytes (an S3 key's limit)")
    return text


def key_suffix(text: str) -> str:
    if len(_utf8(text).encode("utf-8")) > MAX_SUFFIX_BYTES:
        raise argparse.ArgumentTypeError(f"{shown(text)} is longer than {MAX_SUFFIX_BYTES} bytes")
    return text


def _sender_text(text: str, field: str, max_chars: int, *, multiline: bool) -> str:
    try:
        return validate_text(_utf8(text), field, max_chars=max_chars, multiline=multiline)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(f"{shown(text)} {exc.reason}") from None


def share_title(text: str) -> str:
    """The share page's headline, by the execution input's rule (``s3fanout.inputs``)."""
    return _sender_text(text, "title", MAX_TITLE_CHARS, multiline=False)


def share_message(text: str) -> str:
    """A note for the recipient under the headline; newlines allowed (``$'a\\nb'`` in bash)."""
    return _sender_text(text, "message", MAX_MESSAGE_CHARS, multiline=True)


def execution_name(text: str) -> str:
    """An execution name is also the run_id and the log file's name: checked before either.
    The CLI's one copy of the run-id rule's wording (the rule itself: ``s3fanout.inputs``)."""
    try:
        return validate_run_id(text, "name")
    except InvalidInput:
        raise argparse.ArgumentTypeError(f"{shown(text)}: use 1-80 of A-Z a-z 0-9 _ -") from None


def lambda_timeout(text: str) -> float:
    """Seconds, finite, within what Lambda accepts as a Timeout (fractions allowed locally)."""
    low, high = LAMBDA_MIN_TIMEOUT_SECONDS, LAMBDA_MAX_TIMEOUT_SECONDS
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a number of seconds ({low}-{high})") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is out of range: give {low}-{high} seconds (what Lambda takes as a Timeout)"
        )
    return value


def endpoint(text: str) -> str:
    """An http(s) URL botocore accepts as an endpoint: scheme, host, optional port and path."""
    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

    parts = http_url(text, what="endpoint URL")
    if parts.query or parts.fragment or parts.username is not None:
        raise argparse.ArgumentTypeError(
            f"{shown(text)}: an endpoint is scheme://host[:port][/path], no query, fragment or user"
        )
    if not (is_valid_endpoint_url(text) or is_valid_ipv6_endpoint_url(text)):
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a valid endpoint URL (botocore refuses its host)")
    return text


s3_endpoint = lambda_endpoint = endpoint


def host_name(text: str) -> str:
    """An address to listen on: an IP address or a host name."""
    try:
        http_url(f"http://{'[' + text + ']' if ':' in text else text}/", what="host")
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not an IP address or host name") from None
    return text


def source_dir(text: str) -> str:
    """A directory to read."""
    path = Path(text)
    if not text or not path.is_dir():
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a directory")
    try:
        next(path.iterdir(), None)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{shown(text)}: {exc.strerror or exc}") from None
    return text


_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def event_file(text: str) -> dict[str, Any]:
    """The event in a file: UTF-8 JSON, read and decoded here (the value is the event)."""
    if not text:
        raise argparse.ArgumentTypeError("the file name is empty: give a JSON file")
    try:
        data = Path(text).read_bytes()
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"{shown(text)}: no such file or directory") from None
    except IsADirectoryError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is a directory: give a JSON file") from None
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{shown(text)}: {exc.strerror or exc}") from None
    try:
        event = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    if not isinstance(event, dict):  # every handler takes an object (s3fanout.inputs)
        raise argparse.ArgumentTypeError(
            f"{shown(text)} holds a JSON {_JSON_KINDS.get(type(event), 'value')}, not an event (a JSON object)"
        )
    return event


@functools.cache
def _function_names() -> tuple[str, ...]:
    resources = load_template(PROJECT_ROOT / "template.yaml").get("Resources") or {}
    return tuple(name for name, r in resources.items() if r.get("Type") == "AWS::Serverless::Function")


def _alias(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").removesuffix("function")


def lambda_function(text: str) -> str:
    """A function of template.yaml, by its logical id or a short form (list-prefixes)."""
    names = _function_names()
    found = {_alias(name): name for name in names}.get(_alias(text)) if text else None
    if found is None:
        raise argparse.ArgumentTypeError(f"unknown function {shown(text)}; one of: {', '.join(names)}")
    return found


# -- share, shares, revoke ---------------------------------------------------------------------
_DURATION = re.compile(r"(\d+)\s*([smhd]?)", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# CloudFormation: 1-128 characters, a letter first, then letters, digits and hyphens.
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_STATE_MACHINE_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}")


def human_duration(seconds: int) -> str:
    """The largest whole unit: 604800 -> 7d, 900 -> 15m, 90 -> 90s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def duration(text: str) -> int:
    """Seconds from ``15m``, ``12h``, ``7d``, ``90s`` or plain seconds (``900``): 1 s to 7 days,
    the longest a presigned URL lives."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a duration: give e.g. 15m, 12h, 7d or seconds")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if not 1 <= seconds <= MAX_EXPIRES_IN:
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is out of range: 1s to {human_duration(MAX_EXPIRES_IN)}, the longest a presigned URL lives"
        )
    return seconds


def s3_location(text: str) -> tuple[str, str]:
    """``s3://BUCKET[/PREFIX]``: (bucket, prefix), each checked as ``--bucket`` and ``--prefix`` are."""
    if not text.startswith("s3://"):
        raise argparse.ArgumentTypeError(f"{shown(text)} is not an S3 location: give s3://BUCKET/PREFIX")
    bucket, _, prefix = text.removeprefix("s3://").partition("/")
    if not bucket:
        raise argparse.ArgumentTypeError(f"{shown(text)} names no bucket: give s3://BUCKET/PREFIX")
    try:
        return bucket_name(bucket), key_prefix(prefix)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{shown(text)}: {exc}") from None


def stack_name(text: str) -> str:
    if not _STACK_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is not a stack name: a letter, then up to 127 letters, digits or hyphens"
        )
    return text


def state_machine_arn(text: str) -> str:
    if not _STATE_MACHINE_ARN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is not a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)"
        )
    return text


def run_id(text: str) -> str:
    """A share's run id: its execution's name."""
    return execution_name(text)


_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def region(text: str) -> str:
    """An AWS region name such as eu-west-1."""
    if not _REGION.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{shown(text)} is not an AWS region (e.g. us-east-1, eu-west-1)")
    return text
