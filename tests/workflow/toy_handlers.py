"""Handlers for the Lambda endpoint's own tests (not the project's functions): they say which
process ran them and where their module was imported."""

from __future__ import annotations

import os
import time
from typing import Any

IMPORTED_IN = os.getpid()


def whoami(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(event["exit"])
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "imported_in": IMPORTED_IN,
        "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "marker": os.environ.get("TOY_MARKER"),
        "request_id": context.aws_request_id,
    }
