"""Named errors. The class name is what Step Functions shows as the error name."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

# ClientError codes that mean "the bucket is not there" / "you may not".
_NOT_FOUND_CODES = frozenset({"NoSuchBucket"})
_DENIED_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "403", "Forbidden"})

# What an AWS call (S3, Secrets Manager) raises once the client's retries are spent: an
# error response (ClientError) or no response at all (BotoCoreError: dropped connection, ...).
AWS_CALL_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError)


class FanoutError(Exception):
    """Base class of every error this application raises on purpose."""


class InvalidInput(FanoutError):
    """An event field is missing, of the wrong type or out of range."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r}: {reason}")


class BucketNotFound(FanoutError):
    """The bucket does not exist (or disappeared while we worked)."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        super().__init__(f"bucket={bucket!r}: no such bucket")


class AccessDenied(FanoutError):
    """S3 refused an operation on a bucket."""

    def __init__(self, bucket: str, operation: str) -> None:
        self.bucket = bucket
        self.operation = operation
        super().__init__(f"bucket={bucket!r}: access denied for {operation}")


class S3RequestFailed(FanoutError):
    """Any other S3 error that survived the client's retries."""

    def __init__(self, bucket: str, operation: str, code: str, message: str) -> None:
        self.bucket = bucket
        self.operation = operation
        self.code = code
        super().__init__(f"bucket={bucket!r}: {operation} failed: {code}: {message}")


class PartsMissing(FanoutError):
    """Some planned work units have no part; the index is not published."""

    def __init__(self, run_id: str, missing: dict[int, str]) -> None:
        self.run_id = run_id
        self.missing = missing
        shown = "; ".join(f"unit {unit}: {why}" for unit, why in list(missing.items())[:20])
        more = f" (and {len(missing) - 20} more)" if len(missing) > 20 else ""
        super().__init__(f"run_id={run_id!r}: {len(missing)} unit(s) have no part: {shown}{more}")


def error_code(error: BaseException) -> str:
    """The service's error code (``NoSuchKey``, ``AccessDenied``, ``404``...), else the HTTP
    status, else - no response at all (a dropped connection) - the exception's class name.
    The one place that reads a botocore error."""
    if not isinstance(error, ClientError):
        return type(error).__name__
    response: dict[str, Any] = getattr(error, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code or str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", "Unknown"))


def translate_client_error(error: Exception, *, bucket: str, operation: str) -> FanoutError:
    """Turn a botocore ClientError (or connection error) into one of our named errors."""
    if not isinstance(error, ClientError):
        # No response at all (connection dropped, timed out): name the botocore error.
        return S3RequestFailed(bucket, operation, type(error).__name__, str(error))
    err = (getattr(error, "response", None) or {}).get("Error", {})
    code = error_code(error)
    if code in _NOT_FOUND_CODES:
        return BucketNotFound(bucket)
    if code in _DENIED_CODES:
        return AccessDenied(bucket, operation)
    return S3RequestFailed(bucket, operation, code, str(err.get("Message", error)))


class SigningIdentityUnavailable(FanoutError):
    """The signing secret cannot be read or does not hold an access key pair."""

    def __init__(self, secret_id: str, reason: str) -> None:
        super().__init__(f"signing secret {secret_id!r}: {reason}")


class RunNotFound(FanoutError):
    """BuildManifest or MergeIndex was given a run_id that has no plan."""

    def __init__(self, run_id: str, location: str) -> None:
        self.run_id = run_id
        super().__init__(f"run_id={run_id!r}: no plan at {location} (run ListPrefixes first)")
