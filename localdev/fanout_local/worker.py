"""A Lambda worker process: imports one handler once (cold start), then serves invocations.

Protocol on the original stdout, one JSON line per message; the handler's own stdout (logs,
EMF metrics) is redirected to stderr so it never mixes with the protocol.
Run as ``python -m fanout_local.worker HANDLER``.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any


class WorkerContext:
    """The parts of the Lambda context object handlers use."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name: str = request["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn: str = request["function_arn"]
        self.memory_limit_in_mb: int = request["memory_mb"]
        self.aws_request_id: str = request["request_id"]
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(request["timeout"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _max_memory_mb() -> int:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _error_payload(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-8:],
    }


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the engine ends its workers (end of
    # input, or a kill when busy), so a worker must not die mid-reply printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # the handler's prints go to stderr
    sys.stdout = os.fdopen(1, "w", encoding="utf-8", buffering=1, closefd=False)
    module_name, _, function_name = sys.argv[1].rpartition(".")
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        init_error = None
    except Exception as exc:  # noqa: BLE001 - reported as Runtime.ImportModuleError per invocation
        handler, init_error = None, exc
    init_ms = (time.perf_counter() - started) * 1000
    protocol.write(json.dumps({"ready": True, "init_ms": init_ms}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        started = time.perf_counter()
        if init_error is not None:
            reply = {"error": {**_error_payload(init_error), "errorType": "Runtime.ImportModuleError"}}
        else:
            try:
                result = handler(request["event"], WorkerContext(request))
                reply = {"result": result}
            except Exception as exc:  # noqa: BLE001 - an unhandled error, as Lambda reports it
                reply = {"error": _error_payload(exc)}
        reply["duration_ms"] = (time.perf_counter() - started) * 1000
        reply["max_memory_mb"] = _max_memory_mb()
        protocol.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main()
