"""A moto server in a process of its own, with IAM enforcement that can be switched on.

moto keeps its IAM switch (``settings.INITIAL_NO_AUTH_ACTION_COUNT``) in module globals: a
ThreadedMotoServer in the test process would share it with the session's server and every
other test. Here a separate ``python -m moto.server`` holds it, switched through moto's own
``POST /moto-api/reset-auth`` (the body is how many requests may still pass unchecked:
"0" enforces from the next request on, "inf" never). It starts unenforced. Its own state
(every backend: S3, IAM, CloudFormation...) is also its own, so nothing another test
does reaches it, nor the other way round.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import requests
from botocore.config import Config

REGION = "us-east-1"

# moto authorizes HeadBucket as the action "s3:HeadBucket", which IAM does not have: AWS
# authorizes HeadBucket with s3:ListBucket. A user given s3:ListBucket here gets both.
MOTO_ACTION_ALIASES = {"s3:ListBucket": ("s3:HeadBucket",)}


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str


class MotoProcess:
    def __init__(self, process: subprocess.Popen[bytes], endpoint: str) -> None:
        self.process = process
        self.endpoint = endpoint

    @classmethod
    def start(cls) -> MotoProcess:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = cls(process, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{server.endpoint}/moto-api/", timeout=1)
                return server
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    server.stop()
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def enforce(self, on: bool) -> None:
        response = requests.post(f"{self.endpoint}/moto-api/reset-auth", data=b"0" if on else b"inf", timeout=10)
        response.raise_for_status()

    @contextmanager
    def unenforced(self) -> Iterator[None]:
        """Setup and inspection as moto's default root identity, then enforcement again."""
        self.enforce(False)
        try:
            yield
        finally:
            self.enforce(True)

    def client(self, service: str, key: AccessKey | None = None) -> Any:
        """A client as ``key``'s user, or (unenforced only) as moto's default identity."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=key.access_key_id if key else "testing",
            aws_secret_access_key=key.secret_access_key if key else "testing",
            config=Config(signature_version="s3v4", retries={"max_attempts": 1}),
        )

    def user(self, name: str, statements: list[dict[str, Any]]) -> AccessKey:
        """An IAM user whose one inline policy is ``statements`` (with moto's aliases);
        call while unenforced."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        document = {"Version": "2012-10-17", "Statement": [with_moto_aliases(s) for s in statements]}
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(document))
        created = iam.create_access_key(UserName=name)["AccessKey"]
        return AccessKey(created["AccessKeyId"], created["SecretAccessKey"])


def with_moto_aliases(statement: dict[str, Any]) -> dict[str, Any]:
    action = statement["Action"]
    actions = [action] if isinstance(action, str) else list(action)
    extra = [alias for a in actions for alias in MOTO_ACTION_ALIASES.get(a, ()) if alias not in actions]
    return {**statement, "Action": actions + extra} if extra else statement
