"""SIGINT and SIGTERM at each stage of `fanout demo`, `run`, `seed`, `fetch` and `serve-lambda`:
the CLI ends within seconds with its documented exit code (130 after SIGINT, 143 after
SIGTERM), one `interrupted` line and no traceback, and no process it started is left. SIGKILL,
which it cannot handle, leaves no process either: its children notice its death.

Each stage is reached by watching the CLI's stderr for the line that starts it - never by
sleeping - so a busy machine changes when the signal comes, not where. Signals go to the
CLI's pid alone (`kill`, `timeout`, a supervisor, `docker stop`); Ctrl-C in a terminal,
which signals the whole foreground process group, is tested too. Every CLI here carries a
tag of its own in its environment, which its children inherit: whatever carries it after
the CLI ended is a leftover, however it was reparented."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.flow import run_handlers
from tests.support.processes import WATCH_TAG, Found, Watched, tagged
from tests.support.s3_helpers import put_keys

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
STOP_SECONDS = 20.0  # generous: a 2-core machine under load; it takes about a second here
REACH_SECONDS = 240.0  # to reach a stage (seeding thousands of objects on a loaded machine)
GRACE_SECONDS = 5.0  # for a process to be gone once the CLI is (a killed child being reaped)


class Cli(Watched):
    """A `fanout` command in a session of its own, its output collected line by line as it comes."""

    def __init__(self, *args: str, cwd: Path = PROJECT) -> None:
        super().__init__("fanout_local.cli", *args, cwd=cwd, reach_seconds=REACH_SECONDS)

    def send(self, signum: int, *, whole_group: bool = False) -> float:
        """The signal; the seconds until the CLI exited."""
        sent = time.monotonic()
        if whole_group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)
        try:
            self.process.wait(timeout=STOP_SECONDS * 3)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.args[0]} still running {STOP_SECONDS * 3} s after {signum!r}:\n{self.stderr[-3000:]}")
        took = time.monotonic() - sent
        self.join_readers(5)
        return took

    def leftovers(self, grace: float = GRACE_SECONDS) -> list[Found]:
        return super().leftovers(grace)


@pytest.fixture
def start() -> Iterator[Callable[..., Cli]]:
    started: list[Cli] = []

    def starter(*args: str, cwd: Path = PROJECT) -> Cli:
        started.append(Cli(*args, cwd=cwd))
        return started[-1]

    yield starter
    for cli in started:
        cli.close()


def assert_stopped(cli: Cli, signum: int, took: float) -> None:
    assert cli.process.returncode == EXIT_CODES[signum], cli.stderr[-3000:]
    assert took < STOP_SECONDS, f"{took:.1f} s to stop:\n{cli.stderr[-3000:]}"
    assert "Traceback" not in cli.stderr, cli.stderr[-3000:]
    assert cli.stderr.rstrip().endswith("\ninterrupted"), cli.stderr[-3000:]
    assert cli.leftovers() == []


SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]

# The line each stage starts with (--verbose: the handlers' START lines are on stderr too).
DEMO_STAGES = {
    "engine: interpreter": "starting the engine: loading moto's Step Functions interpreter",
    "engine: S3 server": "starting the engine: starting the S3 server",
    "engine: workers": "starting the engine: starting Lambda workers",
    "engine: state machine": "starting the engine: loading the state machine",
    "engine: S3 listening": "starting the engine: waiting for the S3 server to listen",
    "seeding": "seeding s3://demo-bucket/ ...",
    "planning": "[ListPrefixesFunction] START",
    "the Map": "[BuildManifestFunction] START",
    "merging": "[MergeIndexFunction] START",
    "verifying": "verifying URLs",
    "fetching": "reading the index at",
}


def demo_args(tmp_path: Path) -> list[str]:
    # Every stage lasts long enough that the demo is still in it, or the next, at the signal:
    # seconds of seeding, several units one at a time, then verifying and fetching 600 objects.
    return [
        *("demo", "--verbose", "--objects", "600", "--max-concurrency", "1", "--unit-keys", "100"),
        *("--verify-all", "--fetch-to", str(tmp_path / "fetched")),
    ]


@pytest.mark.parametrize("signum", SIGNALS)
@pytest.mark.parametrize("stage", list(DEMO_STAGES))
def test_demo_stops_at_every_stage(stage: str, signum: int, start: Callable[..., Cli], tmp_path: Path) -> None:
    demo = start(*demo_args(tmp_path))
    demo.wait_for(DEMO_STAGES[stage])

    took = demo.send(signum)

    assert_stopped(demo, signum, took)


@pytest.mark.parametrize("stage", ["seeding", "the Map"])
def test_terminal_ctrl_c_reaches_the_whole_group(stage: str, start: Callable[..., Cli], tmp_path: Path) -> None:
    demo = start(*demo_args(tmp_path))
    demo.wait_for(DEMO_STAGES[stage])

    took = demo.send(signal.SIGINT, whole_group=True)

    assert_stopped(demo, signal.SIGINT, took)


def test_a_second_signal_ends_the_cli_at_once(start: Callable[..., Cli], tmp_path: Path) -> None:
    demo = start(*demo_args(tmp_path))
    demo.wait_for(DEMO_STAGES["the Map"])
    demo.process.send_signal(signal.SIGTERM)
    demo.wait_for("stopping the engine")  # the first one is being handled

    took = demo.send(signal.SIGINT)

    assert demo.process.returncode == 143  # the first signal's code
    assert took < STOP_SECONDS
    assert "Traceback" not in demo.stderr
    assert demo.leftovers() == []  # the children noticed its end: no cleanup was needed


@pytest.mark.parametrize("stage", ["engine: S3 listening", "seeding", "the Map"])
def test_sigkill_leaves_no_process(stage: str, start: Callable[..., Cli], tmp_path: Path) -> None:
    demo = start(*demo_args(tmp_path))
    demo.wait_for(DEMO_STAGES[stage])
    started = tagged(WATCH_TAG, demo.tag)
    assert len(started) > 1, "the S3 server and the workers run"

    demo.send(signal.SIGKILL)

    assert demo.leftovers() == [], f"of {len(started)} processes"


@pytest.fixture
def big_bucket(s3: Any, bucket: str) -> str:
    put_keys(s3, bucket, [f"k/{n:05d}.pdf" for n in range(20_000)])  # moto lists it for seconds
    return bucket


RUN_STAGES = {
    "checking the bucket": "checking s3://",
    "engine start": "starting the engine: loading the state machine",
    "planning": "[ListPrefixesFunction] START",
    "the Map": "[BuildManifestFunction] START",
}


@pytest.mark.parametrize("signum", SIGNALS)
@pytest.mark.parametrize("stage", list(RUN_STAGES))
def test_run_stops_at_every_stage(
    stage: str, signum: int, start: Callable[..., Cli], big_bucket: str, moto_endpoint: str
) -> None:
    run = start("run", "--verbose", "--bucket", big_bucket, "--s3-endpoint", moto_endpoint, "--max-concurrency", "1")
    run.wait_for(RUN_STAGES[stage])

    took = run.send(signum)

    assert_stopped(run, signum, took)


def test_run_killed_in_the_map_leaves_no_process(
    start: Callable[..., Cli], big_bucket: str, moto_endpoint: str
) -> None:
    run = start("run", "--verbose", "--bucket", big_bucket, "--s3-endpoint", moto_endpoint, "--max-concurrency", "1")
    run.wait_for(RUN_STAGES["the Map"])

    run.send(signal.SIGKILL)

    assert run.leftovers() == []


@pytest.mark.parametrize("signum", SIGNALS)
def test_seed_stops_while_uploading(
    signum: int, start: Callable[..., Cli], bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    source = tmp_path / "files"
    source.mkdir()
    for n in range(3000):
        (source / f"{n:05d}.pdf").write_bytes(b"%PDF-1.4\n")
    seed = start("seed", "--bucket", bucket, "--source-dir", str(source), "--s3-endpoint", moto_endpoint)
    seed.wait_for("seeding s3://")

    took = seed.send(signum)

    assert_stopped(seed, signum, took)
    assert "uploaded" not in seed.stderr


@pytest.fixture
def index_url(s3: Any, bucket: str) -> str:
    put_keys(s3, bucket, [f"docs/{n:05d}.pdf" for n in range(2000)])
    return str(run_handlers(s3, {"bucket": bucket, "suffix": ""})["index"]["index_url"])


@pytest.mark.parametrize("signum", SIGNALS)
@pytest.mark.parametrize("stage", ["reading the index", "downloading"])
def test_fetch_stops_at_every_stage(
    stage: str, signum: int, start: Callable[..., Cli], index_url: str, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    fetch = start("fetch", index_url, "--to", str(dest))
    fetch.wait_for("reading the index at")
    if stage == "downloading":
        fetch.wait_until(lambda: dest.is_dir() and any(dest.rglob("*.pdf")), "a downloaded file")

    took = fetch.send(signum)

    assert_stopped(fetch, signum, took)
    assert "fetched:" not in fetch.stderr  # it did not finish


def serve_lambda(start: Callable[..., Cli], moto_endpoint: str) -> tuple[Cli, str]:
    from tests.conftest import free_port

    port = free_port()
    server = start("serve-lambda", "--verbose", "--port", str(port), "--s3-endpoint", moto_endpoint)
    server.wait_for("Lambda Invoke API on")
    return server, f"http://127.0.0.1:{port}"


def invoke_in_background(url: str, bucket: str) -> None:
    """ListPrefixes on a big bucket (seconds), from a thread: the server is busy meanwhile."""
    import requests

    def call() -> None:
        with contextlib.suppress(requests.RequestException):  # the server going away mid-call is the test
            requests.post(
                f"{url}/2015-03-31/functions/ListPrefixesFunction/invocations",
                json={"input": {"bucket": bucket}, "run_id": f"r{uuid.uuid4().hex[:8]}"},
                timeout=120,
            )

    threading.Thread(target=call, daemon=True).start()


@pytest.mark.parametrize("signum", SIGNALS)
@pytest.mark.parametrize("stage", ["serving", "invoking"])
def test_serve_lambda_stops_at_every_stage(
    stage: str, signum: int, start: Callable[..., Cli], moto_endpoint: str, big_bucket: str
) -> None:
    server, url = serve_lambda(start, moto_endpoint)
    if stage == "invoking":
        invoke_in_background(url, big_bucket)
        server.wait_for("[ListPrefixesFunction] START")

    took = server.send(signum)

    assert_stopped(server, signum, took)


def test_serve_lambda_killed_while_invoking_leaves_no_process(
    start: Callable[..., Cli], moto_endpoint: str, big_bucket: str
) -> None:
    server, url = serve_lambda(start, moto_endpoint)
    invoke_in_background(url, big_bucket)
    server.wait_for("[ListPrefixesFunction] START")
    assert len(tagged(WATCH_TAG, server.tag)) > 1, "the workers run"

    server.send(signal.SIGKILL)

    assert server.leftovers() == []
