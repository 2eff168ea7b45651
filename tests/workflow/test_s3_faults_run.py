"""A run behind an S3 that fails a fifth of every kind of request still publishes an exact
index (issue 17, section 3): every matching key listed once, every link working.

S3 is a proxy in front of this session's moto server: the handlers' calls (LIST, PUT, GET,
HEAD), the interpreter's own ItemReader GetObject and ResultWriter PutObject - which moto
makes with a single attempt - and, for `fanout run` as a subprocess, the CLI's HeadBucket
all go through it.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from fanout_local.engine import EmbeddedEngine, EngineConfig
from tests.support.cli import fanout
from tests.support.s3_helpers import body_of, http_get, put_keys
from tests.support.s3_proxy import DROP, Action, CutAfter, ProxyRequest, Respond, S3Proxy, Seen, forward_all

EVERY = 5  # one request in five fails
# More runs: FAULT_SEEDS=1,2,...,20 (each seed is one run, its own faults).
SEEDS = [int(seed) for seed in os.environ.get("FAULT_SEEDS", "1,2,3,4,5").split(",")]
KINDS = ("slowdown", "internal", "drop", "cut")
MANIFEST_BUCKET = "faults-manifests"


class RandomFaults:
    """Fails one request in each run of five, at a random place (seeded) - a fifth of all
    requests, whatever they are - with each kind in turn from a random one: 503 SlowDown,
    500 InternalError, a connection reset before any answer, or an answer whose body is cut
    off after its headers (the request reached S3: a PUT it carried is stored). In turn, not
    drawn: a run of ~50 requests then meets every kind."""

    def __init__(self, seed: int, every: int = EVERY) -> None:
        self._random = random.Random(seed)
        self._every = every
        self._lock = threading.Lock()
        self._count = 0
        self._slot = 0
        self._next_kind = self._random.randrange(len(KINDS))
        self.injected: Counter[str] = Counter()

    def __call__(self, _request: ProxyRequest) -> Action:
        with self._lock:
            place = self._count % self._every
            if place == 0:
                self._slot = self._random.randrange(self._every)
            self._count += 1
            if place != self._slot:
                return None
            kind = KINDS[self._next_kind % len(KINDS)]
            self._next_kind += 1
            self.injected[kind] += 1
        return fault(kind)


def fault(kind: str) -> Action:
    if kind == "slowdown":
        return Respond.s3_error(503, "SlowDown", "Please reduce your request rate.")
    if kind == "internal":
        return Respond.s3_error(500, "InternalError", "We encountered an internal error.")
    if kind == "drop":
        return DROP
    return CutAfter(size=20)  # the plan, summaries and listings are longer: cut mid-body


def from_engine(request: ProxyRequest | Seen) -> bool:
    """The interpreter's own calls (and the CLI's): boto3; the handlers use aioboto3."""
    return "aiobotocore" not in {k.lower(): v for k, v in request.headers.items()}.get("user-agent", "")


def seed_keys(s3: Any, bucket: str) -> list[str]:
    """A few hundred keys across several top-level folders, a third not matching the suffix;
    returns the matching ones. Straight into moto: the run is what is under test."""
    keys = [f"{folder}/{i:04d}.{ext}" for folder in "abcdef" for i in range(60) for ext in ("pdf", "PDF", "txt")]
    put_keys(s3, bucket, keys)
    return sorted(k for k in keys if k.lower().endswith(".pdf"))


def assert_exact(
    s3: Any, output: dict[str, Any], matching: list[str], manifest_bucket: str = MANIFEST_BUCKET
) -> dict[str, Any]:
    """Every matching key once and nothing else, in the index and through its links (which
    name the proxy: call with faults off, their checks are not under test); the index."""
    index: dict[str, Any] = json.loads(http_get(output["index_url"]))
    assert index["count"] == output["count"] == len(matching)
    stored: list[str] = []
    for part in index["parts"]:
        body = s3.get_object(Bucket=manifest_bucket, Key=part["key"])["Body"].read().decode()
        stored.extend(json.loads(line)["key"] for line in body.splitlines() if line)
    assert sorted(stored) == matching
    lines = [
        json.loads(line) for part in index["parts"] for line in http_get(part["url"]).decode().splitlines() if line
    ]
    assert sorted(line["key"] for line in lines) == matching
    for line in lines:
        assert http_get(line["url"]) == body_of(line["key"]), line["key"]
    return index


@pytest.fixture(scope="module")
def proxy(moto_endpoint: str) -> Iterator[S3Proxy]:
    with S3Proxy(moto_endpoint) as running:
        yield running


@pytest.fixture(scope="module")
def faulty_engine(proxy: S3Proxy, moto_endpoint: str) -> Iterator[EmbeddedEngine]:
    """The engine `fanout run` uses, with every S3 call through the proxy."""
    with (
        pytest.MonkeyPatch.context() as env,
        tempfile.TemporaryFile("w+", encoding="utf-8") as log,
    ):
        # Module scope: before the per-test environment; the workers take these at start.
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        config = EngineConfig(
            manifest_bucket=MANIFEST_BUCKET,
            s3_endpoint=proxy.url,
            log=log,
            extra_function_env={"MIN_UNIT_KEYS": "2"},  # several units from a few hundred keys
        )
        with EmbeddedEngine(config) as running:
            running.s3_client().create_bucket(Bucket=MANIFEST_BUCKET)
            yield running


@pytest.fixture
def faults_off(proxy: S3Proxy) -> Iterator[None]:
    proxy.rule = forward_all
    proxy.clear()
    yield
    proxy.rule = forward_all


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("faults_off")
@pytest.mark.parametrize("seed", SEEDS)
def test_a_run_behind_an_s3_failing_a_fifth_of_requests_is_exact(
    seed: int, faulty_engine: EmbeddedEngine, proxy: S3Proxy, s3: Any, bucket: str
) -> None:
    matching = seed_keys(s3, bucket)
    faults = RandomFaults(seed)

    proxy.rule = faults
    result = faulty_engine.run({"bucket": bucket, "max_concurrency": 4}, name=f"faults-{seed}-{bucket}")
    proxy.rule = forward_all
    seen = proxy.seen

    assert result.status == "SUCCEEDED", (dict(faults.injected), result.error, result.cause)
    index = assert_exact(s3, result.output or {}, matching)
    # It tested something: every kind of fault, on a run that fanned out.
    assert all(faults.injected[kind] for kind in KINDS), faults.injected
    assert sum(faults.injected.values()) >= len(seen) // EVERY
    assert len(index["parts"]) >= 4, "one unit: the Map fanned out nothing"
    print(
        f"seed {seed}: {len(seen)} requests, injected {dict(faults.injected)}, "
        f"engine's own faulted: {sum(1 for r in seen if from_engine(r) and r.action != 'forward')}, "
        f"{len(index['parts'])} parts, {result.seconds:.1f} s"
    )


class EngineCallsFailFirst:
    """Fails the interpreter's own S3 calls, each kind in turn, ``times`` times per object."""

    def __init__(self, times: int = len(KINDS)) -> None:
        self._times = times
        self._lock = threading.Lock()
        self.failed: Counter[tuple[str, str]] = Counter()

    def __call__(self, request: ProxyRequest) -> Action:
        if not from_engine(request) or not ("/_map-results/" in request.path or request.path.endswith("/plan.json")):
            return None
        with self._lock:
            what = (request.method, request.path.rsplit("/", 1)[-1])
            if self.failed[what] >= self._times:
                return None
            self.failed[what] += 1
            return fault(KINDS[(self.failed[what] - 1) % len(KINDS)])


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("faults_off")
def test_the_engines_item_reader_and_result_writer_retry_every_kind_of_fault(
    faulty_engine: EmbeddedEngine, proxy: S3Proxy, s3: Any, bucket: str
) -> None:
    matching = seed_keys(s3, bucket)
    rule = EngineCallsFailFirst()

    proxy.rule = rule
    result = faulty_engine.run({"bucket": bucket, "max_concurrency": 4}, name=f"engine-faults-{bucket}")
    proxy.rule = forward_all

    # moto makes these calls with one attempt: before the override, the first fault failed the run.
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert rule.failed == {("GET", "plan.json"): len(KINDS), ("PUT", "manifest.json"): len(KINDS)}
    assert_exact(s3, result.output or {}, matching)


class FirstRequestsFail:
    """The first requests fail (the CLI's HeadBucket, one kind each), then ``then`` decides."""

    def __init__(self, first: list[str], then: RandomFaults) -> None:
        self._first = list(first)
        self._then = then
        self._lock = threading.Lock()
        self.failed_first: list[str] = []

    def __call__(self, request: ProxyRequest) -> Action:
        with self._lock:
            if self._first:
                kind = self._first.pop(0)
                self.failed_first.append(f"{request.method} {request.path} {kind}")
                return fault(kind)
        return self._then(request)


@pytest.mark.timeout(180)
def test_fanout_run_behind_an_s3_failing_a_fifth_of_requests_is_exact(s3: Any, bucket: str, moto_endpoint: str) -> None:
    matching = seed_keys(s3, bucket)
    faults = RandomFaults(seed=11)
    rule = FirstRequestsFail(["slowdown", "internal", "drop"], then=faults)

    with S3Proxy(moto_endpoint, rule=rule) as cli_proxy:
        # MIN_UNIT_KEYS=2 (the tests' environment, which the workers inherit): several units.
        done = fanout("run", "--bucket", bucket, "--s3-endpoint", cli_proxy.url, "--max-concurrency", "4", "--json")
        cli_proxy.rule = forward_all
        assert done.returncode == 0, (rule.failed_first, dict(faults.injected), done.stderr[-3000:])
        output = json.loads(done.stdout)
        index = assert_exact(s3, output, matching, manifest_bucket=bucket)  # `fanout run`'s default

    # The CLI's own HeadBucket met each fault before the engine started.
    assert [line.split()[0] for line in rule.failed_first] == ["HEAD"] * 3, rule.failed_first
    assert len(index["parts"]) >= 4
