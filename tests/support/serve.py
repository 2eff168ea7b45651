"""`fanout serve` as a process, the way a person runs it: its endpoints read from what it
prints, clients made from its printed `export` line, the real AWS CLI against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from tests.support.processes import Watched

PROJECT = Path(__file__).resolve().parents[2]
# `fanout serve` as a process: the module and the arguments before serve's own.
SERVE = ("fanout_local.cli", "serve")
AWS = Path(sys.executable).parent / "aws"  # the AWS CLI v1 from requirements-dev.txt
EXECUTION_SECONDS = 120.0  # a few dozen objects: seconds; generous for a loaded 2-core machine


@dataclass
class Served:
    process: Watched
    url: str
    arn: str
    manifest_bucket: str

    def env(self) -> dict[str, str]:
        """The environment the printed `export` line gives, and nothing from this machine's AWS config."""
        exports = next(line for line in self.process.out if line.startswith("try: export "))
        pairs = dict(item.split("=", 1) for item in exports.removeprefix("try: export ").split())
        clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        return {**clean, **pairs, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    def client(self, service: str) -> Any:
        env = self.env()
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=env["AWS_DEFAULT_REGION"],
            # S3 elsewhere: the printed line has no keys (that S3's own are needed); moto takes any.
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", "testing"),
        )

    def aws(self, *args: str) -> Any:
        """The AWS CLI against this endpoint; its JSON answer."""
        done = subprocess.run(
            [str(AWS), "--endpoint-url", self.url, "--output", "json", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=self.env(),
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None


def value_of(process: Watched, name: str) -> str:
    line = next(line for line in process.out if line.startswith(f"{name}: "))
    return line.split(": ", 1)[1].split()[0]


def start_serve(*args: str) -> Served:
    process = Watched(*SERVE, "--port", "0", *args, cwd=PROJECT)
    process.wait_for("serving until")
    # "serving until" is on stderr, the endpoints on stdout, each read by its own thread: on
    # a busy machine the stderr line can arrive first. The endpoints' last line, then.
    process.wait_until(lambda: any(line.startswith("  fanout share ") for line in process.out), "the endpoints")
    return Served(
        process,
        url=value_of(process, "Step Functions API"),
        arn=value_of(process, "state machine"),
        manifest_bucket=value_of(process, "manifest bucket").removeprefix("s3://"),
    )


def finished(sfn: Any, arn: str) -> dict[str, Any]:
    """describe_execution once it is no longer RUNNING (polled: the API has no wait)."""
    deadline = time.monotonic() + EXECUTION_SECONDS
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still running after {EXECUTION_SECONDS} s"
        time.sleep(0.1)
    return described
