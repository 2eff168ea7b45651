"""The argument types, in process: the deployed code's bounds are accepted up to the edge and
refused past it, good values pass unchanged, and data printed through rich stays data.
(tests/workflow/test_cli_arguments.py runs the commands themselves.)"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from fanout_fetch import arguments as fetch_arguments
from fanout_local import cli
from fanout_local.cli import argtypes as arguments
from fanout_local.cli import console as cli_console
from fanout_local.engine import ExecutionResult
from fanout_local.errors import explain
from fanout_local.progress import new_progress
from s3fanout.config import (
    LAMBDA_MAX_TIMEOUT_SECONDS,
    LAMBDA_MIN_TIMEOUT_SECONDS,
    MAX_CONCURRENCY_LIMIT,
    MAX_EXPIRES_IN,
    MIN_UNIT_KEYS_RANGE,
)


@pytest.mark.parametrize(
    ("parse", "low", "high"),
    [
        (arguments.expires_in, 1, MAX_EXPIRES_IN),
        (arguments.max_concurrency, 1, MAX_CONCURRENCY_LIMIT),
        (arguments.unit_keys, *MIN_UNIT_KEYS_RANGE),
        (arguments.port_number, 0, 65535),
        (fetch_arguments.concurrency, 1, fetch_arguments.MAX_CONCURRENCY),
    ],
)
def test_numbers_take_the_deployed_bounds_and_nothing_past_them(parse: Any, low: int, high: int) -> None:
    assert parse(str(low)) == low
    assert parse(str(high)) == high
    for bad in (str(low - 1), str(high + 1), "1.5", "inf", "nan", "", "0x10", "1e3"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"out of range|not a whole number"):
            parse(bad)


def test_the_lambda_timeout_is_a_finite_number_of_seconds_lambda_accepts() -> None:
    assert arguments.lambda_timeout("2.5") == 2.5
    assert arguments.lambda_timeout(str(LAMBDA_MIN_TIMEOUT_SECONDS)) == LAMBDA_MIN_TIMEOUT_SECONDS
    assert arguments.lambda_timeout(str(LAMBDA_MAX_TIMEOUT_SECONDS)) == LAMBDA_MAX_TIMEOUT_SECONDS
    for bad in ("inf", "-inf", "nan", "0", "-1", "0.5", str(LAMBDA_MAX_TIMEOUT_SECONDS + 1), "1e999", "soon"):
        with pytest.raises(argparse.ArgumentTypeError, match=f"'{bad}'"):
            arguments.lambda_timeout(bad)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:9000",
        "https://s3.us-east-1.amazonaws.com",
        "http://127.0.0.1:3001",
        "http://[::1]:9000",
        "http://minio-1:9000/",
        "http://host.docker.internal:9000/prefix",
    ],
)
def test_endpoints_that_botocore_takes_pass_unchanged(url: str) -> None:
    assert arguments.s3_endpoint(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "notaurl",
        "http://[::1",
        "localhost:9000",
        "ftp://h",
        "http://",
        "http://h:99999",
        "http://a b",
        "http://h/?x=1",
        "http://minio_1:9000",  # botocore refuses an underscore in a host name
        "http://999.1.1.1:9000",  # a mistyped IPv4 address is no host name
    ],
)
def test_anything_else_is_refused_showing_the_text(url: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        arguments.s3_endpoint(url)
    assert f"'{url}'" in str(refused.value)


def test_bucket_names_follow_the_execution_inputs_rules() -> None:
    assert arguments.bucket_name("my-bucket.logs") == "my-bucket.logs"
    for bad in ("Bad_Bucket!", "ab", "a" * 64, "192.168.0.1", "a..b", "a.-b", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="not a valid S3 bucket name"):
            arguments.bucket_name(bad)


def test_prefixes_are_s3_keys_and_shown_as_typed() -> None:
    assert arguments.key_prefix("reports[old]/") == "reports[old]/"
    assert arguments.key_prefix("é" * 512) == "é" * 512  # 1024 bytes
    with pytest.raises(argparse.ArgumentTypeError, match="longer than 1024 bytes"):
        arguments.key_prefix("é" * 512 + "x")
    with pytest.raises(argparse.ArgumentTypeError, match=r"'caf\\udce9' is not valid UTF-8"):
        arguments.key_prefix("caf\udce9")  # argv bytes that were not UTF-8


def test_paths_are_checked_for_what_is_in_the_way(tmp_path: Path) -> None:
    afile = tmp_path / "a.pdf"
    afile.write_bytes(b"x")
    assert fetch_arguments.output_dir(str(tmp_path / "new" / "deeper")) == str(tmp_path / "new" / "deeper")
    assert fetch_arguments.output_file(str(tmp_path / "new" / "x.json")) == str(tmp_path / "new" / "x.json")
    with pytest.raises(argparse.ArgumentTypeError, match="is a file, not a directory"):
        fetch_arguments.output_dir(str(afile / "sub"))
    with pytest.raises(argparse.ArgumentTypeError, match="is a file, not a directory"):
        fetch_arguments.output_file(str(afile / "x.json"))
    with pytest.raises(argparse.ArgumentTypeError, match="is a directory"):
        fetch_arguments.output_file(str(tmp_path))
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_an_event_file_is_utf8_json(tmp_path: Path) -> None:
    good, latin = tmp_path / "good.json", tmp_path / "latin.json"
    good.write_text(json.dumps({"bucket": "café"}), encoding="utf-8")
    latin.write_bytes('{"bucket": "café"}'.encode("latin-1"))
    assert arguments.event_file(str(good)) == {"bucket": "café"}
    with pytest.raises(argparse.ArgumentTypeError, match=r"is not UTF-8 text \(byte 0xe9 at offset 15\)"):
        arguments.event_file(str(latin))


def test_function_names_and_their_short_forms() -> None:
    assert arguments.lambda_function("list-prefixes") == "ListPrefixesFunction"
    assert arguments.lambda_function("MergeIndex") == "MergeIndexFunction"
    with pytest.raises(argparse.ArgumentTypeError, match="unknown function 'x'; one of: ListPrefixesFunction"):
        arguments.lambda_function("x")


def test_one_line_even_for_a_newline_in_the_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(["run", "--aws", "--bucket", "a\nb"])
    assert exited.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "'a\\nb' is not a valid S3 bucket name" in line


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (UnicodeDecodeError("utf-8", b"ab\xff", 2, 3, "invalid start byte"), "not UTF-8 text: byte 0xff at offset 2"),
        (ValueError("Invalid endpoint: notaurl"), "not a valid URL: Invalid endpoint: notaurl"),
        (ValueError("Invalid IPv6 URL"), "not a valid URL: Invalid IPv6 URL"),
        (NotADirectoryError(20, "Not a directory", "a.pdf/x.json"), "a.pdf/x.json: a part of this path is a file"),
    ],
)
def test_the_safety_net_names_what_slipped_past_the_arguments(error: Exception, says: str) -> None:
    user_error = explain(error)
    assert user_error is not None
    assert says in str(user_error)
    assert user_error.exit_code == 2


def test_the_safety_net_knows_botocores_errors() -> None:
    from botocore.exceptions import ConnectTimeoutError, ParamValidationError, ReadTimeoutError

    invalid = explain(ParamValidationError(report='Invalid bucket name "Bad_Bucket!": must match'))
    assert invalid is not None
    assert invalid.exit_code == 2
    assert "\n" not in str(invalid)
    assert "Bad_Bucket!" in str(invalid)
    silent = explain(ReadTimeoutError(endpoint_url="http://127.0.0.1:1/b"))
    assert silent is not None
    assert silent.exit_code == 1
    assert "no answer from S3 at http://127.0.0.1:1/b within 10 s" in str(silent)
    unreachable = explain(ConnectTimeoutError(endpoint_url="http://10.0.0.1/b"))
    assert unreachable is not None
    assert "cannot connect to S3 at http://10.0.0.1/b within 5 s" in str(unreachable)
    assert explain(ValueError("something else")) is None  # a bug keeps its traceback


def recording_console() -> Console:
    return Console(file=io.StringIO(), width=300, force_terminal=False)


def test_a_failure_prints_its_cause_as_data(monkeypatch: pytest.MonkeyPatch) -> None:
    console = recording_console()
    monkeypatch.setattr(cli_console, "console", console)
    cause = json.dumps({"errorType": "PartsMissing", "errorMessage": "unit 0: [/:] in key [bold]x[/bold]"})
    cli_console.print_failure(ExecutionResult("run-[1]", "FAILED", None, "States.[/]TaskFailed", cause, 1.0))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "execution run-[1] FAILED: States.[/]TaskFailed" in text
    assert "cause: PartsMissing: unit 0: [/:] in key [bold]x[/bold]" in text


def test_progress_details_are_data() -> None:
    console = recording_console()
    with new_progress(console) as progress:
        progress.add_task("seeding [/oops]", total=1, detail="s3://b/reports[old]/")
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "seeding [/oops]" in text
    assert "s3://b/reports[old]/" in text
