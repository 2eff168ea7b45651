"""Security and wiring properties of template.yaml that cfn-lint and sam validate do not check."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fanout_local.asl_substitute import PLACEHOLDER, load_template, render

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
ASL_PATH = ROOT / "statemachine" / "fanout.asl.json"
FUNCTIONS = {
    "ListPrefixesFunction": "s3fanout.handlers.list_prefixes.lambda_handler",
    "BuildManifestFunction": "s3fanout.handlers.build_manifest.lambda_handler",
    "MergeIndexFunction": "s3fanout.handlers.merge_index.lambda_handler",
}
SUBSTITUTIONS = {
    "ListPrefixesFunctionArn",
    "BuildManifestFunctionArn",
    "MergeIndexFunctionArn",
    "Partition",
    "ManifestBucketName",
    "ManifestPrefix",
}
MANIFEST_BUCKET = {"Fn::If": ["CreateManifestBucket", {"Ref": "ManifestBucket"}, {"Ref": "ManifestBucketName"}]}
MANIFEST_OBJECTS = {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}/manifests/*", {"Bucket": MANIFEST_BUCKET}]}
MANIFEST_BUCKET_ARN = {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}", {"Bucket": MANIFEST_BUCKET}]}
MACHINE_NAME = "${AWS::StackName}-fanout"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


def statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The inline statements of a SAM resource's Policies (policy templates are skipped)."""
    found: list[dict[str, Any]] = []
    for listed in resource["Properties"].get("Policies", []):
        # A conditional policy: the statements granted when the condition holds.
        policy = listed["Fn::If"][1] if isinstance(listed, dict) and "Fn::If" in listed else listed
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(policy["Statement"])
    return found


SIGNING_SECRET = {"Ref": "SigningSecretArn"}
SOURCE_KMS_KEYS = {"Ref": "SourceKmsKeyArns"}
MANIFEST_KMS_KEY = {"Ref": "ManifestBucketKmsKeyArn"}


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def resolve(value: Any, source_buckets: list[str]) -> Any:
    """Evaluate the intrinsics used in resource ARNs (aws partition, the given source buckets)."""
    if isinstance(value, list):
        return [resolve(v, source_buckets) for v in value]
    if not isinstance(value, dict):
        return value
    ((key, arg),) = value.items()
    if key == "Ref":
        return {"SourceBucketNames": source_buckets, "AWS::Partition": "aws"}[arg]
    if key == "Fn::Join":
        return arg[0].join(resolve(arg[1], source_buckets))
    if key == "Fn::Split":
        return resolve(arg[1], source_buckets).split(arg[0])
    if key == "Fn::Sub" and isinstance(arg, str):
        return arg.replace("${AWS::Partition}", "aws")
    raise AssertionError(f"unexpected intrinsic {key} in {value!r}")


# -- manifest bucket ------------------------------------------------------------------------


def test_manifest_bucket_blocks_all_public_access(resources: dict[str, Any]) -> None:
    bucket = resources["ManifestBucket"]
    assert bucket["Condition"] == "CreateManifestBucket"
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["Properties"]["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_manifest_bucket_is_encrypted(resources: dict[str, Any]) -> None:
    rules = resources["ManifestBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rules
    assert all(r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"} for r in rules)


def test_manifest_bucket_policy_denies_plain_http(resources: dict[str, Any]) -> None:
    policy = resources["ManifestBucketPolicy"]
    assert policy["Condition"] == "CreateManifestBucket"
    assert policy["Properties"]["Bucket"] == {"Ref": "ManifestBucket"}
    denies = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(denies) == 1
    (deny,) = denies
    assert deny["Principal"] == "*"
    assert actions(deny) == ["s3:*"]
    assert deny["Resource"] == [
        {"Fn::GetAtt": ["ManifestBucket", "Arn"]},
        {"Fn::Sub": "${ManifestBucket.Arn}/*"},
    ]


def test_manifest_bucket_expires_manifests_and_aborts_uploads(resources: dict[str, Any]) -> None:
    rules = resources["ManifestBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(r["Status"] == "Enabled" for r in rules)
    expiring = [r for r in rules if "ExpirationInDays" in r]
    assert len(expiring) == 1
    assert expiring[0]["Prefix"] == "manifests/"
    assert expiring[0]["ExpirationInDays"] == {"Ref": "ManifestRetentionDays"}
    aborting = [r for r in rules if "AbortIncompleteMultipartUpload" in r]
    assert aborting
    assert all(r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1 for r in aborting)


def test_parameters(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["SourceBucketNames"]["Type"] == "CommaDelimitedList"
    assert params["ManifestBucketName"]["Default"] == ""
    assert template["Conditions"]["CreateManifestBucket"] == {"Fn::Equals": [{"Ref": "ManifestBucketName"}, ""]}
    for name in ("DefaultMaxConcurrency", "UrlExpirySeconds", "ManifestRetentionDays"):
        assert params[name]["Type"] == "Number"
        assert "Default" in params[name]
    assert params["UrlExpirySeconds"]["MaxValue"] == 604_800  # SigV4 presigned URLs live at most 7 days
    assert set(params["LogLevel"]["AllowedValues"]) >= {"DEBUG", "INFO", "WARNING", "ERROR"}


# -- functions --------------------------------------------------------------------------------


def test_functions_run_python313_on_arm64(template: dict[str, Any], resources: dict[str, Any]) -> None:
    globals_fn = template["Globals"]["Function"]
    assert globals_fn["Runtime"] == "python3.13"
    assert globals_fn["Architectures"] == ["arm64"]
    assert globals_fn["CodeUri"] == "functions/"
    # No requirements.txt beside the code: sam build would copy the dependencies into each function.
    assert not (ROOT / "functions" / "requirements.txt").exists()
    assert (ROOT / "dependencies" / "requirements.txt").is_file()
    assert globals_fn["Layers"] == [{"Ref": "DependenciesLayer"}]
    layer = resources["DependenciesLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert "manylinux2014_aarch64" in (ROOT / "dependencies" / "Makefile").read_text()
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == set(FUNCTIONS)
    for name, handler in FUNCTIONS.items():
        props = functions[name]["Properties"]
        assert props["Handler"] == handler
        assert functions[name]["Metadata"]["BuildMethod"] == "makefile"
        assert props.get("Runtime", "python3.13") == "python3.13"
        assert props.get("Architectures", ["arm64"]) == ["arm64"]
        assert props.get("CodeUri", "functions/") == "functions/"
        module = handler.rsplit(".", 1)[0].replace(".", "/")
        assert (ROOT / "functions" / f"{module}.py").is_file()


def test_function_environment(template: dict[str, Any]) -> None:
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["MANIFEST_BUCKET"] == MANIFEST_BUCKET
    assert env["MANIFEST_PREFIX"] == "manifests"
    assert env["URL_EXPIRY_SECONDS"] == {"Ref": "UrlExpirySeconds"}
    assert env["DEFAULT_MAX_CONCURRENCY"] == {"Ref": "DefaultMaxConcurrency"}
    assert env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"  # responses carry presigned URLs


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_policies_write_only_under_manifests(resources: dict[str, Any], name: str) -> None:
    function = resources[name]
    policies = function["Properties"]["Policies"]
    assert [p for p in policies if not (isinstance(p, dict) and ("Statement" in p or "Fn::If" in p))] == []
    for statement in statements(function):
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] != "*"
        if statement["Resource"] == SIGNING_SECRET:
            assert actions(statement) == ["secretsmanager:GetSecretValue"]
            continue
        if statement["Resource"] == SOURCE_KMS_KEYS:
            assert (name, actions(statement)) == ("BuildManifestFunction", ["kms:Decrypt"])
            continue
        if statement["Resource"] == MANIFEST_KMS_KEY:  # the run documents' bucket key, nothing else
            assert set(actions(statement)) <= {"kms:GenerateDataKey", "kms:Decrypt"}
            continue
        for action in actions(statement):
            assert action.startswith("s3:")
            assert "*" not in action
            if not action.startswith(("s3:Get", "s3:List")):
                assert statement["Resource"] == MANIFEST_OBJECTS, f"{name}: {action} outside manifests/*"


def test_source_buckets_are_read_only(resources: dict[str, Any]) -> None:
    buckets = ["alpha", "beta.data"]
    grants: dict[str, dict[str, list[str]]] = {}
    for name in FUNCTIONS:
        for statement in statements(resources[name]):
            if statement["Resource"] in (
                MANIFEST_OBJECTS,
                MANIFEST_BUCKET_ARN,
                SIGNING_SECRET,
                SOURCE_KMS_KEYS,
                MANIFEST_KMS_KEY,
            ):
                continue
            arns = resolve(statement["Resource"], buckets)
            for action in actions(statement):
                grants.setdefault(name, {})[action] = arns
    bucket_arns = ["arn:*:s3:::alpha", "arn:*:s3:::beta.data"]
    object_arns = ["arn:*:s3:::alpha/*", "arn:*:s3:::beta.data/*"]
    assert grants == {
        "ListPrefixesFunction": {"s3:ListBucket": bucket_arns},
        "BuildManifestFunction": {"s3:ListBucket": bucket_arns, "s3:GetObject": object_arns},
    }
    # One bucket works too.
    one = next(s for s in statements(resources["BuildManifestFunction"]) if actions(s) == ["s3:GetObject"])
    assert resolve(one["Resource"], ["solo"]) == ["arn:*:s3:::solo/*"]


def test_run_readers_may_list_the_manifest_bucket_and_nothing_more(resources: dict[str, Any]) -> None:
    # Unconditional: S3 checks ListBucket (no s3:prefix in a GET's context) to answer a
    # missing key 404 rather than 403.
    for function in ("BuildManifestFunction", "MergeIndexFunction"):
        listing = [s for s in statements(resources[function]) if s["Resource"] == MANIFEST_BUCKET_ARN]
        assert [actions(s) for s in listing] == [["s3:ListBucket"]], function
        assert all("Condition" not in s for s in listing)


# -- state machine ------------------------------------------------------------------------------


def test_state_machine_has_fixed_name_and_substitutions(resources: dict[str, Any]) -> None:
    machine = resources["FanoutStateMachine"]
    assert machine["Type"] == "AWS::Serverless::StateMachine"
    props = machine["Properties"]
    assert props["Name"] == {"Fn::Sub": MACHINE_NAME}
    assert props["DefinitionUri"] == "statemachine/fanout.asl.json"
    subs = props["DefinitionSubstitutions"]
    assert set(subs) == SUBSTITUTIONS
    for fn in FUNCTIONS:
        assert subs[f"{fn}Arn"] == {"Fn::GetAtt": [fn, "Arn"]}
    assert subs["ManifestBucketName"] == MANIFEST_BUCKET
    assert subs["ManifestPrefix"] == "manifests"
    assert subs["Partition"] == {"Ref": "AWS::Partition"}  # no arn:aws: spelled out in the ASL
    assert "arn:aws:" not in ASL_PATH.read_text(encoding="utf-8")


def test_asl_placeholders_match_substitutions(resources: dict[str, Any]) -> None:
    used = set(PLACEHOLDER.findall(ASL_PATH.read_text(encoding="utf-8")))
    assert used == set(resources["FanoutStateMachine"]["Properties"]["DefinitionSubstitutions"])
    rendered = json.loads(render(TEMPLATE_PATH, ASL_PATH))
    assert not PLACEHOLDER.search(json.dumps(rendered))


def test_state_machine_policy(resources: dict[str, Any]) -> None:
    props = resources["FanoutStateMachine"]["Properties"]
    invoked = {p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in props["Policies"] if "LambdaInvokePolicy" in p}
    assert invoked == set(FUNCTIONS)
    by_action: dict[str, Any] = {}
    for statement in statements(resources["FanoutStateMachine"]):
        assert statement["Effect"] == "Allow"
        for action in actions(statement):
            by_action[action] = statement["Resource"]
    # X-Ray (which has no resource-level permissions) only under the TracingOn condition, the
    # manifest bucket's KMS key only under HasManifestKmsKey.
    conditional = {p["Fn::If"][0]: p["Fn::If"] for p in props["Policies"] if "Fn::If" in p}
    assert set(conditional) == {"TracingOn", "HasManifestKmsKey"}
    assert all(branches[2] == {"Ref": "AWS::NoValue"} for branches in conditional.values())
    kms = {a for a in by_action if a.startswith("kms:")}
    assert kms == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert all(by_action.pop(a) == MANIFEST_KMS_KEY for a in kms)
    xray = {a for a in by_action if a.startswith("xray:")}
    assert xray == {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }
    for action in xray:
        del by_action[action]
    arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
    assert by_action["states:StartExecution"] == {"Fn::Sub": f"{arn}:stateMachine:{MACHINE_NAME}"}
    assert by_action["states:DescribeExecution"] == {"Fn::Sub": f"{arn}:execution:{MACHINE_NAME}/*"}
    assert by_action["states:StopExecution"] == {"Fn::Sub": f"{arn}:execution:{MACHINE_NAME}/*"}
    for action in ("s3:GetObject", "s3:PutObject"):  # ItemReader, ResultWriter
        assert by_action[action] == MANIFEST_OBJECTS
    s3_actions = {a for a in by_action if a.startswith("s3:")}
    assert all(by_action[a] == MANIFEST_OBJECTS for a in s3_actions)
    # Only CloudWatch Logs delivery, which has no resource-level permissions, gets "*".
    assert {a for a, r in by_action.items() if r == "*"} <= {a for a in by_action if a.startswith("logs:")}
    if props.get("Logging"):
        assert "logs:CreateLogDelivery" in by_action
        assert props["Logging"].get("IncludeExecutionData") is False  # execution data holds presigned URLs


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["StateMachineArn"]["Value"] == {"Ref": "FanoutStateMachine"}
    for fn in FUNCTIONS:
        assert outputs[f"{fn}Name"]["Value"] == {"Ref": fn}
    assert outputs["ManifestBucket"]["Value"] == MANIFEST_BUCKET


def test_no_hardcoded_account_or_region(template: dict[str, Any]) -> None:
    text = json.dumps(template)
    assert not re.search(r"\b\d{12}\b", text)
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af)-[a-z]+-\d\b", text)


def test_the_signing_secret_is_readable_only_when_configured(
    resources: dict[str, Any], template: dict[str, Any]
) -> None:
    assert template["Conditions"]["HasSigningSecret"] == {"Fn::Not": [{"Fn::Equals": [SIGNING_SECRET, ""]}]}
    for name in FUNCTIONS:
        conditional = [
            p["Fn::If"]
            for p in resources[name]["Properties"]["Policies"]
            if "Fn::If" in p and p["Fn::If"][0] == "HasSigningSecret"
        ]
        if name == "ListPrefixesFunction":
            assert conditional == []  # it presigns nothing
            continue
        assert len(conditional) == 1
        condition, granted, otherwise = conditional[0]
        assert condition == "HasSigningSecret"
        assert otherwise == {"Ref": "AWS::NoValue"}
        assert granted["Statement"] == [
            {
                "Sid": "ReadSigningIdentity",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": SIGNING_SECRET,
            }
        ]


def test_tracing_can_be_turned_off_everywhere_at_once(template: dict[str, Any], resources: dict[str, Any]) -> None:
    assert template["Parameters"]["Tracing"]["Default"] == "Active"
    assert template["Conditions"]["TracingOn"] == {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]}
    function = template["Globals"]["Function"]
    # The parameter (Active | Disabled) itself: SAM resolves it at transform time (see
    # tests/integration/test_transformed_template.py for the roles it then generates).
    assert function["Tracing"] == {"Ref": "Tracing"}
    # the handlers skip importing the X-Ray SDK when this says true
    assert function["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingOn", "false", "true"]
    }
    assert resources["FanoutStateMachine"]["Properties"]["Tracing"] == {
        "Enabled": {"Fn::If": ["TracingOn", True, False]}
    }
