"""The local Lambda endpoint's environments: forked from one template per function, warm reuse,
crashes and timeouts as Lambda reports them, a quick stop, and kept-alive HTTP connections
answered without delay. Toy handlers (tests/workflow/toy_handlers.py) say which process ran."""

from __future__ import annotations

import http.client
import json
import os
import select
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fanout_local.lambda_runtime.function_env import function_env
from fanout_local.lambda_runtime.invoke_api import LambdaInvokeServer
from fanout_local.lambda_runtime.parent import declared_modules
from fanout_local.lambda_runtime.pool import Invocation, LambdaRuntime
from fanout_local.template import PROJECT_ROOT, FunctionSpec

TOY = "tests.workflow.toy_handlers.whoami"
THREADED = "tests.workflow.toy_threaded_handlers.whoami"


def toy_runtime(
    log: object, handler: str = TOY, *, timeout: float = 30.0, preload: tuple[str, ...] = ("json",)
) -> LambdaRuntime:
    functions = {
        name: FunctionSpec(name=name, handler=handler, timeout=timeout, memory_mb=128, environment={"TOY_MARKER": name})
        for name in ("ToyA", "ToyB")
    }
    # The environments import tests.workflow.*: the project root on their path.
    path = os.pathsep.join([str(PROJECT_ROOT), *sys.path])
    return LambdaRuntime(functions, base_env=function_env(extra={"PYTHONPATH": path}), log=log, preload=preload)  # type: ignore[arg-type]


@pytest.fixture
def log() -> Iterator[object]:
    with tempfile.TemporaryFile("w+", encoding="utf-8") as handle:
        yield handle


@pytest.fixture
def runtime(log: object) -> Iterator[LambdaRuntime]:
    running = toy_runtime(log)
    yield running
    running.close()


def invoke(runtime: LambdaRuntime, function: str, event: dict | None = None) -> Invocation:
    return runtime.invoke(runtime.pools[function], event or {})


def gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def test_an_environment_is_reused_warm_and_reports_its_cold_start_once(runtime: LambdaRuntime) -> None:
    first, second = invoke(runtime, "ToyA"), invoke(runtime, "ToyA")

    assert first.error is None, first.error
    assert first.result["pid"] == second.result["pid"]
    assert first.init_ms is not None
    assert second.init_ms is None
    # each function runs with its own environment variables, though its template was forked
    # from a root shared with the other function
    assert (first.result["function"], first.result["marker"]) == ("ToyA", "ToyA")
    other = invoke(runtime, "ToyB")
    assert (other.result["function"], other.result["marker"]) == ("ToyB", "ToyB")
    assert other.result["ppid"] != first.result["ppid"]  # one template per function


def test_a_prewarmed_environment_serves_the_first_invocation(runtime: LambdaRuntime) -> None:
    runtime.prewarm()
    pool = runtime.pools["ToyA"]
    (prewarmed,) = pool.workers
    deadline = time.monotonic() + 10
    while not select.select([prewarmed.channel], [], [], 0.05)[0] and time.monotonic() < deadline:
        pass  # until its hello is waiting

    first = invoke(runtime, "ToyA")

    assert first.error is None, first.error
    assert pool.workers == [prewarmed]  # used, not taken for dead because its hello was waiting
    assert first.init_ms is not None  # still the environment's cold start


def test_concurrent_invocations_get_environments_forked_from_the_functions_template(runtime: LambdaRuntime) -> None:
    results: list[Invocation] = []
    threads = [
        threading.Thread(target=lambda: results.append(invoke(runtime, "ToyA", {"sleep": 0.5}))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(r.error is None for r in results), [r.error for r in results]
    pids = {r.result["pid"] for r in results}
    assert len(pids) == 4
    # the handler module was imported once, in the template, and every environment forked from it
    templates = {r.result["ppid"] for r in results}
    assert len(templates) == 1
    assert {r.result["imported_in"] for r in results} == templates
    assert runtime.pools["ToyA"].max_in_flight == 4
    # each new environment still reports the function's cold start
    assert all(r.init_ms is not None for r in results)


def test_a_large_event_reaches_a_warm_environment(runtime: LambdaRuntime) -> None:
    invoke(runtime, "ToyA")  # warm: its socket was last peeked at without blocking
    event = {"blob": "x" * 1_000_000}  # more than a Unix socket's buffer

    reply = invoke(runtime, "ToyA", event)

    assert reply.error is None, reply.error


def test_an_environment_that_exits_is_an_exit_error_and_the_next_invocation_gets_a_new_one(
    runtime: LambdaRuntime,
) -> None:
    before = invoke(runtime, "ToyA")
    crashed = invoke(runtime, "ToyA", {"exit": 3})
    after = invoke(runtime, "ToyA")

    assert crashed.error is not None
    assert crashed.error["errorType"] == "Runtime.ExitError"
    assert after.error is None
    assert after.result["pid"] != before.result["pid"]


def test_a_timed_out_environment_is_killed(log: object) -> None:
    # Long enough for a cold start on a busy machine, far shorter than the 30 s handler.
    runtime = toy_runtime(log, timeout=5)
    try:
        pid = invoke(runtime, "ToyA").result["pid"]
        timed_out = invoke(runtime, "ToyA", {"sleep": 30})

        assert timed_out.error is not None
        assert timed_out.error["errorType"] == "Sandbox.Timedout"
        assert gone(pid)
        assert invoke(runtime, "ToyA").error is None  # a new environment
    finally:
        runtime.close()


def test_close_takes_no_time_kills_an_environment_still_running_and_leaves_no_process(log: object) -> None:
    runtime = toy_runtime(log)
    warm = [invoke(runtime, name).result for name in ("ToyA", "ToyB")]
    busy: list[Invocation] = []
    thread = threading.Thread(target=lambda: busy.append(invoke(runtime, "ToyA", {"sleep": 60})))
    thread.start()
    assert runtime.wait_until_idle(0.3) is False  # the sleeping handler is in flight
    assert runtime.busy
    assert runtime.root is not None
    root = runtime.root._process
    assert root is not None

    started = time.monotonic()
    runtime.close()
    closed_in = time.monotonic() - started
    thread.join(timeout=10)

    # Not the 60 s handler's time: killed, not waited for (a loose bound: the machine may be busy).
    assert closed_in < 15
    assert root.poll() is not None  # waited for: it exits after its templates
    assert all(gone(pid) for result in warm for pid in (result["pid"], result["ppid"]))
    assert busy
    assert busy[0].error is not None
    assert busy[0].error["errorMessage"].endswith("(killed by the engine)")
    assert runtime.wait_until_idle(0) is True
    # a Map still running asks for more: no new process once stopped
    late = invoke(runtime, "ToyA")
    assert late.error is not None
    assert "the engine is stopping" in late.error["errorMessage"]


def test_the_endpoint_reports_idle_once_no_invocation_runs(runtime: LambdaRuntime) -> None:
    invoke(runtime, "ToyA")  # warm
    thread = threading.Thread(target=invoke, args=(runtime, "ToyA", {"sleep": 0.3}))
    thread.start()
    deadline = time.monotonic() + 5
    while not runtime.busy and time.monotonic() < deadline:
        time.sleep(0.005)

    assert runtime.busy
    assert runtime.wait_until_idle(5.0) is True
    assert not runtime.busy
    thread.join()


def test_a_handler_module_that_starts_a_thread_at_import_gets_fresh_processes(log: object) -> None:
    runtime = toy_runtime(log, THREADED)
    try:
        results: list[Invocation] = []
        threads = [
            threading.Thread(target=lambda: results.append(invoke(runtime, "ToyA", {"sleep": 0.3}))) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert all(r.error is None for r in results), [r.error for r in results]
        # not forked: each environment imported the module itself
        assert all(r.result["imported_in"] == r.result["pid"] for r in results)
        assert len({r.result["pid"] for r in results}) == 2
    finally:
        runtime.close()


def test_templates_start_without_the_root_when_it_is_gone(runtime: LambdaRuntime) -> None:
    assert invoke(runtime, "ToyA").error is None  # starts the root and ToyA's template
    assert runtime.root is not None
    root = runtime.root._process
    assert root is not None
    root.kill()
    root.wait()

    other = invoke(runtime, "ToyB")  # its template can no longer be forked from the root

    assert other.error is None, other.error
    assert other.result["marker"] == "ToyB"


def test_kept_alive_connections_are_answered_without_delay(runtime: LambdaRuntime) -> None:
    server = LambdaInvokeServer(runtime).start()
    try:
        host, port = server.server_address[:2]
        connection = http.client.HTTPConnection(str(host), port, timeout=10)
        body = json.dumps({}).encode()
        times = []
        for _ in range(9):
            started = time.perf_counter()
            connection.request("POST", "/2015-03-31/functions/ToyA/invocations", body=body)
            response = connection.getresponse()
            payload = json.loads(response.read())
            times.append(time.perf_counter() - started)
            assert response.status == 200
            assert payload["function"] == "ToyA"
        connection.close()
    finally:
        server.shutdown()
        server.server_close()
    # Headers and body written apart, with Nagle's algorithm on, cost ≥ 40 ms per request
    # after the first (the client's delayed ACK); a warm invocation takes about 1 ms.
    assert statistics.median(times[1:]) < 0.03, times


def test_declared_modules_reads_a_requirements_file(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# runtime\naioboto3==15.5.0\naws-lambda-powertools[tracer]==3.37.0  # extras dropped\n"
        "-r other.txt\nzope.interface>=5 ; python_version > '3'\n\naioboto3\n",
        encoding="utf-8",
    )

    assert declared_modules(requirements) == ("aioboto3", "aws_lambda_powertools", "zope.interface")
    assert declared_modules(tmp_path / "absent.txt") == ()


def test_a_client_expecting_100_continue_gets_it_before_sending_the_body(runtime: LambdaRuntime) -> None:
    server = LambdaInvokeServer(runtime).start()
    try:
        host, port = server.server_address[:2]
        body = json.dumps({}).encode()
        with socket.create_connection((str(host), port), timeout=10) as sock:
            sock.sendall(
                b"POST /2015-03-31/functions/ToyA/invocations HTTP/1.1\r\nHost: x\r\n"
                b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
            )
            assert sock.recv(1024).startswith(b"HTTP/1.1 100")
            sock.sendall(body)
            reply = b""
            while b'"function"' not in reply:
                chunk = sock.recv(4096)
                assert chunk
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200")
    finally:
        server.shutdown()
        server.server_close()
