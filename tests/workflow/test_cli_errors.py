"""Every `fanout` command meets a user error with one line naming the problem and the fix,
a documented exit code (0 ok, 1 failed, 2 usage, 130 interrupted, 143 terminated) and no traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import fanout

PROJECT = Path(__file__).resolve().parents[2]


def one_line(text: str) -> str:
    return " ".join(text.split())


# (arguments, exit code, what the message must say); {bucket}, {endpoint}, {tmp} filled in.
CASES: list[tuple[list[str], int, str]] = [
    (["run", "--bucket", "{bucket}"], 2, "one of the arguments --s3-endpoint --aws is required"),
    (["run", "--bucket", "{bucket}", "--s3-endpoint", "{endpoint}", "--name", "../../x"], 2, "use 1-80 of"),
    (["run", "--bucket", "{bucket}", "--s3-endpoint", "{endpoint}", "--name", "a/b"], 2, "use 1-80 of"),
    (["run", "--bucket", "{bucket}", "--s3-endpoint", "{endpoint}", "--lambda-timeout", "0"], 2, "'0' is out of range"),
    (["render", "--max-concurrency", "0"], 2, "'0' is out of range: give 1-10000"),
    (["render", "--output", "{tmp}"], 2, "is a directory: give a file path"),
    (["serve-lambda", "--port", "70000"], 2, "'70000' is out of range: give 0-65535"),
    (["invoke", "ListPrefixes", "--event", "{tmp}/absent.json"], 2, "absent.json': no such file or directory"),
    (["invoke", "ListPrefixes", "--event", "{tmp}/broken.json"], 2, "not valid JSON"),
    (
        ["seed", "--bucket", "no-such-bucket-xyz", "--source-dir", "{tmp}", "--s3-endpoint", "{endpoint}"],
        1,
        "no bucket 'no-such-bucket-xyz' at",
    ),
    (["fetch", "not a url", "--to", "{tmp}/out"], 2, "'not a url' is not an http(s) link"),
    (["run", "--bucket", "{bucket}", "--s3-endpoint", "{endpoint}", "--prefix", "nothing-here/"], 1, "nothing matched"),
    (["run", "--bucket", "no-such-bucket-xyz", "--s3-endpoint", "{endpoint}"], 1, "no bucket 'no-such-bucket-xyz' at"),
    (
        ["run", "--bucket", "{bucket}", "--s3-endpoint", "http://127.0.0.1:9"],
        1,
        "cannot reach S3 at http://127.0.0.1:9",
    ),
]


@pytest.mark.parametrize(("arguments", "code", "says"), CASES, ids=[" ".join(c[0][:3]) + f" ({c[1]})" for c in CASES])
def test_user_errors_are_one_line_with_an_exit_code(
    arguments: list[str], code: int, says: str, bucket: str, s3: Any, moto_endpoint: str, tmp_path: Path
) -> None:
    s3.put_object(Bucket=bucket, Key="a.pdf", Body=b"%PDF")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "f.pdf").write_text("x", encoding="utf-8")
    args = [a.format(bucket=bucket, endpoint=moto_endpoint, tmp=tmp_path) for a in arguments]
    done = fanout(*args)
    assert done.returncode == code, done.stderr[-2000:]
    assert says in one_line(done.stderr), done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_debug_shows_the_traceback_of_a_user_error(moto_endpoint: str) -> None:
    done = fanout("--debug", "run", "--bucket", "no-such-bucket-xyz", "--s3-endpoint", moto_endpoint)
    assert done.returncode == 1
    assert "Traceback" in done.stderr
    assert "UserError: no bucket 'no-such-bucket-xyz'" in done.stderr


def test_an_empty_match_can_be_allowed(bucket: str, moto_endpoint: str) -> None:
    done = fanout("run", "--bucket", bucket, "--s3-endpoint", moto_endpoint, "--allow-empty")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("http://")


def test_user_text_is_printed_as_typed_not_read_as_markup(
    s3: Any, bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    """rich reads ``[...]`` as markup: a prefix ``reports[old]/`` lost its ``[old]`` and
    ``[/oops]`` was a MarkupError traceback."""
    (tmp_path / "a.pdf").write_bytes(b"%PDF")
    seeded = fanout(
        "seed",
        "--bucket",
        bucket,
        "--source-dir",
        str(tmp_path),
        "--prefix",
        "reports[old]/",
        "--s3-endpoint",
        moto_endpoint,
    )
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    assert f"uploaded 1 file(s) to s3://{bucket}/reports[old]/" in seeded.stderr
    assert s3.get_object(Bucket=bucket, Key="reports[old]/a.pdf")["Body"].read() == b"%PDF"

    done = fanout("run", "--bucket", bucket, "--s3-endpoint", moto_endpoint, "--prefix", "[/oops]/reports[old]/")

    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert f"nothing matched: s3://{bucket}/[/oops]/reports[old]/ has no object ending in '.pdf'" in one_line(
        done.stderr
    )
