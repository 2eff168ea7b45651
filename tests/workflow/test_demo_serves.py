"""`fanout demo` on a terminal ends by showing what it made: the share page's URL, live, with
the S3 and Step Functions endpoints behind it, until Ctrl-C - which then stops everything.
(Without a terminal it stops as before: the README commands test and every other demo test
run it that way.) The terminal here is a pseudo-terminal on the demo's stdout."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests

from tests.support.processes import WATCH_TAG, kill, survivors, tagged

PROJECT = Path(__file__).resolve().parents[2]
REACH_SECONDS = 240.0
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def _read(fd: int, into: list[str]) -> None:
    buffer = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the pty's other end closed: the process ended
            return
        if not chunk:
            return
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        into.extend(line.decode(errors="replace").rstrip("\r") for line in lines)


def test_on_a_terminal_the_demo_serves_its_page_until_ctrl_c() -> None:
    tag = uuid.uuid4().hex
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "fanout_local.cli", "demo", "--objects", "60", "--prefixes", "2"],
        stdout=secondary,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
        env={**os.environ, WATCH_TAG: tag, "COLUMNS": "300"},
        start_new_session=True,
    )
    os.close(secondary)
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=_read, args=(primary, out), daemon=True),
        threading.Thread(target=lambda: err.extend(process.stderr), daemon=True),  # type: ignore[arg-type]
    ]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + REACH_SECONDS
        while not any(line.startswith("http") for line in out):
            assert process.poll() is None, "".join(err)[-3000:]
            assert time.monotonic() < deadline, "".join(err)[-3000:]
            time.sleep(0.05)
        page_url = next(line for line in out if line.startswith("http"))
        said = "".join(err)
        sfn_url = said.split("Step Functions API: ", 1)[1].split()[0]
        arn = said.split("--execution-arn ", 1)[1].split()[0]

        # The page opens, and the execution is there for the AWS CLI or boto3 to see.
        page = requests.get(page_url, timeout=30)
        assert page.status_code == 200
        assert "text/html" in page.headers["Content-Type"]
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=sfn_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
        assert process.poll() is None, "still serving"

        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        for reader in readers:
            reader.join(10)

        assert process.returncode == 130, "".join(err)[-3000:]
        assert "Traceback" not in "".join(err)
        assert survivors(WATCH_TAG, tag, 5.0) == []
        with pytest.raises(requests.ConnectionError):
            requests.get(page_url, timeout=5)  # nothing serves it any more
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        kill(tagged(WATCH_TAG, tag))
        os.close(primary)
