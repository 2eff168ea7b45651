"""`fanout serve`: the embedded engine behind the real APIs, driven by the real AWS CLI (awscli
from PyPI) and by boto3, over HTTP, as any other program would: start, describe and list
executions, a failed execution's named error and cause, two executions at once, S3 through
the same endpoint; and SIGINT / SIGTERM stop it all, leaving no process behind."""

from __future__ import annotations

import json
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.processes import Watched
from tests.support.serve import EXECUTION_SECONDS, PROJECT, SERVE, Served, finished, start_serve

STOP_SECONDS = 20.0
SOURCE = "serve-source"
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    serving = start_serve("--bucket", SOURCE)
    try:
        s3 = serving.client("s3")
        for n in range(24):
            s3.put_object(Bucket=SOURCE, Key=f"docs/{n % 3}/{n:03d}.pdf", Body=f"pdf {n}".encode())
        yield serving
    finally:
        serving.process.close()


def test_boto3_starts_and_describes_an_execution_and_the_page_is_served(served: Served) -> None:
    sfn = served.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=served.arn, input=json.dumps({"bucket": SOURCE, "prefix": "docs/", "suffix": ".pdf"})
    )["executionArn"]

    described = finished(sfn, arn)

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["count"] == 24
    page = requests.get(output["page_url"], timeout=30)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    index = requests.get(output["index_url"], timeout=30).json()
    assert index["count"] == 24
    assert index["bucket"] == SOURCE


def test_the_aws_cli_starts_describes_and_lists_executions(served: Served) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    started = served.aws(
        *("stepfunctions", "start-execution", "--state-machine-arn", served.arn, "--name", name),
        *("--input", json.dumps({"bucket": SOURCE, "prefix": "docs/1/", "suffix": ".pdf"})),
    )
    arn = started["executionArn"]
    assert arn.endswith(f":{name}")

    deadline = time.monotonic() + EXECUTION_SECONDS
    while (described := served.aws("stepfunctions", "describe-execution", "--execution-arn", arn))[
        "status"
    ] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)

    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["count"] == 8
    listed = served.aws("stepfunctions", "list-executions", "--state-machine-arn", served.arn)
    assert {e["name"]: e["status"] for e in listed["executions"]}[name] == "SUCCEEDED"
    # The run's documents through the same endpoint's S3.
    run_id = json.loads(described["output"])["run_id"]
    s3 = served.aws("s3api", "list-objects-v2", "--bucket", served.manifest_bucket, "--prefix", f"manifests/{run_id}/")
    keys = {obj["Key"].rsplit("/", 1)[-1] for obj in s3["Contents"]}
    assert {"index.json", "index.html", "run.json", "plan.json"} <= keys


def test_a_failed_execution_has_its_named_error_and_cause(served: Served) -> None:
    started = served.aws(
        *("stepfunctions", "start-execution", "--state-machine-arn", served.arn),
        *("--input", json.dumps({"bucket": "no-such-bucket-here"})),
    )

    described = finished(served.client("stepfunctions"), started["executionArn"])

    assert described["status"] == "FAILED"
    assert described["error"] == "BucketNotFound"
    cause = json.loads(described["cause"])
    assert cause["errorType"] == "BucketNotFound"
    assert "no-such-bucket-here" in cause["errorMessage"]


def test_two_executions_at_once_both_succeed_with_names_of_their_own(served: Served) -> None:
    sfn = served.client("stepfunctions")
    body = json.dumps({"bucket": SOURCE, "suffix": ".pdf"})
    # No name: the service makes one for each (moto's interpreter alone would name both "None").
    first = sfn.start_execution(stateMachineArn=served.arn, input=body)["executionArn"]
    second = sfn.start_execution(stateMachineArn=served.arn, input=body)["executionArn"]

    one, two = finished(sfn, first), finished(sfn, second)

    assert first != second
    assert (one["status"], two["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert two["startDate"] < one["stopDate"], "the second started before the first ended"
    assert json.loads(one["output"])["run_id"] != json.loads(two["output"])["run_id"]
    assert json.loads(one["output"])["count"] == json.loads(two["output"])["count"] == 24


def test_the_map_run_reports_its_item_counts(served: Served) -> None:
    sfn = served.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=served.arn, input=json.dumps({"bucket": SOURCE}))["executionArn"]
    assert finished(sfn, arn)["status"] == "SUCCEEDED"

    (map_run,) = sfn.list_map_runs(executionArn=arn)["mapRuns"]
    counts = sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])["itemCounts"]

    assert counts["total"] == counts["succeeded"] >= 1
    assert counts["failed"] == 0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_everything(signum: int) -> None:
    serving = start_serve("--bucket", SOURCE)
    try:
        sfn = serving.client("stepfunctions")
        serving.client("s3").put_object(Bucket=SOURCE, Key="a.pdf", Body=b"a")
        # An execution in flight: its Lambda workers run when the signal comes.
        sfn.start_execution(stateMachineArn=serving.arn, input=json.dumps({"bucket": SOURCE}))
        serving.process.process.send_signal(signum)
        serving.process.process.wait(timeout=STOP_SECONDS * 3)
        serving.process.join_readers()

        assert serving.process.process.returncode == 128 + signum, serving.process.stderr[-3000:]
        assert "Traceback" not in serving.process.stderr
        assert serving.process.stderr.rstrip().endswith("interrupted")
        assert serving.process.leftovers() == []
        with socket.socket() as sock:  # the port is free again
            port = int(serving.url.rsplit(":", 1)[1])
            assert sock.connect_ex(("127.0.0.1", port)) != 0
    finally:
        serving.process.close()


def test_a_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = Watched(*SERVE, "--port", str(port), cwd=PROJECT)
        try:
            process.process.wait(timeout=120)
            process.join_readers()
        finally:
            process.close()

    assert process.process.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in process.stderr
    assert "--port" in process.stderr
    assert "Traceback" not in process.stderr


def test_with_s3_elsewhere_the_port_serves_step_functions_and_runs_write_there(s3: Any, moto_endpoint: str) -> None:
    source, manifests = f"ext-src-{uuid.uuid4().hex[:8]}", f"ext-out-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=manifests)
    for n in range(5):
        s3.put_object(Bucket=source, Key=f"d/{n}.pdf", Body=b"%PDF")
    serving = start_serve("--s3-endpoint", moto_endpoint, "--manifest-bucket", manifests)
    try:
        assert f"S3: {moto_endpoint}\n" in serving.process.out
        sfn = serving.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=serving.arn, input=json.dumps({"bucket": source}))["executionArn"]

        described = finished(sfn, arn)

        assert described["status"] == "SUCCEEDED", described
        run_id = json.loads(described["output"])["run_id"]
        s3.head_object(Bucket=manifests, Key=f"manifests/{run_id}/index.html")  # on the S3 given
    finally:
        serving.process.close()


def test_with_s3_elsewhere_a_missing_manifest_bucket_is_named(moto_endpoint: str) -> None:
    process = Watched(
        *SERVE, "--port", "0", "--s3-endpoint", moto_endpoint, "--manifest-bucket", "no-such-out", cwd=PROJECT
    )
    try:
        process.process.wait(timeout=120)
        process.join_readers()
    finally:
        process.close()

    assert process.process.returncode == 1, process.stderr
    assert f"no bucket 'no-such-out' at {moto_endpoint}" in process.stderr
    assert "Traceback" not in process.stderr
