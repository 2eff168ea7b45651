"""One way to read a botocore error: s3fanout.errors.error_code."""

from __future__ import annotations

from botocore.exceptions import ClientError, EndpointConnectionError

from s3fanout.errors import AccessDenied, BucketNotFound, S3RequestFailed, error_code, translate_client_error


def client_error(code: str | None, status: int = 400) -> ClientError:
    response = {"ResponseMetadata": {"HTTPStatusCode": status}}
    if code is not None:
        response["Error"] = {"Code": code, "Message": "m"}
    return ClientError(response, "GetObject")  # type: ignore[arg-type]


def test_the_code_then_the_status_then_the_class_name() -> None:
    assert error_code(client_error("NoSuchKey")) == "NoSuchKey"
    assert error_code(client_error(None, 404)) == "404"
    assert error_code(client_error("")) == "400"
    assert error_code(EndpointConnectionError(endpoint_url="http://x")) == "EndpointConnectionError"
    assert error_code(ValueError("x")) == "ValueError"


def test_translation_names_the_error_by_its_code() -> None:
    assert isinstance(translate_client_error(client_error("NoSuchBucket"), bucket="b", operation="Op"), BucketNotFound)
    assert isinstance(translate_client_error(client_error(None, 403), bucket="b", operation="Op"), AccessDenied)
    failed = translate_client_error(client_error("SlowDown", 503), bucket="b", operation="ListObjectsV2")
    assert isinstance(failed, S3RequestFailed)
    assert "ListObjectsV2 failed: SlowDown" in str(failed)
