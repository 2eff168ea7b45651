"""Checks before an engine starts (the bucket, the Lambda endpoint) and the CLI's own S3 client."""

from __future__ import annotations

import time
from typing import Any

from fanout_local.errors import S3_CONNECT_TIMEOUT, S3_READ_TIMEOUT, UserError


def aws_endpoint() -> str:
    import boto3

    region = boto3.session.Session().region_name or "us-east-1"
    return f"https://s3.{region}.amazonaws.com"


CHECK_ATTEMPTS = 5  # HeadBucket tries when S3 answers 5xx or drops the connection


def s3_client(endpoint: str | None, attempts: int) -> Any:
    """The CLI's own S3 client: bounded waits (errors.S3_*), so an endpoint that never answers
    is a one-line error in seconds (botocore's defaults: 60 s per read, retried)."""
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        connect_timeout=S3_CONNECT_TIMEOUT,
        read_timeout=S3_READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": attempts},
    )
    return boto3.client("s3", endpoint_url=endpoint, config=config)


def check_bucket(endpoint: str | None, bucket: str) -> None:
    """One quick HeadBucket before the engine starts: an unreachable endpoint or a missing
    bucket is named in a second, not after the planner's retries (tens of seconds). A flaky
    S3 (5xx, a dropped connection) is retried a few times - it is not the user's error - but
    a refused connection (nothing listening) or no answer at all (a read timeout) is not."""
    from botocore.exceptions import ClientError, ConnectionClosedError

    s3 = s3_client(endpoint, attempts=1)
    for attempt in range(1, CHECK_ATTEMPTS + 1):
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchBucket"}:
                where = endpoint or "AWS"
                raise UserError(f"no bucket '{bucket}' at {where}: check --bucket and --s3-endpoint", 1) from None
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status < 500 or attempt == CHECK_ATTEMPTS:
                raise
        except ConnectionClosedError:
            if attempt == CHECK_ATTEMPTS:
                raise
        else:
            return
        time.sleep(0.2 * attempt)


def check_lambda_endpoint(endpoint: str) -> None:
    """Any HTTP answer will do (even 404): an endpoint that is down or never answers is named
    now, not as a hung execution."""
    import requests

    try:
        requests.get(endpoint, timeout=(S3_CONNECT_TIMEOUT, S3_READ_TIMEOUT)).close()
    except requests.ReadTimeout:
        raise UserError(
            f"no answer from the Lambda endpoint at {endpoint} within {S3_READ_TIMEOUT} s: "
            "is it sam local start-lambda or fanout serve-lambda? (--lambda-endpoint)",
            1,
        ) from None
    except requests.ConnectionError:
        raise UserError(
            f"cannot reach the Lambda endpoint at {endpoint}: is it running? (--lambda-endpoint)", 1
        ) from None
