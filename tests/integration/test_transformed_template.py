"""IAM as deployed, not as written: template.yaml through the SAM translator (offline, the
aws-sam-cli venv that `make lint` builds), then the generated roles checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.transformed import transformed_template

ROOT = Path(__file__).resolve().parents[2]


def transformed(**parameters: str) -> dict[str, Any]:
    resources: dict[str, Any] = transformed_template(**parameters)["Resources"]
    return resources


def role_of(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return resources[f"{logical_id}Role"]["Properties"]


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of the role's inline policies, either branch of an Fn::If included."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Effect" in node and "Action" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(role.get("Policies", []))
    return found


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


FUNCTIONS = ("ListPrefixesFunction", "BuildManifestFunction", "MergeIndexFunction")
XRAY = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"


def test_with_tracing_the_state_machine_role_may_deliver_traces_and_the_functions_trace() -> None:
    resources = transformed(Tracing="Active")
    machine = statements(role_of(resources, "FanoutStateMachine"))
    assert any("xray:PutTraceSegments" in actions(s) for s in machine)
    for function in FUNCTIONS:
        assert XRAY in role_of(resources, function)["ManagedPolicyArns"]
        # The parameter itself (CloudFormation resolves it to Active on deploy).
        assert resources[function]["Properties"]["TracingConfig"] == {"Mode": {"Ref": "Tracing"}}


def test_without_tracing_no_role_holds_xray_and_no_function_traces() -> None:
    resources = transformed(Tracing="Disabled")
    for function in FUNCTIONS:
        assert XRAY not in role_of(resources, function)["ManagedPolicyArns"]
        assert "TracingConfig" not in resources[function]["Properties"]


def test_functions_that_read_run_documents_may_list_the_manifest_bucket_unconditionally() -> None:
    """Without s3:ListBucket, S3 answers a GET of a missing key 403, not 404: RunNotFound and
    a missing summary would read as AccessDenied."""
    resources = transformed()
    for function in ("BuildManifestFunction", "MergeIndexFunction"):
        listing = [s for s in statements(role_of(resources, function)) if "s3:ListBucket" in actions(s)]
        manifest = [s for s in listing if "ManifestBucket" in json.dumps(s["Resource"])]
        assert manifest, function
        assert all("Condition" not in s for s in manifest), function


def test_every_lambda_retrier_covers_client_execution_timeouts() -> None:
    definition = json.loads((ROOT / "statemachine" / "fanout.asl.json").read_text(encoding="utf-8"))
    retriers: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            retriers.extend(r for r in node.get("Retry", []) if any(e.startswith("Lambda.") for e in r["ErrorEquals"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(definition)
    assert len(retriers) == 4
    assert all("Lambda.ClientExecutionTimeoutException" in r["ErrorEquals"] for r in retriers)


def test_only_the_signer_may_decrypt_and_only_with_the_source_keys_given() -> None:
    resources = transformed(SourceKmsKeyArns="arn:aws:kms:us-east-1:111122223333:key/abc")
    granted = {
        function: [
            s
            for s in statements(role_of(resources, function))
            if any(a.startswith("kms:") for a in actions(s)) and s.get("Sid") != "ManifestBucketKey"
        ]
        for function in FUNCTIONS
    }
    assert granted["ListPrefixesFunction"] == granted["MergeIndexFunction"] == []
    (decrypt,) = granted["BuildManifestFunction"]
    assert actions(decrypt) == {"kms:Decrypt"}
    assert decrypt["Resource"] == {"Ref": "SourceKmsKeyArns"}
    # ... and only when keys are given: the statement sits under the HasSourceKmsKeys condition.
    policies = json.dumps(role_of(resources, "BuildManifestFunction")["Policies"])
    assert '"Fn::If": ["HasSourceKmsKeys"' in policies
    assert resources  # the condition itself is CloudFormation's, evaluated on deploy


def test_a_manifest_bucket_under_kms_gives_its_key_to_exactly_its_writers_and_readers() -> None:
    key = "arn:aws:kms:us-east-1:111122223333:key/manifest"
    resources = transformed(ManifestBucketName="existing-out", ManifestBucketKmsKeyArn=key)

    def manifest_key_actions(logical_id: str) -> set[str]:
        found = [s for s in statements(role_of(resources, logical_id)) if s.get("Sid") == "ManifestBucketKey"]
        assert all(s["Resource"] == {"Ref": "ManifestBucketKmsKeyArn"} for s in found)
        return set().union(*(actions(s) for s in found))

    # ListPrefixes only writes (plan, run record); the others also read, and multipart
    # uploads (parts, the Map's ResultWriter) need kms:Decrypt to complete.
    assert manifest_key_actions("ListPrefixesFunction") == {"kms:GenerateDataKey"}
    for reader in ("BuildManifestFunction", "MergeIndexFunction", "FanoutStateMachine"):
        assert manifest_key_actions(reader) == {"kms:GenerateDataKey", "kms:Decrypt"}, reader
        policies = json.dumps(role_of(resources, reader)["Policies"])
        assert '"Fn::If": ["HasManifestKmsKey"' in policies


def test_no_policy_names_a_partition_literally() -> None:
    """aws-cn and aws-us-gov deploy the same template: policies use ${AWS::Partition} or the
    partition wildcard *."""
    resources = transformed()
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Role":
            assert '"arn:aws:' not in json.dumps(resource["Properties"].get("Policies", [])), logical_id


def test_the_three_functions_share_one_dependency_layer() -> None:
    resources = transformed()
    functions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert len(functions) == 3
    layers = {name: r for name, r in resources.items() if r["Type"] == "AWS::Lambda::LayerVersion"}
    assert len(layers) == 1
    (layer_id,) = layers
    for function in functions.values():
        assert function["Properties"]["Layers"] == [{"Ref": layer_id}]
