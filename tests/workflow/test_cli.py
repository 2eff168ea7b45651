"""`fanout seed` and `fanout invoke` as a user runs them (subprocesses, moto server over HTTP)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from tests.support.cli import fanout
from tests.support.s3_helpers import all_keys, http_get

PROJECT = Path(__file__).resolve().parents[2]


def test_seed_uploads_a_directory_under_a_prefix(s3: Any, bucket: str, moto_endpoint: str, tmp_path: Path) -> None:
    (tmp_path / "reports" / "2024").mkdir(parents=True)
    (tmp_path / "reports" / "2024" / "q1 final.pdf").write_bytes(b"%PDF q1")
    (tmp_path / "notes.txt").write_bytes(b"notes")

    completed = fanout(
        "seed", "--bucket", bucket, "--source-dir", str(tmp_path), "--prefix", "in/", "--s3-endpoint", moto_endpoint
    )

    assert completed.returncode == 0, completed.stderr
    assert sorted(all_keys(s3, bucket)) == ["in/notes.txt", "in/reports/2024/q1 final.pdf"]
    assert s3.get_object(Bucket=bucket, Key="in/reports/2024/q1 final.pdf")["Body"].read() == b"%PDF q1"


def test_seed_refuses_a_missing_directory(bucket: str, moto_endpoint: str, tmp_path: Path) -> None:
    completed = fanout(
        "seed", "--bucket", bucket, "--source-dir", str(tmp_path / "absent"), "--s3-endpoint", moto_endpoint
    )
    assert completed.returncode == 2
    assert "is not a directory" in " ".join(completed.stderr.split())  # rich wraps lines


def test_invoke_runs_each_event_file_like_sam_local_invoke(s3: Any, moto_endpoint: str) -> None:
    """The three event files in events/, in order, against the bucket they name."""
    execution = json.loads((PROJECT / "events" / "list_prefixes.json").read_text())
    bucket = execution["bucket"]
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="reports/2024/q1.pdf", Body=b"%PDF q1")

    listed = fanout(
        "invoke", "ListPrefixesFunction", "--event", "events/list_prefixes.json", "--s3-endpoint", moto_endpoint
    )
    assert listed.returncode == 0, listed.stderr
    plan = json.loads(listed.stdout)
    assert plan["run_id"] == execution.get("run_id", plan["run_id"])
    assert plan["units"] >= 1
    assert "REPORT RequestId:" in listed.stderr
    assert "Init Duration" in listed.stderr

    built = fanout("invoke", "build-manifest", "--event", "events/build_manifest.json", "--s3-endpoint", moto_endpoint)
    assert built.returncode == 0, built.stderr
    part = json.loads(built.stdout)
    assert part["count"] >= 1

    merged = fanout("invoke", "MergeIndex", "--event", "events/merge_index.json", "--s3-endpoint", moto_endpoint)
    assert merged.returncode == 0, merged.stderr
    index = json.loads(http_get(json.loads(merged.stdout)["index_url"]))
    assert "reports/2024/" in [p["prefix"] for p in index["parts"]]


def test_invoke_reports_a_handler_error_as_json_and_exit_code_1(moto_endpoint: str, tmp_path: Path) -> None:
    event = tmp_path / "bad.json"
    event.write_text(json.dumps({"bucket": "Bad_Name"}))
    completed = fanout("invoke", "ListPrefixesFunction", "--event", str(event), "--s3-endpoint", moto_endpoint)
    assert completed.returncode == 1
    error = json.loads(completed.stdout)
    assert error["errorType"] == "InvalidInput"
    assert "bucket='Bad_Name'" in error["errorMessage"]


def test_invoke_names_the_functions_when_one_is_unknown() -> None:
    completed = fanout("invoke", "NoSuchFunction", "--event", "events/list_prefixes.json")
    assert completed.returncode == 2
    assert "ListPrefixesFunction" in " ".join(completed.stderr.split())


def test_make_invoke_runs_every_example_event_through_its_function() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fanout_local.examples"], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert [line for line in out.stdout.splitlines() if line.startswith("== ") and "<" in line] == [
        "== ListPrefixesFunction < events/list_prefixes.json",
        "== BuildManifestFunction < events/build_manifest.json",
        "== MergeIndexFunction < events/merge_index.json",
    ]
    assert '"index_url": "http://127.0.0.1:' in out.stdout


def test_run_and_fetch_say_what_they_wait_for(s3: Any, bucket: str, moto_endpoint: str, tmp_path: Path) -> None:
    """Without a terminal each wait is a plain line on stderr (a spinner in a terminal); stdout
    stays the execution output alone."""
    s3.put_object(Bucket=bucket, Key="docs/a.pdf", Body=b"%PDF a")

    ran = fanout("run", "--bucket", bucket, "--s3-endpoint", moto_endpoint, "--json")

    assert ran.returncode == 0, ran.stderr
    page_url = json.loads(ran.stdout)["page_url"]
    waits = [line for line in ran.stderr.splitlines() if line.endswith(" ...")]
    assert waits[0] == f"checking s3://{bucket} at {moto_endpoint} ..."
    assert "starting the engine: loading moto's Step Functions interpreter ..." in waits
    assert "starting the engine: loading the state machine into moto's interpreter ..." in waits
    assert "stopping the engine: stopping the Lambda workers ..." in waits
    assert waits.index("stopping the engine ...") > waits.index("starting the engine ...")

    fetched = fanout("fetch", page_url, "--to", str(tmp_path / "out"))

    assert fetched.returncode == 0, fetched.stderr
    [reading] = [line for line in fetched.stderr.splitlines() if line.startswith("reading the index at ")]
    assert reading == f"reading the index at {page_url.split('://')[1].split('?')[0]} ..."  # no signature in logs
    assert (tmp_path / "out" / "docs" / "a.pdf").read_bytes() == b"%PDF a"


def test_run_prints_the_share_page_as_the_link_and_the_index_beside_it(
    s3: Any, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="docs/a.pdf", Body=b"%PDF a")

    ran = fanout("run", "--bucket", bucket, "--s3-endpoint", moto_endpoint)

    assert ran.returncode == 0, ran.stderr
    [link] = ran.stdout.splitlines()  # stdout: the link to share, nothing else
    assert link.split("?")[0].endswith("/index.html")
    page = requests.get(link, timeout=10)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert 'id="fanout-share"' in page.text
    [index_line] = [line for line in ran.stderr.splitlines() if line.startswith("index (for programs): ")]
    index = requests.get(index_line.removeprefix("index (for programs): "), timeout=10).json()
    assert index["page_url"] == link
