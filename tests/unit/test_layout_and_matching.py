"""Run layout keys, suffix matching, manifest lines, error translation and settings (no S3)."""

from __future__ import annotations

import json
import random
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from s3fanout.build_manifest import manifest_lines, suffix_matcher
from s3fanout.config import Settings
from s3fanout.errors import AccessDenied, BucketNotFound, PartsMissing, S3RequestFailed, translate_client_error
from s3fanout.layout import RunLayout
from s3fanout.presign import new_url_signer

# --- layout --------------------------------------------------------------------------------


def test_every_key_of_a_run_is_under_its_base() -> None:
    layout = RunLayout(root="manifests", run_id="example-run")
    assert layout.base == "manifests/example-run/"
    keys = [
        layout.plan_key,
        layout.run_key,
        layout.index_key,
        layout.summaries_prefix,
        layout.errors_prefix,
        layout.part_key(0),
        layout.part_key(3, 2),
        layout.summary_key(3, 2),
        layout.error_key(3),
    ]
    assert all(key.startswith(layout.base) for key in keys)
    assert len(set(keys)) == len(keys)
    assert layout.summary_key(3, 2).startswith(layout.summaries_prefix)
    assert layout.error_key(3).startswith(layout.errors_prefix)


def test_segment_zero_keeps_the_plain_part_name() -> None:
    layout = RunLayout(root="manifests", run_id="r")
    assert layout.part_key(7) == layout.part_key(7, 0)
    assert layout.part_key(7, 0) != layout.part_key(7, 1)
    assert layout.part_key(7, 0).endswith(".jsonl")
    assert layout.part_key(7, 1).endswith(".jsonl")


def test_keys_sort_in_unit_then_segment_order() -> None:
    """S3 lists keys in byte order; MergeIndex relies on it matching (unit, segment)."""
    layout = RunLayout(root="manifests", run_id="r")
    pairs = [(unit, segment) for unit in (0, 1, 9, 10, 11, 99, 100, 12345, 99_999) for segment in (0, 1, 9, 10, 9_999)]
    shuffled = random.Random(7).sample(pairs, len(pairs))
    assert sorted(shuffled, key=lambda p: layout.summary_key(*p)) == sorted(pairs)
    units = sorted({unit for unit, _ in pairs})
    assert sorted(units, key=layout.error_key) == units
    assert sorted(units, key=layout.part_key) == units


# --- suffix matching -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "key", "expected"),
    [
        (".pdf", "a/b.pdf", True),
        (".pdf", "a/b.PDF", True),
        (".pdf", "a/b.Pdf", True),
        (".PDF", "a/b.pdf", True),
        (".pdf", "a/b.pdf.txt", False),
        (".pdf", "a/b.pdfx", False),
        (".pdf", "pdf", False),
        (".pdf", ".pdf", True),
        (".pdf", "", False),
        (".pdf", "a/b.pdf/", False),
        ("", "anything", True),
        ("", "", True),
        (".tar.gz", "x.TAR.GZ", True),
        (".tar.gz", "x.gz", False),
        ("文件.pdf", "a/的文件.PDF", True),
        ("文件.pdf", "a/文档.pdf", False),
        (".É", "x.é", True),
        (".é", "X.É", True),
        (".pdf", "unicodé-文件-📄.pdf", True),
    ],
)
def test_suffix_matcher(suffix: str, key: str, expected: bool) -> None:
    assert suffix_matcher(suffix)(key) is expected
    # Same answer as the plain definition: a case-insensitive endswith.
    assert key.casefold().endswith(suffix.casefold()) is expected


# --- manifest lines ------------------------------------------------------------------------

AWKWARD_KEYS = [
    "plain.pdf",
    'quote"inside.pdf',
    "back\\slash.pdf",
    "new\nline.pdf",
    "tab\there.pdf",
    "unicodé-文件-📄.pdf",
    "space and+plus&amp=eq%25?#.pdf",
    "\u2028line-separator.pdf",
]


def test_manifest_lines_are_valid_jsonl_with_urls_for_each_key() -> None:
    signer = new_url_signer("demo-bucket", 900, region="us-east-1", endpoint_url="http://127.0.0.1:9")
    # Listed texts pass through as they are, even odd ones an S3-compatible server might send.
    etags = ["c4ca4238a0b923820dcc509a6f75849b", "9b2cf535f27731c974343645a3985328-3", 'we"ird\\', ""]
    entries = [
        (key, size, None, f"2024-01-02T03:04:{size:02d}.000Z", etags[size % len(etags)])
        for size, key in enumerate(AWKWARD_KEYS)
    ]
    body = manifest_lines(entries, signer)
    assert body.endswith(b"\n")
    lines = body.decode("utf-8").split("\n")[:-1]
    assert len(lines) == len(entries)
    for line, (key, size, _skip, modified, etag) in zip(lines, entries, strict=True):
        record = json.loads(line)
        assert set(record) == {"key", "size", "etag", "last_modified", "url"}
        assert record["key"] == key
        assert record["size"] == size
        assert record["etag"] == etag
        assert record["last_modified"] == modified
        url = urlsplit(record["url"])
        assert url.path == "/demo-bucket/" + quote(key, safe="/~")
        query = parse_qs(url.query)
        assert query["X-Amz-Expires"] == ["900"]
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


def test_manifest_lines_of_nothing_is_empty() -> None:
    signer = new_url_signer("demo-bucket", 900, region="us-east-1", endpoint_url=None)
    assert manifest_lines([], signer) == b""


# --- error translation ---------------------------------------------------------------------


def client_error(code: str, status: int, message: str = "msg") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "ListObjectsV2",
    )


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchBucket", 404, BucketNotFound),
        ("AccessDenied", 403, AccessDenied),
        ("AllAccessDisabled", 403, AccessDenied),
        ("SlowDown", 503, S3RequestFailed),
        ("InternalError", 500, S3RequestFailed),
    ],
)
def test_client_errors_become_named_errors(code: str, status: int, expected: type[Exception]) -> None:
    error = translate_client_error(client_error(code, status), bucket="demo-bucket", operation="ListObjectsV2")
    assert type(error) is expected
    assert "demo-bucket" in str(error)
    if expected is S3RequestFailed:
        assert code in str(error)
        assert "ListObjectsV2" in str(error)


def test_a_client_error_without_a_code_uses_the_http_status() -> None:
    error = ClientError({"Error": {}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "HeadBucket")
    assert type(translate_client_error(error, bucket="b-1", operation="HeadBucket")) is AccessDenied


def test_a_connection_error_becomes_s3_request_failed() -> None:
    """No response at all (retries spent on a dropped connection) is still a named error."""
    cause = ConnectionClosedError(endpoint_url="http://s3.test/demo-bucket/k")
    error = translate_client_error(cause, bucket="demo-bucket", operation="UploadPart")
    assert type(error) is S3RequestFailed
    assert str(error).startswith("bucket='demo-bucket': UploadPart failed: ConnectionClosedError: ")
    assert "http://s3.test/demo-bucket/k" in str(error)


def test_parts_missing_names_every_unit_up_to_twenty() -> None:
    missing = {unit: f"prefix 'p{unit}/': no complete part" for unit in range(25)}
    message = str(PartsMissing("run-1", missing))
    assert "run_id='run-1'" in message
    assert "25 unit(s)" in message
    assert "unit 19: prefix 'p19/'" in message
    assert "unit 20:" not in message
    assert "and 5 more" in message


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("QUEUE_MAX", "zero", "is not an integer"),
        ("QUEUE_MAX", "0", "outside 1..1000"),
        ("URL_EXPIRY_SECONDS", "604801", "outside 1..604800"),
        ("PART_SIZE_BYTES", str(5 * 1024 * 1024 - 1), "outside"),
        ("DEFAULT_MAX_CONCURRENCY", "1.5", "is not an integer"),
    ],
)
def test_settings_reject_bad_environment(monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name) as raised:
        Settings.from_env()
    assert fragment in str(raised.value)


def test_settings_defaults_and_manifest_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MANIFEST_BUCKET", "MANIFEST_PREFIX", "QUEUE_MAX", "PART_SIZE_BYTES", "URL_EXPIRY_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    config: Any = Settings.from_env()
    assert config.manifest_prefix == "manifests"
    assert config.part_size >= 5 * 1024 * 1024
    assert config.manifest_bucket_for("src-bucket") == "src-bucket"
    monkeypatch.setenv("MANIFEST_BUCKET", "out-bucket")
    monkeypatch.setenv("MANIFEST_PREFIX", "/custom/")
    config = Settings.from_env()
    assert config.manifest_bucket_for("src-bucket") == "out-bucket"
    assert config.manifest_prefix == "custom"
