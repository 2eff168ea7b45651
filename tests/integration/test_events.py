"""Every example event in events/ runs through its handler against moto server.

The events are what `sam local invoke -e events/<name>.json --env-vars events/env.json` sends;
docker-compose.yml seeds MinIO with events/sample-data/, and so does this test (into moto).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fanout_local.template import load_template
from s3fanout.handlers import build_manifest, list_prefixes, merge_index
from s3fanout.runtime import settings
from tests.support.flow import build_every_unit, run_handlers
from tests.support.lambda_context import FakeLambdaContext
from tests.support.s3_helpers import all_keys, http_get, read_jsonl

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SAMPLE_DATA = EVENTS / "sample-data"
HANDLED_EVENTS = {"list_prefixes.json", "build_manifest.json", "merge_index.json", "execution_input.json"}
FUNCTION_TYPE = "AWS::Serverless::Function"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def sample_objects() -> dict[str, bytes]:
    return {
        path.relative_to(SAMPLE_DATA).as_posix(): path.read_bytes() for path in SAMPLE_DATA.rglob("*") if path.is_file()
    }


def matching(prefix: str, suffix: str) -> dict[str, bytes]:
    return {
        key: body
        for key, body in sample_objects().items()
        if key.startswith(prefix) and key.casefold().endswith(suffix.casefold())
    }


def empty_and_delete(s3: Any, name: str) -> None:
    if name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        return
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", ()):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    keys = all_keys(s3, name)
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]})
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def env_json() -> dict[str, dict[str, str]]:
    return json.loads((EVENTS / "env.json").read_text(encoding="utf-8"))


@pytest.fixture
def demo_bucket(s3: Any, monkeypatch: pytest.MonkeyPatch, env_json: dict[str, dict[str, str]]) -> Iterator[str]:
    """demo-bucket seeded from events/sample-data/, configured the way env.json configures the functions."""
    name = load_event("merge_index.json")["bucket"]
    empty_and_delete(s3, name)
    s3.create_bucket(Bucket=name)
    for key, body in sample_objects().items():
        s3.put_object(Bucket=name, Key=key, Body=body)
    monkeypatch.setenv("MANIFEST_BUCKET", env_json["Parameters"]["MANIFEST_BUCKET"])
    settings.cache_clear()
    yield name
    empty_and_delete(s3, name)


def plan_units(s3: Any, plan: dict[str, Any]) -> list[dict[str, Any]]:
    return json.loads(s3.get_object(Bucket=plan["manifest_bucket"], Key=plan["plan_key"])["Body"].read())


def expected_units(prefix: str) -> list[str]:
    # The sample data is far under the default 5,000-key minimum unit: one key range.
    assert any(key.startswith(prefix) for key in sample_objects())
    return [prefix]


@pytest.fixture(autouse=True)
def default_unit_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example events describe a deployment's defaults, not the tests' tiny units."""
    from s3fanout import runtime

    monkeypatch.delenv("MIN_UNIT_KEYS", raising=False)
    runtime.settings.cache_clear()


def assert_part_fetches(s3: Any, manifest_bucket: str, part_key: str, expected: dict[str, bytes]) -> None:
    lines = read_jsonl(s3, manifest_bucket, part_key)
    assert sorted(line["key"] for line in lines) == sorted(expected)
    for line in lines:
        assert line["size"] == len(expected[line["key"]])
        assert http_get(line["url"]) == expected[line["key"]]


def test_every_event_file_is_exercised() -> None:
    files = {path.name for path in EVENTS.glob("*.json")} - {"env.json"}
    assert files == HANDLED_EVENTS


def test_sample_data_has_matching_and_non_matching_objects() -> None:
    event = load_event("build_manifest.json")
    under = {k for k in sample_objects() if k.startswith(event["prefix"])}
    assert set(matching(event["prefix"], event["suffix"])) < under


def test_list_prefixes_event(s3: Any, demo_bucket: str) -> None:
    event = load_event("list_prefixes.json")
    result = list_prefixes.lambda_handler(event, FakeLambdaContext())
    want = expected_units(event["prefix"])
    assert result["run_id"] == event["run_id"]
    assert result["units"] == len(want) > 0
    for field in ("bucket", "prefix", "suffix", "expires_in"):
        assert result[field] == event[field]
    assert result["plan_key"] == f"manifests/{event['run_id']}/plan.json"
    assert result["attempt"]
    units = plan_units(s3, result)
    assert [u["prefix"] for u in units] == want
    assert [u["unit"] for u in units] == list(range(len(want)))


def test_build_manifest_event(s3: Any, demo_bucket: str) -> None:
    plan = list_prefixes.lambda_handler(load_event("list_prefixes.json"), FakeLambdaContext())
    event = load_event("build_manifest.json")
    assert event["run_id"] == plan["run_id"]
    # The example event is one of the units the example plan produces.
    planned = {u["unit"]: u["prefix"] for u in plan_units(s3, plan)}
    assert planned[event["unit"]] == event["prefix"]

    result = build_manifest.lambda_handler(event, FakeLambdaContext())
    want = matching(event["prefix"], event["suffix"])
    assert result["count"] == len(want) > 0
    assert result["done"] is True
    assert result["next"] is None
    assert result["object_bytes"] == sum(len(body) for body in want.values())
    assert result["part_key"] == f"manifests/{event['run_id']}/parts/{event['unit']:05d}.jsonl"
    assert result["bytes"] == s3.head_object(Bucket=plan["manifest_bucket"], Key=result["part_key"])["ContentLength"]
    assert_part_fetches(s3, plan["manifest_bucket"], result["part_key"], want)
    lines = read_jsonl(s3, plan["manifest_bucket"], result["part_key"])
    assert all(f"X-Amz-Expires={event['expires_in']}" in line["url"] for line in lines)


def test_merge_index_event(s3: Any, demo_bucket: str) -> None:
    plan = list_prefixes.lambda_handler(load_event("list_prefixes.json"), FakeLambdaContext())
    # Hand-made BuildManifest events carry no attempt: the handler takes the run's.
    build_every_unit(s3, plan, with_attempt=False)

    event = load_event("merge_index.json")
    assert (event["run_id"], event["bucket"]) == (plan["run_id"], plan["bucket"])
    result = merge_index.lambda_handler(event, FakeLambdaContext())
    want = matching(plan["prefix"], plan["suffix"])
    assert result["run_id"] == event["run_id"]
    assert result["count"] == len(want) > 0
    assert result["parts"] == plan["units"]
    assert result["index_key"] == f"manifests/{event['run_id']}/index.json"
    index = json.loads(http_get(result["index_url"]))
    assert index["count"] == len(want)
    fetched: dict[str, bytes] = {}
    for part in index["parts"]:
        for line in (json.loads(raw) for raw in http_get(part["url"]).decode().splitlines()):
            fetched[line["key"]] = http_get(line["url"])
    assert fetched == want


def test_execution_input_event(s3: Any, demo_bucket: str) -> None:
    execution_input = load_event("execution_input.json")
    result = run_handlers(s3, execution_input, run_id="example-execution")
    want = matching(execution_input["prefix"], execution_input["suffix"])
    assert result["plan"]["max_concurrency"] == execution_input["max_concurrency"]
    assert [u["prefix"] for u in result["units"]] == expected_units(execution_input["prefix"])
    assert result["index"]["count"] == len(want) > 0
    assert f"X-Amz-Expires={execution_input['expires_in']}" in result["index"]["index_url"]
    index = json.loads(http_get(result["index"]["index_url"]))
    got: dict[str, bytes] = {}
    for part in index["parts"]:
        for line in (json.loads(raw) for raw in http_get(part["url"]).decode().splitlines()):
            got[line["key"]] = http_get(line["url"])
    assert got == want


# --- env.json and docker-compose.yml against template.yaml --------------------------------


def function_ids(template: dict[str, Any]) -> set[str]:
    return {name for name, res in template["Resources"].items() if res["Type"] == FUNCTION_TYPE}


def test_the_template_loader_understands_cloudformation_tags() -> None:
    template = load_template()
    assert template["Conditions"]["CreateManifestBucket"] == {"Fn::Equals": [{"Ref": "ManifestBucketName"}, ""]}
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["MANIFEST_BUCKET"] == {
        "Fn::If": ["CreateManifestBucket", {"Ref": "ManifestBucket"}, {"Ref": "ManifestBucketName"}]
    }
    assert len(function_ids(template)) == 3


def test_env_json_is_keyed_by_the_template_functions(env_json: dict[str, dict[str, str]]) -> None:
    assert set(env_json) == function_ids(load_template()) | {"Parameters"}


def test_env_json_points_every_function_at_local_minio(env_json: dict[str, dict[str, str]]) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    minio = compose["services"]["minio"]
    api_port = next(p.split(":")[0] for p in minio["ports"] if p.endswith(":9000"))
    bucket = load_event("merge_index.json")["bucket"]
    for name, variables in env_json.items():
        assert variables["S3_ENDPOINT_URL"] == f"http://host.docker.internal:{api_port}", name
        assert variables["AWS_ACCESS_KEY_ID"] == minio["environment"]["MINIO_ROOT_USER"], name
        assert variables["AWS_SECRET_ACCESS_KEY"] == minio["environment"]["MINIO_ROOT_PASSWORD"], name
        assert variables["MANIFEST_BUCKET"] == bucket, name
        assert variables["POWERTOOLS_TRACE_DISABLED"] == "true", name
        assert all(isinstance(value, str) for value in variables.values()), name
    # Every example event uses the bucket the compose job creates and seeds.
    seeding = "\n".join(compose["services"]["mc"]["command"])
    assert f"local/{bucket}" in seeding
    assert any(v.startswith("./events/sample-data:") for v in compose["services"]["mc"]["volumes"])
    for name in HANDLED_EVENTS:
        assert load_event(name)["bucket"] == bucket, name


def test_env_json_variables_are_declared_in_the_template(env_json: dict[str, dict[str, str]]) -> None:
    template = load_template()
    declared_globally = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for name, variables in env_json.items():
        declared = set(declared_globally)
        if name != "Parameters":
            props = template["Resources"][name]["Properties"]
            declared |= set(props.get("Environment", {}).get("Variables", {}))
        undeclared = {v for v in variables if not v.startswith("AWS_")} - declared
        assert not undeclared, f"{name}: {sorted(undeclared)}"
