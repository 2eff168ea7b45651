"""`fanout share`'s, `shares`' and `revoke`'s logic against `fanout serve` (a Step Functions
endpoint running the real workflow): an execution started and followed with the service's own
progress, a failed run's named error and cause, an abandoned wait that leaves the execution
running (or stops it), the shares listed live and expired, and a share revoked - its page and
link lists gone at once, while an object URL copied earlier still works, as revoke says."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from fanout_local import share, shares
from fanout_local.errors import UserError
from s3fanout.records import RUN_ID_RE
from tests.support.processes import Watched
from tests.support.serve import PROJECT, Served, finished, start_serve

SOURCE = "share-source"
OBJECTS = 18
# 160 keys in 40 folders: planning them keeps the first state busy long enough to stop it there.
# moto's interpreter (5.2.5) honours a stop only outside the Distributed Map: one before the
# first state is dropped (share.stop asks again), one during the Map lets it run to SUCCEEDED.
LONG = "share-long"
LONG_OBJECTS = 160
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    # Units of 2 keys: a share of the whole source is 9 BuildManifest invocations, one at a time
    # with max_concurrency 1 - seconds, long enough to stop one while it runs.
    serving = start_serve("--bucket", SOURCE, "--bucket", LONG, "--unit-keys", "2")
    try:
        s3 = serving.client("s3")
        for n in range(OBJECTS):
            s3.put_object(Bucket=SOURCE, Key=f"docs/{n % 3}/{n:03d}.pdf", Body=f"pdf {n}".encode())
        for n in range(LONG_OBJECTS):
            s3.put_object(Bucket=LONG, Key=f"{n % 40:02d}/{n:03d}.pdf", Body=b"%PDF")
        yield serving
    finally:
        serving.process.close()


@pytest.fixture(scope="module")
def sfn(served: Served) -> Any:
    return served.client("stepfunctions")


@pytest.fixture(scope="module")
def s3(served: Served) -> Any:
    return served.client("s3")


@pytest.fixture(scope="module")
def target(sfn: Any, served: Served) -> share.Target:
    return share.endpoint_target(sfn, served.url)


def run_share(sfn: Any, target: share.Target, request: share.ShareRequest) -> tuple[share.ShareOutcome, list[str]]:
    seen: list[str] = []
    arn = share.start(sfn, target, request)
    watcher = share.ExecutionWatcher(sfn, arn, target.where)
    outcome = share.follow(watcher, on_progress=lambda p: seen.append(p.describe()), interval=0.05)
    return outcome, seen


def test_the_endpoint_s_only_state_machine_is_the_target(target: share.Target, served: Served) -> None:
    assert target.state_machine_arn == served.arn
    assert target.endpoint_url == served.url


def test_a_share_runs_to_its_page_with_progress_from_the_service(sfn: Any, target: share.Target) -> None:
    request = share.ShareRequest(bucket=SOURCE, prefix="docs/", suffix=".pdf", expires_in=3600, max_concurrency=2)

    outcome, seen = run_share(sfn, target, request)

    assert outcome.succeeded, outcome.failure()
    assert outcome.output is not None
    assert outcome.output["count"] == OBJECTS
    assert requests.get(outcome.output["page_url"], timeout=30).status_code == 200
    # Seen while it ran: the Map's own counts (DescribeMapRun), moto's interpreter reports them.
    assert seen, "no progress reported while it ran"
    assert all(line.startswith("RUNNING: ") for line in seen)
    assert any(line.startswith("RUNNING: Map ") for line in seen), seen


class WithoutMapRuns:
    """The endpoint's client, as a service without ListMapRuns answers (Step Functions Local)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def list_map_runs(self, **_: Any) -> Any:
        from botocore.exceptions import ClientError

        error = {"Error": {"Code": "UnknownOperationException", "Message": "no such operation"}}
        raise ClientError(error, "ListMapRuns")  # type: ignore[arg-type]


def test_without_map_runs_progress_is_the_states_entered(sfn: Any, target: share.Target) -> None:
    client = WithoutMapRuns(sfn)
    arn = share.start(client, target, share.ShareRequest(bucket=SOURCE))
    watcher = share.ExecutionWatcher(client, arn, target.where)
    seen: list[str] = []

    outcome = share.follow(watcher, on_progress=lambda p: seen.append(p.describe()), interval=0.05)

    assert outcome.succeeded
    assert watcher.map_runs_supported is False
    assert not any("Map " in line for line in seen), seen
    assert any(" states entered, now " in line for line in seen), seen


def test_the_name_is_the_run_id_and_cannot_be_reused(sfn: Any, target: share.Target) -> None:
    name = f"named-{int(time.time() * 1000)}"
    outcome, _ = run_share(sfn, target, share.ShareRequest(bucket=SOURCE, name=name))
    assert outcome.output is not None
    assert outcome.output["run_id"] == name

    with pytest.raises(UserError, match=f"an execution named '{name}' already ran.*pick another --name"):
        share.start(sfn, target, share.ShareRequest(bucket=SOURCE, name=name))


def test_a_failed_share_names_its_error_and_cause(sfn: Any, target: share.Target) -> None:
    outcome, _ = run_share(sfn, target, share.ShareRequest(bucket="no-such-source-bucket"))

    assert outcome.status == "FAILED"
    assert outcome.failure().startswith("FAILED: BucketNotFound: ")
    assert "no-such-source-bucket" in outcome.failure()
    assert "stackTrace" not in outcome.failure()


def test_an_abandoned_wait_leaves_the_execution_running_and_says_how_to_stop_it(sfn: Any, target: share.Target) -> None:
    arn = share.start(sfn, target, share.ShareRequest(bucket=SOURCE))

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        share.follow(share.ExecutionWatcher(sfn, arn, target.where), pause=interrupted)

    assert finished(sfn, arn)["status"] == "SUCCEEDED", "it went on to the end: nothing stopped it"
    advice = share.how_to_stop(target, arn)
    assert f"--endpoint-url {target.endpoint_url} stepfunctions stop-execution --execution-arn {arn}" in advice
    assert "--stop-on-interrupt" in advice


def test_stop_on_interrupt_stops_the_execution(sfn: Any, target: share.Target) -> None:
    arn = share.start(sfn, target, share.ShareRequest(bucket=LONG, max_concurrency=1))
    watcher = share.ExecutionWatcher(sfn, arn, target.where)
    watcher.map_runs_supported = False  # the history alone: the states entered, quickly
    while not (progress := watcher.poll()).states:  # planning: where moto honours a stop
        assert progress.status == "RUNNING", "it ended before it was seen running"

    status = share.stop(sfn, arn, target.where)  # what --stop-on-interrupt does

    assert status == "ABORTED"
    assert finished(sfn, arn)["status"] == "ABORTED"


def test_an_unreachable_endpoint_is_a_one_line_error() -> None:
    import boto3

    sfn = boto3.client("stepfunctions", endpoint_url="http://127.0.0.1:9", region_name="us-east-1")
    with pytest.raises(UserError, match=r"cannot reach Step Functions at http://127.0.0.1:9: is it running"):
        share.endpoint_target(sfn, "http://127.0.0.1:9")


def test_shares_lists_live_and_expired_and_revoke_takes_one_back(
    sfn: Any, target: share.Target, s3: Any, served: Served
) -> None:
    short, _ = run_share(sfn, target, share.ShareRequest(bucket=SOURCE, prefix="docs/0/", expires_in=600))
    long, _ = run_share(sfn, target, share.ShareRequest(bucket=SOURCE, prefix="docs/1/", expires_in=7 * 86400))
    assert short.output is not None
    assert long.output is not None
    later = time.time() + 3600  # the short one's links have expired by then, the long one's not

    listed = {s.run_id: s for s in shares.list_shares(s3, served.manifest_bucket, now=later)}
    assert shares.MAP_RESULTS not in listed  # the Map's ResultWriter folder is no share
    assert s3.list_objects_v2(Bucket=served.manifest_bucket, Prefix=f"manifests/{shares.MAP_RESULTS}/")["KeyCount"]

    expired, live = listed[short.output["run_id"]], listed[long.output["run_id"]]
    assert (expired.state, expired.page_url) == (shares.EXPIRED, None)
    assert (live.state, live.page_url) == (shares.LIVE, long.output["page_url"])
    assert (live.bucket, live.prefix, live.objects) == (SOURCE, "docs/1/", OBJECTS // 3)
    assert live.expires_at == long.output["expires_at"]
    assert live.created_at is not None
    assert live.created_at <= live.expires_at

    # An object URL a recipient copied from a part before the share is revoked.
    index = requests.get(long.output["index_url"], timeout=30).json()
    part = requests.get(index["parts"][0]["url"], timeout=30).text
    copied = json.loads(part.splitlines()[0])["url"]

    revoked = shares.revoke(s3, served.manifest_bucket, live.run_id)

    assert revoked.deleted >= 5  # page, index, part(s), summaries, run and plan documents
    assert requests.get(long.output["page_url"], timeout=30).status_code in {403, 404}
    assert requests.get(long.output["index_url"], timeout=30).status_code in {403, 404}
    assert s3.list_objects_v2(Bucket=served.manifest_bucket, Prefix=f"manifests/{live.run_id}/")["KeyCount"] == 0
    # What revoke says it cannot do, it cannot: the copied object URL still works.
    assert requests.get(copied, timeout=30).status_code == 200
    said = " ".join(shares.what_revoke_cannot_do([revoked.share]))
    assert "works until it expires" in said
    assert "access key" in said

    with pytest.raises(UserError, match=f"no share '{live.run_id}'"):
        shares.revoke(s3, served.manifest_bucket, live.run_id)


def test_revoke_expired_removes_only_the_expired(sfn: Any, target: share.Target, s3: Any, served: Served) -> None:
    short, _ = run_share(sfn, target, share.ShareRequest(bucket=SOURCE, prefix="docs/2/", expires_in=60))
    long, _ = run_share(sfn, target, share.ShareRequest(bucket=SOURCE, prefix="docs/2/", expires_in=86400))
    assert short.output is not None
    assert long.output is not None
    later = time.time() + 3600
    expected = {s.run_id for s in shares.list_shares(s3, served.manifest_bucket, now=later) if s.state == "expired"}
    assert short.output["run_id"] in expected

    revoked = shares.revoke_expired(s3, served.manifest_bucket, now=later)

    assert {r.share.run_id for r in revoked} == expected
    remaining = {s.run_id for s in shares.list_shares(s3, served.manifest_bucket, now=later)}
    assert long.output["run_id"] in remaining
    assert not expected & remaining
    assert shares.what_revoke_cannot_do([r.share for r in revoked]) == []  # expired: nothing left working


# -- the commands, as a person runs them against `fanout serve` ---------------------------------
def cli(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fanout_local.cli", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=PROJECT,
        env=served.env(),
    )


def test_fanout_share_prints_the_page_url_and_shares_lists_it(served: Served) -> None:
    shared = cli(served, "share", f"s3://{SOURCE}/docs/2/", "--endpoint-url", served.url, "--expires-in", "15m")

    assert shared.returncode == 0, shared.stderr
    (page_url,) = shared.stdout.splitlines()
    assert requests.get(page_url, timeout=30).status_code == 200
    assert f"SUCCEEDED: {OBJECTS // 3} objects" in shared.stderr
    listed = cli(served, "shares", "--manifest-bucket", served.manifest_bucket, "--s3-endpoint", served.url, "--json")
    assert listed.returncode == 0, listed.stderr
    mine = [s for s in json.loads(listed.stdout) if s["page_url"] == page_url]
    assert len(mine) == 1
    assert mine[0]["state"] == "live"
    assert (mine[0]["bucket"], mine[0]["prefix"]) == (SOURCE, "docs/2/")
    table = cli(served, "shares", "--manifest-bucket", served.manifest_bucket, "--s3-endpoint", served.url)
    assert table.returncode == 0, table.stderr
    assert f"{mine[0]['run_id']}  {page_url}" in table.stdout.splitlines()

    # Named like every run (time-sortable), not by the service's UUID.
    assert RUN_ID_RE.match(mine[0]["run_id"])
    assert mine[0]["run_id"][:8].isdigit()
    # --endpoint-url, as `fanout share` and the aws CLI call it, is the same option here.
    revoked = cli(
        served, "revoke", mine[0]["run_id"], "--manifest-bucket", served.manifest_bucket, "--endpoint-url", served.url
    )

    assert revoked.returncode == 0, revoked.stderr
    assert f"revoked {mine[0]['run_id']} (live, s3://{SOURCE}/docs/2/)" in revoked.stderr
    assert "works until it expires" in " ".join(revoked.stderr.split())
    assert requests.get(page_url, timeout=30).status_code in {403, 404}


def test_fanout_share_json_is_the_execution_output(served: Served) -> None:
    args = ("--json", "--name", "as-json", "--title", "Q1 reports", "--message", "For the audit.")
    shared = cli(served, "share", f"s3://{SOURCE}/docs/", "--endpoint-url", served.url, *args)

    assert shared.returncode == 0, shared.stderr
    output = json.loads(shared.stdout)
    assert (output["run_id"], output["count"]) == ("as-json", OBJECTS)
    page = requests.get(output["page_url"], timeout=30).text
    assert "Q1 reports" in page
    assert "For the audit." in page


def test_fanout_share_of_a_failing_run_names_the_error_and_exits_1(served: Served) -> None:
    shared = cli(served, "share", "s3://no-such-source-bucket", "--endpoint-url", served.url)

    assert shared.returncode == 1
    assert shared.stdout == ""
    assert "FAILED: BucketNotFound: " in shared.stderr
    assert "Traceback" not in shared.stderr


def test_fanout_share_of_nothing_exits_1_unless_allowed(served: Served) -> None:
    args = ("share", f"s3://{SOURCE}/docs/", "--suffix", ".none", "--endpoint-url", served.url)
    empty = cli(served, *args)
    assert empty.returncode == 1
    assert "nothing matched" in empty.stderr
    allowed = cli(served, *args, "--allow-empty")
    assert allowed.returncode == 0, allowed.stderr
    assert "SUCCEEDED: 0 objects" in allowed.stderr


@pytest.mark.parametrize("stop", [False, True], ids=["leaves-it-running", "stop-on-interrupt"])
def test_ctrl_c_during_fanout_share(served: Served, stop: bool) -> None:
    args = ["share", f"s3://{LONG}", "--endpoint-url", served.url, "--max-concurrency", "1"]
    process = Watched(
        "fanout_local.cli", *args, *(["--stop-on-interrupt"] if stop else []), cwd=PROJECT, env=served.env()
    )
    try:
        process.wait_for("started ")  # the execution started: it runs for a second or more
        process.process.send_signal(signal.SIGINT)
        process.process.wait(timeout=60)
        process.join_readers()
    finally:
        process.close()

    assert process.process.returncode == 130, process.stderr
    assert process.stderr.rstrip().endswith("interrupted")
    started = next(line for line in process.err if line.startswith("started "))
    arn = started.split()[1]
    said = " ".join(process.stderr.split())
    sfn = served.client("stepfunctions")
    if stop:
        # The CLI asked the service to stop it and says what came of it (moto lets the Map run on).
        described = finished(sfn, arn)
        if described["status"] == "ABORTED":
            assert f"stopped {arn}" in said
        else:
            assert f"asked to stop {arn}: {described['status']}" in said
    else:
        assert f"stepfunctions stop-execution --execution-arn {arn}" in said
        assert finished(sfn, arn)["status"] == "SUCCEEDED"
