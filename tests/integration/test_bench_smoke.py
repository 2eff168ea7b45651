"""`make bench`'s tools at their smallest sizes (``--smoke``), as a person runs them.

- ``python -m bench --smoke`` runs every section, each bench tool as its own process, and
  every module of ``bench/`` with an entry point is run by it or here (a new one fails
  ``test_every_bench_module_is_run_or_a_library`` until it is placed).
- A failure inside a case (a genuine one: an impossible size, a missing browser, a broken
  interpreter) is exit 1, named on stderr, no traceback.
- SIGINT and SIGTERM at several moments of a run: exit 130 / 143 within seconds, "interrupted"
  last, no traceback, and no process left - found by session (every tool runs in its own)
  and by a tag in the environment of everything it started. SIGKILL leaves nothing either.

No timing is asserted beyond "within seconds": the figures belong to ``make bench``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from bench.package import find_python313
from tests.support.processes import WATCH_TAG, Found, Watched, tagged

PROJECT = Path(__file__).resolve().parents[2]
STOP_S = 20.0  # "within seconds", on a loaded 2-core machine
# Whichever test first asks for `bench_smoke` runs all of `python -m bench --smoke` (about a
# minute, several on a loaded machine): more than the suite's 300 s per test.
WHOLE_BENCH = pytest.mark.timeout(900)
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")

# bench/*.py without an entry point of their own, and why.
LIBRARIES = {
    "__init__": "the package",
    "keyspace": "the planning key spaces, imported by bench.planning and bench.plan_server",
    "processes": "how the tools start, stop and end processes, imported by all of them",
}
# Every entry point `python -m bench --smoke` runs, and the section of its figures that shows it ran.
RUN_BY_BENCH = {
    "__main__": None,  # `python -m bench` itself
    "worker": "side_by_side",  # every measured run
    "server": "side_by_side",  # the synthetic S3 those runs list
    "motoserver": "moto",
    "planning": "planning",
    "plan_server": "planning",
    "engine": "engine",
    "share_page": "share_page",
    "coldstart": "coldstart_ms",
    "package": "package_import_ms",
}


def _bench_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    for name in ("MIN_UNIT_KEYS", "S3_ENDPOINT_URL"):  # the test suite's, not a bench run's
        env.pop(name, None)
    return env


class Tool(Watched):
    """``python -m <module> ARGS`` in its own session, tagged; stdout and stderr read as they come."""

    def __init__(self, module: str, *args: str, env: dict[str, str] | None = None) -> None:
        super().__init__(module, *args, cwd=PROJECT, env=_bench_env(**(env or {})))

    def running(self) -> list[Found]:
        """The tool and what it started, still running."""
        return tagged(WATCH_TAG, self.tag)

    def finish(self, timeout: float = 600) -> int:
        code = self.process.wait(timeout=timeout)
        self.join_readers()
        return code

    def leftovers(self, grace: float = 3.0) -> list[Found]:
        return super().leftovers(grace)

    def result(self) -> dict[str, Any]:
        """The last line of stdout: one JSON object, as every bench tool ends."""
        lines = self.stdout.strip().splitlines()
        assert lines, self.stderr[-3000:]
        result = json.loads(lines[-1])
        assert isinstance(result, dict)
        return result


# -- every module, at its smallest size ---------------------------------------------------


def test_every_bench_module_is_run_or_a_library() -> None:
    modules = {path.stem: path.read_text(encoding="utf-8") for path in (PROJECT / "bench").glob("*.py")}
    entry_points = {name for name, text in modules.items() if 'if __name__ == "__main__":' in text}
    entry_points.add("__main__")

    assert entry_points == set(RUN_BY_BENCH), "a bench module with an entry point is neither run nor listed"
    assert set(modules) - entry_points == set(LIBRARIES), "a bench module is neither run nor listed as a library"


@pytest.fixture(scope="module")
def bench_smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tool, dict[str, Any]]:
    """One ``python -m bench --smoke``: every section, every tool as its own process."""
    results = tmp_path_factory.mktemp("bench-results")
    tool = Tool("bench", "--smoke", "--results", str(results))
    tool.finish()
    details = json.loads((results / "latest.json").read_text())["details"] if tool.process.returncode == 0 else {}
    return tool, details


@WHOLE_BENCH
def test_python_m_bench_smoke_runs_every_section(bench_smoke: tuple[Tool, dict[str, Any]]) -> None:
    tool, details = bench_smoke

    assert tool.process.returncode == 0, tool.stderr[-5000:]
    assert "Traceback" not in tool.stderr
    summary = tool.result()
    assert summary["objects_side_by_side"] == 2_000
    assert summary["naive_cpu_us_per_object"] > 0
    assert summary["ours_cpu_us_per_object"] > 0
    assert summary["moto_same_keys"] is True
    assert set(details) >= set(RUN_BY_BENCH.values()) - {None}
    assert tool.leftovers() == []


@WHOLE_BENCH
@pytest.mark.parametrize("module", sorted(name for name, section in RUN_BY_BENCH.items() if section))
def test_module_ran_at_its_smallest_size(module: str, bench_smoke: tuple[Tool, dict[str, Any]]) -> None:
    """The module's figures, as `python -m bench --smoke` got them (its result line parsed)."""
    tool, details = bench_smoke
    assert tool.process.returncode == 0, tool.stderr[-5000:]
    figures = details[RUN_BY_BENCH[module]]
    assert figures.get("status") != "error"
    if module in {"worker", "server"}:
        for run in ("naive", "ours", "list_only"):
            assert figures[run]["listed"] == 2_000  # every generated key listed, by each way
        assert figures["ours"]["urls"] == figures["naive"]["urls"] > 0
    elif module == "motoserver":
        assert figures["same_keys_and_sizes"] is True
        assert figures["urls_fetched_ok"] == "25/25"
    elif module in {"planning", "plan_server"}:
        (case,) = figures.values()
        assert case["keys"] == 5_460
        assert case["list_requests"] > 0
        assert case["units"] >= 1
        # Both latency models, side by side: the realistic one's figures, the flat one's beside.
        assert case["model"] == "s3"
        assert case["flat50"]["model"] == "flat50"
        assert case["flat50"]["keys"] == case["keys"]
        cost = case["cost"]
        assert cost["usd_per_m_floor"] > 0
        assert cost["usd_per_m_standard"] >= cost["usd_per_m_express"] >= cost["usd_per_m_floor"]
    elif module == "engine":
        (run,) = figures["runs"].values()
        assert run["count"] > 0
        assert figures["per_item"]["status"] == "SUCCEEDED"
    elif module == "share_page":
        (page,) = figures.values()
        assert page["search_all_s"] > 0
    elif module == "coldstart":
        assert set(figures) == {"list_prefixes", "build_manifest", "merge_index"}
        assert all(numbers["import_ms"] > 0 for numbers in figures.values())
    elif module == "package":
        if find_python313() is None:
            assert figures == {"status": "not run: no python3.13"}
            pytest.skip("no python3.13 here (the Lambda runtime): the package is built for it")
        assert set(figures["with_bytecode_ms"]) == {"list_prefixes", "build_manifest", "merge_index"}
        assert figures["runs"] == 1
    else:
        pytest.fail(f"no check for bench.{module}'s figures")


def test_a_small_mixed_bucket_is_listed_not_probed() -> None:
    """Issue 19's 2,497-key bucket of mixed shapes (MIN_UNIT_KEYS 100, MaxConcurrency 10): it
    took 425 LISTs to plan into 3 units (2.2x the mean); listing it whole takes 3 pages."""
    tool = Tool("bench.planning", "--case", "mixed2497:10")

    assert tool.finish(timeout=300) == 0, tool.stderr[-3000:]
    figures = tool.result()["mixed2497:10"]
    for case in (figures, figures["flat50"]):
        assert case["exact_cover"] is True
        assert case["keys"] == 2_497
        assert case["list_requests"] <= case["listing_pages"] == 3
        assert case["units"] >= 10
        assert case["max_over_mean"] <= 1.2
    assert tool.leftovers() == []


# -- a failure inside a case: exit 1, named ----------------------------------------------

FAILURES = {
    # MaxConcurrency 0: the worker's modelled schedule has no slot; the good case still runs.
    "planning": (["--case", "tree36:10", "--case", "tree36:0"], {}, "case tree36:0 error"),
    # MaxConcurrency 0: the state machine's input is invalid, the execution FAILED.
    "engine": (["--smoke", "--concurrency", "0"], {}, "MaxConcurrency 0: FAILED InvalidInput"),
    "share_page": (["--smoke"], {"PATH": "/nonexistent"}, "headless Chromium not found"),
    "package": (["--smoke", "--python", "/bin/false"], {}, "the build failed"),
}


@pytest.mark.parametrize("module", sorted(FAILURES))
def test_an_error_inside_a_case_is_exit_1_and_named(module: str) -> None:
    args, env, named = FAILURES[module]
    tool = Tool(f"bench.{module}", *args, env=env)

    assert tool.finish(timeout=300) == 1, tool.stdout[-2000:] + tool.stderr[-3000:]
    assert f"bench.{module}: " in tool.stderr
    assert named in tool.stderr
    assert "Traceback" not in tool.stderr.split(f"bench.{module}: ")[-1]
    assert tool.leftovers() == []


def test_a_failed_section_of_python_m_bench_is_exit_1_and_the_others_still_run(tmp_path: Path) -> None:
    tool = Tool(
        "bench", "--smoke", "--only", "share_page", "--only", "planning", "--results", str(tmp_path),
        env={"PATH": "/nonexistent"},  # no browser: the share page cannot be measured
    )  # fmt: skip

    assert tool.finish(timeout=300) == 1, tool.stderr[-3000:]
    assert "bench: section share_page failed: " in tool.stderr
    assert "headless Chromium not found" in tool.stderr
    figures = tool.result()
    assert figures["share_page"]["status"] == "error"
    assert figures["planning"]["tree36:10"]["keys"] == 5_460
    assert tool.leftovers() == []


# -- SIGINT / SIGTERM mid-run, SIGKILL -----------------------------------------------------

MOMENTS = [
    # python -m bench: a measured worker starting, its S3 server up ...
    ("bench", ["--smoke"], "== naive vs ours", signal.SIGINT),
    # ... the engine section (alone: the sections before it were just interrupted above):
    # bench -> bench.engine -> its S3 server and a fanout run's engine -> its Lambda workers
    ("bench", ["--smoke", "--only", "engine"], "process:fanout_local.lambda_runtime.child", signal.SIGTERM),
    # planning: its server starting, then a worker planning 1M keys
    ("bench.planning", ["--case", "skewed:100"], "== planning", signal.SIGTERM),
    ("bench.planning", ["--case", "tree36:10", "--case", "skewed:100"], "tree36:10 ", signal.SIGINT),
    # engine: its S3 server and the first run starting; that run's engine with its Lambda
    # workers (bench.engine -> --one-run -> fanout_local.lambda_runtime.child); the per-item run's starting
    ("bench.engine", ["--smoke"], "== embedded engine", signal.SIGINT),
    ("bench.engine", ["--smoke"], "process:fanout_local.lambda_runtime.child", signal.SIGTERM),
    ("bench.engine", ["--smoke"], "MaxConcurrency   2:", signal.SIGTERM),
    # the browser and its driver up
    ("bench.share_page", ["--objects", "200000"], "process:chromedriver", signal.SIGINT),
]


@pytest.mark.parametrize(
    ("module", "args", "moment", "signum"), MOMENTS, ids=[f"{m[0]}-{m[2]}-{m[3].name}" for m in MOMENTS]
)
def test_a_signal_mid_run_ends_the_tool_within_seconds(
    module: str, args: list[str], moment: str, signum: signal.Signals
) -> None:
    tool = Tool(module, *args)
    if moment.startswith("process:"):  # once a process of that name runs under the tool
        deadline = time.monotonic() + 240
        while not any(moment.removeprefix("process:") in p.command for p in tool.running()):
            assert tool.process.poll() is None, tool.stderr[-3000:]
            assert time.monotonic() < deadline, f"no {moment} in 240 s"
            time.sleep(0.02)
    else:
        tool.wait_for(moment)
    sent = time.monotonic()
    if signum == signal.SIGINT:
        os.killpg(tool.process.pid, signum)  # a terminal's Ctrl-C: the foreground process group
    else:
        tool.process.send_signal(signum)  # `kill`: the tool alone
    code = tool.finish(timeout=60)
    took = time.monotonic() - sent

    assert code == 128 + signum, tool.stderr[-3000:]
    assert took < STOP_S, f"{took:.1f} s to stop:\n{tool.stderr[-3000:]}"
    assert "Traceback" not in tool.stderr, tool.stderr[-3000:]
    assert tool.stderr.rstrip().endswith("interrupted"), tool.stderr[-3000:]
    assert tool.leftovers() == []


def test_sigkill_takes_the_tools_children_with_it() -> None:
    """No chance to stop anything: its servers and workers die with it (PR_SET_PDEATHSIG)."""
    tool = Tool("bench.planning", "--case", "tree36:10", "--case", "skewed:100")
    tool.wait_for("tree36:10 ")  # the plan server up; next, a worker planning 1M keys
    tool.wait_until(
        lambda: len([p for p in tool.running() if p.pid != tool.process.pid]) >= 2, "a worker beside the server"
    )

    tool.process.kill()
    tool.finish(timeout=30)

    assert tool.leftovers() == []
