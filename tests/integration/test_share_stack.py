"""`fanout share --stack NAME`: the state machine and manifest bucket come from the deployed
stack's outputs - the transformed template created as a stack on moto's CloudFormation, as
`sam deploy` would (tests/integration/test_stack_on_moto.py) - and an execution starts there.
moto's CloudFormation does not run the workflow (its Lambda needs Docker): what runs it is
tested against `fanout serve` (tests/workflow/test_share.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from fanout_local import share
from fanout_local.errors import UserError
from tests.integration.test_stack_on_moto import deploy
from tests.support.moto_process import MotoProcess

STACK = "share-stack"


@pytest.fixture(scope="module")
def server() -> Iterator[MotoProcess]:
    server = MotoProcess.start()
    try:
        deploy(server, STACK, {"SourceBucketNames": "src-a", "ManifestBucketName": "", "Tracing": "Disabled"})
        yield server
    finally:
        server.stop()


def test_the_stack_outputs_name_the_state_machine_and_the_manifest_bucket(server: MotoProcess) -> None:
    cloudformation = server.client("cloudformation")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    }

    target = share.stack_target(cloudformation, STACK)

    machine = server.client("stepfunctions").describe_state_machine(stateMachineArn=target.state_machine_arn)
    assert machine["name"] == f"{STACK}-fanout"
    assert target.manifest_bucket == physical["ManifestBucket"]
    assert target.endpoint_url is None
    assert target.region == "us-east-1"
    assert STACK in target.where


def test_a_share_starts_on_the_stack_s_state_machine(server: MotoProcess) -> None:
    sfn = server.client("stepfunctions")
    target = share.stack_target(server.client("cloudformation"), STACK)
    request = share.ShareRequest(bucket="src-a", prefix="docs/", expires_in=900, name="on-the-stack")

    arn = share.start(sfn, target, request)

    described = sfn.describe_execution(executionArn=arn)
    assert described["stateMachineArn"] == target.state_machine_arn
    assert described["name"] == "on-the-stack"
    assert json.loads(described["input"]) == {"bucket": "src-a", "prefix": "docs/", "expires_in": 900}
    advice = share.how_to_stop(target, arn)
    assert f"aws --region us-east-1 stepfunctions stop-execution --execution-arn {arn}" in advice


def test_no_such_stack_is_a_one_line_error(server: MotoProcess) -> None:
    with pytest.raises(UserError, match=r"no stack 'not-deployed' in us-east-1: check --stack, and the region"):
        share.stack_target(server.client("cloudformation"), "not-deployed")


def test_a_stack_without_the_output_is_named(server: MotoProcess) -> None:
    cloudformation = server.client("cloudformation")
    cloudformation.create_stack(
        StackName="not-fanout",
        TemplateBody=json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}),
    )

    with pytest.raises(UserError, match=r"stack not-fanout \(us-east-1\) has no StateMachineArn output"):
        share.stack_target(cloudformation, "not-fanout")


def test_shares_and_revoke_find_the_manifest_bucket_in_the_stack(server: MotoProcess) -> None:
    """The commands as a person runs them with --stack: AWS_ENDPOINT_URL points every client at
    the moto server, as it would at any AWS-compatible endpoint."""
    cloudformation = server.client("cloudformation")
    bucket = share.stack_target(cloudformation, STACK).manifest_bucket
    assert bucket is not None
    s3 = server.client("s3")
    expired = {"run_id": "old-run", "bucket": "src-a", "prefix": "docs/", "count": 3}
    expired |= {"created_at": "2020-01-01T00:00:00Z", "expires_at": "2020-01-01T00:15:00Z", "page_url": "x"}
    s3.put_object(Bucket=bucket, Key="manifests/old-run/index.json", Body=json.dumps(expired).encode())
    s3.put_object(Bucket=bucket, Key="manifests/old-run/index.html", Body=b"<html>")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }

    def fanout(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fanout_local.cli", *args, "--stack", STACK, "--region", "us-east-1"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )

    listed = fanout("shares", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(s["run_id"], s["state"], s["page_url"]) for s in json.loads(listed.stdout)] == [
        ("old-run", "expired", None)
    ]

    revoked = fanout("revoke", "--expired")

    assert revoked.returncode == 0, revoked.stderr
    assert "revoked old-run (expired, s3://src-a/docs/): deleted 2 objects" in revoked.stderr
    assert s3.list_objects_v2(Bucket=bucket, Prefix="manifests/")["KeyCount"] == 0
