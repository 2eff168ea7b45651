"""`fanout share --stack NAME`: the state machine and manifest bucket come from the deployed
stack's outputs - the transformed template created as a stack on moto's CloudFormation, as
`sam deploy` would (tests/integration/test_stack_on_moto.py) - and an execution starts there.
moto's CloudFormation does not run the workflow (its Lambda needs Docker): what runs it is
tested against `fanout serve` (tests/workflow/test_share.py)."""

from __future__ import annotations

import json
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
