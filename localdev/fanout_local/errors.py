"""How the CLI fails: one line naming the problem and the fix, and a documented exit code.

0 ok · 1 failed (the run, a download, an S3 call) · 2 usage (a bad argument or file) ·
130 interrupted (SIGINT, Ctrl-C) · 143 terminated (SIGTERM: ``kill``, ``timeout``, ``docker
stop``, a supervisor). Either signal stops what runs and exits within seconds, leaving no
process behind (``fanout_fetch.interrupts``, ``fanout_local.lifeline``); a second one exits at
once. A user error never shows a traceback; anything else is a bug and does (``--debug``
shows the full one for user errors too).
"""

from __future__ import annotations

import json
from collections.abc import Callable

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143

# The CLI's own S3 calls (the bucket check, seed): an endpoint that accepts a connection and
# never answers is named within seconds, not after botocore's 60 s x 5 attempts.
S3_CONNECT_TIMEOUT = 5
S3_READ_TIMEOUT = 10
# Messages of ValueErrors that only URL parsing raises (urllib.parse, botocore's endpoint check).
_URL_VALUE_ERRORS = ("Invalid endpoint", "Invalid IPv6 URL", "Port out of range", "Port could not be cast")


class UserError(Exception):
    """A problem the user can fix; the message names it and the fix."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class TemplateError(Exception):
    """template.yaml holds something the local tooling cannot resolve (``intrinsics``, ``template``)."""


def explain(exc: BaseException) -> UserError | None:
    """A one-line UserError for the errors a user causes (None: a bug)."""
    if isinstance(exc, UserError):
        return exc
    for explain_kind in (_decoding, _file_system, _url, _botocore):
        if (user_error := explain_kind(exc)) is not None:
            return user_error
    return None


def _decoding(exc: BaseException) -> UserError | None:
    if isinstance(exc, json.JSONDecodeError):
        return UserError(f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}")
    if isinstance(exc, UnicodeDecodeError):
        return UserError(f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}")
    return None


# (OSError subclass, message after the file name); the first that matches.
_FILE_SYSTEM: tuple[tuple[type[OSError], str], ...] = (
    (IsADirectoryError, " is a directory: give a file path"),
    (NotADirectoryError, ": a part of this path is a file, not a directory"),
    (FileExistsError, " is in the way: it exists and is not a directory"),
    (FileNotFoundError, ": no such file or directory"),
    (PermissionError, ": permission denied"),
)


def _file_system(exc: BaseException) -> UserError | None:
    for kind, says in _FILE_SYSTEM:
        if isinstance(exc, kind):
            return UserError(f"{exc.filename}{says}")
    return None


def _url(exc: BaseException) -> UserError | None:
    if type(exc) is ValueError and str(exc).startswith(_URL_VALUE_ERRORS):
        return UserError(f"not a valid URL: {exc} - give an http(s) URL such as http://localhost:9000")
    return None


def _botocore(exc: BaseException) -> UserError | None:
    try:
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ParamValidationError,
            ReadTimeoutError,
        )
    except ImportError:  # pragma: no cover - botocore ships with the CLI
        return None
    endpoint = getattr(exc, "kwargs", {}).get("endpoint_url")
    explained: dict[type[Exception], Callable[[], UserError]] = {
        # botocore's report spans lines ("Parameter validation failed:\nInvalid bucket name ...").
        ParamValidationError: lambda: UserError(f"S3 would refuse this request: {' '.join(str(exc).split())}"),
        ReadTimeoutError: lambda: UserError(
            f"no answer from S3 at {endpoint} within {S3_READ_TIMEOUT} s (it accepted the connection): "
            "is it an S3 endpoint, and up? (--s3-endpoint)",
            EXIT_FAILED,
        ),
        ConnectTimeoutError: lambda: UserError(
            f"cannot connect to S3 at {endpoint} within {S3_CONNECT_TIMEOUT} s: "
            "is the host right and reachable? (--s3-endpoint)",
            EXIT_FAILED,
        ),
        NoCredentialsError: lambda: UserError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (MinIO: minioadmin) or AWS_PROFILE",
            EXIT_FAILED,
        ),
        EndpointConnectionError: lambda: UserError(
            f"cannot reach S3 at {endpoint}: is it running? (--s3-endpoint)", EXIT_FAILED
        ),
    }
    for kind, user_error in explained.items():
        if isinstance(exc, kind):
            return user_error()
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        hints = {
            "NoSuchBucket": "create it first, or check --bucket and --s3-endpoint",
            "InvalidAccessKeyId": "check AWS_ACCESS_KEY_ID for this endpoint",
            "SignatureDoesNotMatch": "check AWS_SECRET_ACCESS_KEY for this endpoint",
            "AccessDenied": "these credentials may not do that",
        }
        hint = hints.get(code, "see the message")
        return UserError(f"S3 refused {exc.operation_name}: {code} {message} - {hint}".strip(), EXIT_FAILED)
    return None
