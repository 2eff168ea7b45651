"""`fanout run --title … --message …` through the embedded engine's state machine: the
sender's words reach index.json, and the recipient's tool is published beside it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from fanout_local.synthetic import synthetic_body
from s3fanout.fetch_tool import FETCH_TOOL_PATH


def test_fanout_run_title_and_message_reach_the_index(s3: Any, bucket: str, moto_endpoint: str) -> None:
    s3.put_object(Bucket=bucket, Key="x/1.pdf", Body=synthetic_body("x/1.pdf"))
    title, message = "Q4 <b>reports</b> for ACME", "Hello,\nhere they are.\n\n\u2014 Dana"

    completed = subprocess.run(
        [sys.executable, "-m", "fanout_local.cli", "run", "--bucket", bucket, "--s3-endpoint", moto_endpoint,
         "--name", "cli-title", "--json", "--title", title, "--message", message],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr[-3000:]
    output = json.loads(completed.stdout)
    index = json.loads(s3.get_object(Bucket=bucket, Key=output["index_key"])["Body"].read())
    assert (index["title"], index["message"], index["count"]) == (title, message, 1)
    tool = s3.get_object(Bucket=bucket, Key="manifests/cli-title/fanout-fetch.pyz")
    assert tool["Body"].read() == FETCH_TOOL_PATH.read_bytes()
    assert "/manifests/cli-title/fanout-fetch.pyz?" in index["fetch_tool_url"]
