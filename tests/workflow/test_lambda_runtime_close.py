"""Stopping the local Lambda runtime never waits for a busy handler: Ctrl-C during a run
ends in about a second, not when the slowest invocation would have (up to its Timeout)."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from fanout_local.lambda_runtime.function_env import function_env
from fanout_local.lambda_runtime.pool import Invocation, LambdaRuntime
from fanout_local.template import FunctionSpec

PROJECT = Path(__file__).resolve().parents[2]


def _gone(pid: int | None) -> bool:
    """Exited (or a zombie its parent, the function's template process, has not reaped yet)."""
    if pid is None:
        return True
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return status in {"Z", "X"}


def test_close_kills_a_busy_worker() -> None:
    spec = FunctionSpec(name="Sleepy", handler="tests.support.slow_handler.handler", timeout=120, memory_mb=128)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        runtime = LambdaRuntime({"Sleepy": spec}, base_env=function_env(extra={"PYTHONPATH": str(PROJECT)}), log=log)
        pool = runtime.pools["Sleepy"]
        assert runtime.invoke(pool, {"seconds": 0}).result == {"slept": 0}  # warm: now idle
        results: list[Invocation] = []
        busy = threading.Thread(target=lambda: results.append(runtime.invoke(pool, {"seconds": 60})))
        busy.start()
        deadline = time.monotonic() + 30
        while pool.in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the warm worker is in the handler now
        pids = [worker.pid for worker in pool.workers]

        started = time.monotonic()
        runtime.close()
        took = time.monotonic() - started

        busy.join(10)
    assert took < 2.0, f"close waited {took:.1f} s for a busy handler"
    deadline = time.monotonic() + 2
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in pids)
    assert results[0].error is not None
    assert results[0].error["errorType"] == "Runtime.ExitError"
