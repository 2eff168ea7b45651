"""Every input of every command is checked before any work: a bad value is one line on
stderr naming the problem with the user's text as typed, exit 2, nothing written - no file,
no bucket, no object, no log - and no engine started (issue 17, section 4).

The table below has a bad value for each option (and positional) that takes one; the last
test reads the parsers themselves, so a new option without a row here fails."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from fanout_fetch.arguments import one_line
from tests.support.cli import all_parsers
from tests.support.silent_server import silent_server as silent_server_running

PROJECT = Path(__file__).resolve().parents[2]
LONG_KEY = "k" * 1025  # one byte over an S3 key
LONG_SUFFIX = "s" * 256


@dataclass(frozen=True)
class Case:
    command: str  # "fanout run", "fanout-fetch", ...
    option: str  # the option (or positional's dest) the bad value is given to
    argv: tuple[str, ...]  # after the command; {tmp} {file} {endpoint} {bucket} filled in
    typed: str | None  # the user's text, which the message must show as typed

    @property
    def id(self) -> str:
        return f"{self.command} {self.option}={self.typed!r}"


def case(command: str, option: str, value: str, *rest: str, positional: bool = False) -> Case:
    """A bad ``value`` for ``option``; ``rest``: the other arguments, all valid. A value that
    starts with ``-`` is given as ``--option=value`` (else argparse takes it for an option)."""
    given = (value,) if positional else (f"{option}={value}",) if value.startswith("-") else (option, value)
    return Case(command, option, (*given, *rest), value)


RUN = ("--bucket", "{bucket}", "--s3-endpoint", "{endpoint}")
RUN_NO_BUCKET = ("--s3-endpoint", "{endpoint}")
SEED = ("--bucket", "{bucket}", "--source-dir", "{tmp}", "--s3-endpoint", "{endpoint}")
INVOKE = ("ListPrefixes", "--event", "{event}")
LINK = "http://127.0.0.1:9/index.json"
SHARE_WHERE = ("--endpoint-url", "{endpoint}")
SHARE = ("s3://{bucket}/docs/", *SHARE_WHERE)
MANIFESTS = ("--manifest-bucket", "{bucket}", "--s3-endpoint", "{endpoint}")
SHARES_OR_REVOKE = [("fanout shares", ()), ("fanout revoke", ("some-run",))]
BAD_LOCATIONS = ["{bucket}/docs/", "s3://", "s3://Bad_Bucket/x", "https://{bucket}.s3.amazonaws.com/x"]

BAD_BUCKETS = ["Bad_Bucket!", "ab", "-abc", "abc-", "a..b", "192.168.1.1", "UPPER", ""]
BAD_ENDPOINTS = [
    "notaurl",
    "http://[::1",
    "ftp://host:21",
    "http://",
    "http://h:99999",
    "http://h:port",
    "http://a b",
    "http://h/?q=1",
    "localhost:9000",
]
BAD_LINKS = ["http://[::1", "not a url", "file:///etc/passwd", "http://", "https://h:70000/i.json", "[/oops]"]


def _fetch_cases(command: str) -> list[Case]:
    return [
        *[case(command, "index_url", url, "--to", "{tmp}/out", positional=True) for url in BAD_LINKS],
        case(command, "--to", "", LINK),
        case(command, "--to", "{file}", LINK),
        case(command, "--to", "{file}/sub", LINK),
        *[case(command, "--concurrency", n, LINK, "--to", "{tmp}/out") for n in ["0", "-1", "100000", "x", "1.5"]],
    ]


CASES: list[Case] = [
    # demo
    *[case("fanout demo", "--objects", n) for n in ["-5", "0", "abc", "1e3", "1000001"]],
    *[case("fanout demo", "--prefixes", n) for n in ["-1", "x", "10001"]],
    *[case("fanout demo", "--max-concurrency", n) for n in ["0", "100000"]],
    *[case("fanout demo", "--unit-keys", n) for n in ["0", "10000001"]],
    *[case("fanout demo", "--verify-sample", n) for n in ["-1", "0", "many"]],
    *[case("fanout demo", "--fetch-to", p) for p in ["{file}", "{file}/sub", ""]],
    # run
    *[case("fanout run", "--bucket", b, *RUN_NO_BUCKET) for b in BAD_BUCKETS],
    case("fanout run", "--prefix", LONG_KEY, *RUN),
    case("fanout run", "--suffix", LONG_SUFFIX, *RUN),
    *[case("fanout run", "--expires-in", n, *RUN) for n in ["604801", "-1", "0", "1.5", "abc", "inf"]],
    *[case("fanout run", "--max-concurrency", n, *RUN) for n in ["0", "100000", "-3", "two"]],
    *[case("fanout run", "--manifest-bucket", b, *RUN) for b in ["Bad_Bucket!", "x"]],
    *[case("fanout run", "--s3-endpoint", e, "--bucket", "{bucket}") for e in BAD_ENDPOINTS],
    *[case("fanout run", "--lambda-endpoint", e, *RUN) for e in ["notaurl", "http://[::1", "http://h:0"]],
    *[case("fanout run", "--lambda-timeout", n, *RUN) for n in ["inf", "nan", "0", "-1", "901", "abc", "1e999"]],
    *[case("fanout run", "--name", n, *RUN) for n in ["a/b", "../../x", "", "n" * 81, "[/oops]"]],
    *[case("fanout run", "--title", t, *RUN) for t in ["", "   ", "t" * 201, "two\nlines", "bell\x07"]],
    *[case("fanout run", "--message", m, *RUN) for m in ["", "m" * 2001, "tab\there", "cr\r\n"]],
    # seed
    *[case("fanout seed", "--bucket", b, "--source-dir", "{tmp}", "--s3-endpoint", "{endpoint}") for b in BAD_BUCKETS],
    *[
        case("fanout seed", "--source-dir", d, "--bucket", "{bucket}", "--s3-endpoint", "{endpoint}")
        for d in ["{tmp}/absent", "{file}", ""]
    ],
    case("fanout seed", "--prefix", LONG_KEY, *SEED),
    *[case("fanout seed", "--s3-endpoint", e, "--bucket", "{bucket}", "--source-dir", "{tmp}") for e in BAD_ENDPOINTS],
    # invoke
    *[case("fanout invoke", "function", f, "--event", "{event}", positional=True) for f in ["NoSuch", "[/oops]", ""]],
    *[
        case("fanout invoke", "--event", e, "ListPrefixes")
        for e in ["{tmp}/absent.json", "{tmp}/latin1.json", "{tmp}/broken.json", "{tmp}/list.json", "{tmp}", ""]
    ],
    *[case("fanout invoke", "--s3-endpoint", e, *INVOKE) for e in ["notaurl", "http://[::1"]],
    case("fanout invoke", "--manifest-bucket", "Bad_Bucket!", *INVOKE),
    # fetch, both CLIs
    *_fetch_cases("fanout fetch"),
    *_fetch_cases("fanout-fetch"),
    # render
    *[case("fanout render", "--output", p) for p in ["{file}/x.json", "{tmp}", "", "{tmp}/new/"]],
    *[case("fanout render", "--max-concurrency", n) for n in ["100000", "0", "x"]],
    case("fanout render", "--target", "nope"),
    # serve-lambda
    *[case("fanout serve-lambda", "--host", h) for h in ["a b", "bad!host", "", "http://x"]],
    *[case("fanout serve-lambda", "--port", p) for p in ["70000", "-1", "x"]],
    *[case("fanout serve-lambda", "--s3-endpoint", e) for e in ["notaurl", "http://[::1"]],
    case("fanout serve-lambda", "--manifest-bucket", "Bad_Bucket!"),
    *[case("fanout serve-lambda", "--lambda-timeout", n) for n in ["inf", "0"]],
    # serve
    *[case("fanout serve", "--host", h) for h in ["a b", "bad!host", ""]],
    *[case("fanout serve", "--port", p) for p in ["70000", "-1", "x"]],
    *[case("fanout serve", "--s3-endpoint", e) for e in ["notaurl", "http://[::1"]],
    *[case("fanout serve", "--manifest-bucket", b) for b in ["Bad_Bucket!", "x"]],
    *[case("fanout serve", "--bucket", b) for b in ["Bad_Bucket!", ""]],
    *[case("fanout serve", "--unit-keys", n) for n in ["0", "x"]],
    *[case("fanout serve", "--lambda-timeout", n) for n in ["inf", "0"]],
    # share
    *[case("fanout share", "location", u, *SHARE_WHERE, positional=True) for u in BAD_LOCATIONS],
    case("fanout share", "--suffix", LONG_SUFFIX, *SHARE),
    *[case("fanout share", "--expires-in", d, *SHARE) for d in ["8d", "0", "15 minutes", "-1m", "1.5h", "604801"]],
    *[case("fanout share", "--max-concurrency", n, *SHARE) for n in ["0", "100000", "two"]],
    *[case("fanout share", "--name", n, *SHARE) for n in ["a/b", "n" * 81]],
    *[case("fanout share", "--title", t, *SHARE) for t in ["", "t" * 201, "two\nlines"]],
    *[case("fanout share", "--message", m, *SHARE) for m in ["", "m" * 2001]],
    *[case("fanout share", "--stack", n, "s3://{bucket}/") for n in ["1stack", "has_underscore", ""]],
    *[case("fanout share", "--endpoint-url", e, "s3://{bucket}/") for e in ["notaurl", "http://[::1"]],
    *[case("fanout share", "--state-machine-arn", a, "s3://{bucket}/") for a in ["arn:nope", "{bucket}"]],
    *[case("fanout share", "--region", r, *SHARE) for r in ["mars", "US-EAST-1", ""]],
    # shares, revoke
    *[case(c, "--stack", n, *r) for c, r in SHARES_OR_REVOKE for n in ["1stack", ""]],
    *[case(c, "--manifest-bucket", b, *r) for c, r in SHARES_OR_REVOKE for b in ["Bad_Bucket!", "ab"]],
    *[case(c, "--s3-endpoint", e, *r, *MANIFESTS) for c, r in SHARES_OR_REVOKE for e in ["notaurl", "http://h:0x"]],
    *[case(c, "--region", r_, *r, *MANIFESTS) for c, r in SHARES_OR_REVOKE for r_ in ["mars"]],
    *[case("fanout revoke", "run_id", n, *MANIFESTS, positional=True) for n in ["a/b", "../x", "n" * 81]],
    # the command itself
    Case("fanout", "command", ("nope",), "nope"),
]


@dataclass
class World:
    tmp: Path  # the command's working directory too
    values: dict[str, str]

    def argv(self, case: Case) -> list[str]:
        return [arg.format(**self.values) for arg in case.argv]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> World:
    """One world for the module (each case checks it is unchanged): a bucket on the moto
    server, files, and the directory the commands run in."""
    tmp_path = tmp_path_factory.mktemp("cli-arguments")
    bucket = f"args-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=bucket)
    (tmp_path / "a.pdf").write_bytes(b"%PDF a")  # a file where a directory would have to be
    (tmp_path / "event.json").write_text('{"bucket": "x"}', encoding="utf-8")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "list.json").write_text('[{"bucket": "x"}]', encoding="utf-8")
    (tmp_path / "latin1.json").write_bytes('{"bucket": "caf\xe9"}'.encode("latin-1"))
    values = {
        "tmp": str(tmp_path),
        "file": str(tmp_path / "a.pdf"),
        "event": str(tmp_path / "event.json"),
        "endpoint": moto_endpoint,
        "bucket": bucket,
    }
    return World(tmp_path, values)


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and mtime: what a command may not change."""
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


def s3_state(s3: Any, bucket: str) -> tuple[list[str], list[str]]:
    """Every bucket's name and the keys of the commands' bucket: no bucket, no object made."""
    names = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    return names, sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", ()))


def run_cli(command: str, argv: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    module = "fanout_fetch.cli" if command == "fanout-fetch" else "fanout_local.cli"
    sub = command.split()[1:]  # "fanout run" -> ["run"]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", module, *sub, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "80"},  # a narrow terminal: a long message must still be one line
    )
    return done, time.monotonic() - started


@pytest.mark.parametrize("bad", CASES, ids=[c.id for c in CASES])
def test_a_bad_value_is_one_line_exit_2_and_nothing_done(bad: Case, world: World, s3: Any) -> None:
    logs = PROJECT / ".fanout" / "logs"
    before = (tree(world.tmp), s3_state(s3, world.values["bucket"]), sorted(logs.glob("*")) if logs.exists() else [])

    done, seconds = run_cli(bad.command, world.argv(bad), world.tmp)

    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(lines) == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    message = lines[0]
    assert message.startswith(f"{bad.command}: error: "), message
    # It names the argument: by its option, or a positional as its usage shows it (its metavar).
    named = bad.option.lstrip("-") in message or f"argument {_metavar(bad)}:" in message
    assert named or bad.option == "index_url", message
    if bad.typed:
        # As typed, not repr(); a control character escaped, so the message stays one line.
        assert f"'{one_line(bad.typed.format(**world.values))}'" in message, message
    # Failed fast: no engine, no S3 request, nothing written anywhere.
    assert "starting the engine" not in done.stderr
    assert seconds < 30
    after = (tree(world.tmp), s3_state(s3, world.values["bucket"]), sorted(logs.glob("*")) if logs.exists() else [])
    assert after == before


def _metavar(bad: Case) -> str:
    """How argparse names a positional in its messages."""
    parser = all_parsers()[bad.command]
    action = next((a for a in parser._actions if a.dest == bad.option and not a.option_strings), None)
    return "" if action is None else str(action.metavar or action.dest)


def test_a_missing_required_argument_is_one_line_too(world: World) -> None:
    for command, argv, names in [
        ("fanout run", ["--s3-endpoint", world.values["endpoint"]], "--bucket"),
        ("fanout run", ["--bucket", world.values["bucket"]], "--s3-endpoint --aws"),
        ("fanout seed", ["--bucket", world.values["bucket"]], "--source-dir"),
        ("fanout invoke", ["ListPrefixes"], "--event"),
        ("fanout-fetch", [LINK], "--to"),
        ("fanout share", [], "s3://BUCKET/PREFIX"),
        ("fanout shares", [], "--stack --manifest-bucket"),
        ("fanout revoke", ["--manifest-bucket", world.values["bucket"]], "RUN_ID --expired"),
        ("fanout", [], "command"),
    ]:
        done, _ = run_cli(command, argv, world.tmp)
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.splitlines()
        assert names in line, line


def test_text_that_is_not_utf8_is_named_not_a_traceback(world: World) -> None:
    """Bytes that are not UTF-8 in argv reach Python as lone surrogates: S3 could not store
    them, and printing them raw would itself fail."""
    not_utf8 = ["--prefix", b"caf\xe9/"]
    done = subprocess.run(
        [sys.executable, "-m", "fanout_local.cli", "run", "--bucket", world.values["bucket"], "--aws", *not_utf8],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=world.tmp,
    )
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert "--prefix" in line
    assert "not valid UTF-8" in line


def test_every_option_that_takes_a_value_is_checked_and_has_a_bad_case_here() -> None:
    """The parsers are the list: each option or positional that takes a value has a type (or
    choices) and at least one row in CASES."""
    covered = {(c.command, c.option) for c in CASES}
    missing, untyped = [], []
    for command, parser in all_parsers().items():
        for action in parser._actions:
            if action.nargs == 0 or isinstance(action, argparse._HelpAction):
                continue  # flags
            option = action.option_strings[-1] if action.option_strings else action.dest
            option = next((o for o in action.option_strings if o.startswith("--")), option)
            if (command, option) not in covered:
                missing.append(f"{command} {option}")
            if action.type is None and action.choices is None:
                untyped.append(f"{command} {option}")
    assert missing == [], "add a bad value for these to CASES"
    assert untyped == [], "give these a type= from fanout_local.cli.argtypes / fanout_fetch.arguments"


# -- what is not a usage error is still one line, in bounded time ------------------------------


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    with silent_server_running() as url:
        yield url


@pytest.mark.parametrize("command", ["run", "seed"])
def test_an_endpoint_that_never_answers_is_one_line_within_seconds(
    command: str, silent_endpoint: str, tmp_path: Path
) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF")
    argv = ["--bucket", "some-bucket", "--s3-endpoint", silent_endpoint]
    if command == "seed":
        argv += ["--source-dir", str(tmp_path)]

    done, seconds = run_cli(f"fanout {command}", argv, tmp_path)

    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert seconds < 30
    # A plain line says what it waits for, then one line says what did not come.
    lines = done.stderr.splitlines()
    assert lines[0] == f"checking s3://some-bucket at {silent_endpoint} ..."
    assert len(lines) == 2, done.stderr
    assert lines[1].startswith(f"fanout {command}: no answer from S3 at {silent_endpoint}"), lines[1]
    assert "within 10 s" in lines[1]
    assert "starting the engine" not in done.stderr


def test_seed_refuses_a_key_s3_would_refuse_before_uploading_anything(world: World, s3: Any, tmp_path: Path) -> None:
    """Each --prefix is a valid key prefix, but prefix + file name must be a valid key too."""
    (tmp_path / "ok.pdf").write_bytes(b"%PDF")
    (tmp_path / ("f" * 200 + ".pdf")).write_bytes(b"%PDF")
    prefix = "p/" * 420  # 840 bytes: ok alone, too long with the second name
    before = s3_state(s3, world.values["bucket"])

    argv = ["--bucket", world.values["bucket"], "--source-dir", str(tmp_path), "--prefix", prefix]
    done, _ = run_cli("fanout seed", [*argv, "--s3-endpoint", world.values["endpoint"]], world.tmp)

    assert done.returncode == 2, done.stderr[-3000:]
    [line] = done.stderr.splitlines()
    assert line.startswith(f"fanout seed: {tmp_path / ('f' * 200 + '.pdf')} cannot be uploaded"), line
    assert "is longer than 1024 bytes" in line
    assert s3_state(s3, world.values["bucket"]) == before  # not even ok.pdf


def test_a_lambda_endpoint_that_never_answers_is_named_before_the_engine_starts(
    world: World, silent_endpoint: str
) -> None:
    argv = ["--bucket", world.values["bucket"], "--s3-endpoint", world.values["endpoint"]]

    done, seconds = run_cli("fanout run", [*argv, "--lambda-endpoint", silent_endpoint], world.tmp)

    assert done.returncode == 1, done.stderr[-3000:]
    assert seconds < 30
    lines = done.stderr.splitlines()
    assert lines[-2] == f"checking the Lambda endpoint at {silent_endpoint} ..."
    assert lines[-1].startswith(f"fanout run: no answer from the Lambda endpoint at {silent_endpoint} within 10 s")
    assert "starting the engine" not in done.stderr
