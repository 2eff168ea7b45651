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
from s3fanout.inputs import MAX_PREFIX_BYTES, MAX_SUFFIX_BYTES, validate_bucket, validate_run_id

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
