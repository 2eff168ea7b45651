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

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


class UserError(Exception):
    """A problem the user can fix; the message names it and the fix."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def explain(exc: BaseException) -> UserError | None:
    """A one-line UserError for the errors a user causes (None: a bug)."""
    if isinstance(exc, UserError):
        return exc
    if isinstance(exc, json.JSONDecodeError):
        return UserError(f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}")
    if isinstance(exc, IsADirectoryError):
        return UserError(f"{exc.filename} is a directory: give a file path")
    if isinstance(exc, FileNotFoundError):
        return UserError(f"{exc.filename}: no such file or directory")
    if isinstance(exc, PermissionError):
        return UserError(f"{exc.filename}: permission denied")
    return _botocore(exc)


def _botocore(exc: BaseException) -> UserError | None:
    try:
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
    except ImportError:  # pragma: no cover - botocore ships with the CLI
        return None
    if isinstance(exc, NoCredentialsError):
        return UserError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (MinIO: minioadmin) or AWS_PROFILE",
            EXIT_FAILED,
        )
    if isinstance(exc, EndpointConnectionError):
        return UserError(f"cannot reach S3 at {exc.kwargs.get('endpoint_url')}: is it running? (--s3-endpoint)", 1)
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
