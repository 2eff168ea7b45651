"""Argument types of ``fanout share``, ``shares`` and ``revoke``: each checks its value completely
while parsing (bad input: one line, exit 2), with the bounds the deployed code enforces."""

from __future__ import annotations

import argparse
import re

from fanout_fetch.arguments import shown
from s3fanout.config import MAX_EXPIRES_IN

from . import arguments

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
        return arguments.bucket_name(bucket), arguments.key_prefix(prefix)
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


run_id = arguments.execution_name  # a run id is the execution's name
