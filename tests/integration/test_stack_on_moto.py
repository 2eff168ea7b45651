"""The transformed template created as a stack on moto's CloudFormation, as `sam deploy`
would: code zip and template uploaded to a deployment bucket, the stack created from the
template's URL.

On a moto server in a process of its own (its backends are not the session's S3 server's).
As far as moto 5.2.5 goes:

- worked around (tests/support/moto_cfn.py): Fn::If -> AWS::NoValue in a role's Policies
  (moto fails on the None it leaves) is resolved before upload; the state machine's
  DefinitionS3Location and DefinitionSubstitutions (moto ignores both) become a
  DefinitionString with the substitutions spliced in by Fn::Join; the TemplateURL names
  the server as "localhost" (moto reads a bucket from any other host name's first label);
- created and checked: the three functions (code from the uploaded zip, handler, runtime,
  memory, timeout, environment, role), their roles and the state machine's (inline policies
  equal to what fanout_local/intrinsics.py makes of them - two evaluators agree), the
  state machine (name, role, every Lambda ARN and the manifest bucket substituted), the
  log groups, the stack's manifest bucket, and every output;
- not created or ignored by moto, so not verified: AWS::S3::BucketPolicy (unsupported: the
  stack bucket's DenyInsecureTransport), the roles' ManagedPolicyArns, Lambda Architectures,
  LoggingConfig and TracingConfig, the state machine's LoggingConfiguration and
  TracingConfiguration; IAM policy grammar is not checked on this path (test_iam_enforced
  puts the same statements through moto's validator), and moto hands a CloudFormation-made
  role policy back as a Python repr, not JSON (read with ast.literal_eval). Functions are
  created without Docker; nothing is invoked (Lambda invocation in moto needs Docker).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fanout_local.intrinsics import Stack, resolve
from tests.support.moto_cfn import for_moto
from tests.support.moto_process import MotoProcess
from tests.support.transformed import transformed_template

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = "deploy-bucket"  # tests/support/sam_transform.py points CodeUri and DefinitionUri here
STACK = "s3-fanout"
SOURCES = "src-a,src-b"
FUNCTIONS = ("ListPrefixesFunction", "BuildManifestFunction", "MergeIndexFunction")
ROLES = (*(f"{f}Role" for f in FUNCTIONS), "FanoutStateMachineRole")


@pytest.fixture(scope="module")
def server() -> Iterator[MotoProcess]:
    server = MotoProcess.start()
    try:
        yield server
    finally:
        server.stop()


def code_zip() -> bytes:
    """CodeUri: functions/ as `sam build` zips it, less the third-party dependencies."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((ROOT / "functions").rglob("*.py")):
            archive.write(path, path.relative_to(ROOT / "functions").as_posix())
    return buffer.getvalue()


def deploy(server: MotoProcess, stack_name: str, values: dict[str, str]) -> tuple[dict[str, Any], bytes]:
    template = transformed_template(**values)
    asl = (ROOT / "statemachine" / "fanout.asl.json").read_text(encoding="utf-8")
    body = for_moto(template, Stack.of(template, values, stack_name=stack_name), {"FanoutStateMachine": asl})
    code = code_zip()
    s3 = server.client("s3")
    s3.create_bucket(Bucket=f"{DEPLOY}-{stack_name}")
    # A bucket per stack: sam_transform's fixed "deploy-bucket" is renamed to it.
    body = json.loads(json.dumps(body).replace(f'"{DEPLOY}"', f'"{DEPLOY}-{stack_name}"'))
    s3.put_object(Bucket=f"{DEPLOY}-{stack_name}", Key="code.zip", Body=code)
    s3.put_object(Bucket=f"{DEPLOY}-{stack_name}", Key="template.json", Body=json.dumps(body).encode())
    port = server.endpoint.rsplit(":", 1)[1]
    cloudformation = server.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateURL=f"http://localhost:{port}/{DEPLOY}-{stack_name}/template.json",
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    return template, code


@pytest.mark.parametrize(
    "manifest_bucket_name", ["shared-manifests", ""], ids=["given-manifest-bucket", "stack-bucket"]
)
def test_the_transformed_stack_creates_functions_roles_state_machine_and_outputs(
    server: MotoProcess, manifest_bucket_name: str
) -> None:
    stack_name = f"{STACK}-{'given' if manifest_bucket_name else 'own'}"
    values = {"SourceBucketNames": SOURCES, "ManifestBucketName": manifest_bucket_name, "Tracing": "Disabled"}
    template, code = deploy(server, stack_name, values)
    cloudformation = server.client("cloudformation")
    (described,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
        if r["LogicalResourceId"]
    }
    expected = {*FUNCTIONS, *ROLES, "FanoutStateMachine", "FanoutStateMachineLogGroup"}
    expected |= {f"{f.removesuffix('Function')}LogGroup" for f in FUNCTIONS}
    assert expected <= set(physical)
    manifest_bucket = manifest_bucket_name or physical["ManifestBucket"]
    assert ("ManifestBucket" in physical) == (not manifest_bucket_name)
    if not manifest_bucket_name:
        server.client("s3").head_bucket(Bucket=manifest_bucket)

    iam, lam, sfn = server.client("iam"), server.client("lambda"), server.client("stepfunctions")
    role_arns = {role: iam.get_role(RoleName=physical[role])["Role"]["Arn"] for role in ROLES}
    function_arns = {}
    for function in FUNCTIONS:
        config = lam.get_function_configuration(FunctionName=physical[function])
        function_arns[function] = config["FunctionArn"]
        source = template["Resources"][function]["Properties"]
        assert config["Role"] == role_arns[f"{function}Role"]
        assert (config["Handler"], config["Runtime"]) == (source["Handler"], "python3.13")
        assert (config["MemorySize"], config["Timeout"]) == (source["MemorySize"], source["Timeout"])
        assert config["Environment"]["Variables"]["MANIFEST_BUCKET"] == manifest_bucket
        assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()

    # Inline policies: what moto's CloudFormation made of the intrinsics equals our resolver's.
    stack = Stack.of(
        template,
        values,
        stack_name=stack_name,
        physical_ids={f: physical[f] for f in FUNCTIONS} | {"ManifestBucket": manifest_bucket},
    )
    for role in ROLES:
        # moto keeps a CloudFormation-made role policy as a dict and returns its Python repr.
        created = {
            name: ast.literal_eval(iam.get_role_policy(RoleName=physical[role], PolicyName=name)["PolicyDocument"])
            for name in iam.list_role_policies(RoleName=physical[role])["PolicyNames"]
        }
        ours = resolve(template["Resources"][role]["Properties"]["Policies"], stack)
        assert created == {p["PolicyName"]: p["PolicyDocument"] for p in ours}, role

    machine = sfn.describe_state_machine(stateMachineArn=physical["FanoutStateMachine"])
    assert machine["name"] == f"{stack_name}-fanout"
    assert machine["roleArn"] == role_arns["FanoutStateMachineRole"]
    definition = machine["definition"]
    assert "${" not in definition
    invoked = set(_values_of(json.loads(definition), "FunctionName"))
    assert invoked == set(function_arns.values())
    assert _values_of(json.loads(definition), "Bucket") == [manifest_bucket]

    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert outputs == {
        "StateMachineArn": machine["stateMachineArn"],
        "StateMachineName": machine["name"],
        **{f"{f}Name": physical[f] for f in FUNCTIONS},
        "ManifestBucket": manifest_bucket,
    }


def _values_of(node: Any, key: str) -> list[Any]:
    """Every value of ``key`` anywhere in a JSON document."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == key] + [x for v in node.values() for x in _values_of(v, key)]
    if isinstance(node, list):
        return [x for v in node for x in _values_of(v, key)]
    return []
