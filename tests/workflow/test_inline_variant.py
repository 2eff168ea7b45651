"""The INLINE variant for Step Functions Local (``fanout render``) and ``fanout serve-lambda``.

The rendered variant runs on the embedded engine against the same data as the real
(Distributed) state machine and must build the same manifests; ``serve-lambda`` is driven
over HTTP the way Step Functions Local drives it; ``localdev/sfn-local.sh`` (``make
sfn-local``) runs end to end against a stand-in Step Functions endpoint, no Docker needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fanout_local.engine import PROJECT_ROOT, EmbeddedEngine, EngineConfig, ExecutionResult
from fanout_local.render import GENERATED_NOTE, ITEMS_PATH, RenderError, inline_variant, load_for_render, render
from fanout_local.synthetic import make_dataset, synthetic_body, upload_keys
from tests.conftest import free_port

MANIFESTS = "inline-manifests"
ASL_VALIDATOR = PROJECT_ROOT / "node_modules" / ".bin" / "asl-validator"


def rendered(**kwargs: Any) -> dict[str, Any]:
    return json.loads(render(load_for_render(PROJECT_ROOT), **kwargs))


def distributed_leftovers(node: Any, path: str = "$") -> list[str]:
    """Distributed-only fields, DISTRIBUTED values and unfilled ${...} (comments may name them)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("ItemReader", "ResultWriter", "ItemBatcher"):
                found.append(f"{path}.{key}")
            if key != "Comment":
                found += distributed_leftovers(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += distributed_leftovers(value, f"{path}[{i}]")
    elif isinstance(node, str) and (node == "DISTRIBUTED" or "${" in node):
        found.append(f"{path}={node}")
    return found


# -- the rendered definition -------------------------------------------------------------------
def test_rendered_variant_is_the_real_asl_with_an_inline_map() -> None:
    original = json.loads(load_for_render(PROJECT_ROOT).definition())
    variant = rendered()

    assert distributed_leftovers(variant) == []
    assert variant["Comment"].startswith(GENERATED_NOTE)
    assert variant["StartAt"] == original["StartAt"]
    assert set(variant["States"]) == set(original["States"])
    mapped = variant["States"]["BuildManifests"]
    assert mapped["ItemsPath"] == ITEMS_PATH
    assert mapped["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert mapped["ResultPath"] is None
    assert mapped["MaxConcurrency"] == 10  # template.yaml's DefaultMaxConcurrency
    assert "MaxConcurrencyPath" not in mapped
    assert mapped["ItemSelector"] == original["States"]["BuildManifests"]["ItemSelector"]
    assert mapped["Catch"] == original["States"]["BuildManifests"]["Catch"]
    inner = original["States"]["BuildManifests"]["ItemProcessor"]["States"]
    assert set(mapped["ItemProcessor"]["States"]) == set(inner)
    for name in ("ListPrefixes", "MergeIndex"):
        assert variant["States"][name]["Parameters"] == original["States"][name]["Parameters"]
        assert variant["States"][name]["Parameters"]["FunctionName"] == (
            f"arn:aws:lambda:us-east-1:123456789012:function:{name}Function"
        )
        assert all("JitterStrategy" not in r for r in variant["States"][name]["Retry"])
    for name in ("RunFailed", "StepFailed", "WorkflowFailed"):
        assert variant["States"][name] == original["States"][name]


def test_legacy_map_fields_and_fixed_concurrency() -> None:
    mapped = rendered(max_concurrency=3, legacy_map_fields=True)["States"]["BuildManifests"]

    assert mapped["MaxConcurrency"] == 3
    assert "ItemProcessor" not in mapped
    assert "ItemSelector" not in mapped
    assert "ProcessorConfig" not in mapped["Iterator"]
    assert mapped["Parameters"]["unit.$"] == "$$.Map.Item.Value.unit"


def test_a_map_the_inline_form_cannot_express_is_refused() -> None:
    definition = json.loads(load_for_render(PROJECT_ROOT).definition())
    definition["States"]["BuildManifests"]["ToleratedFailurePercentage"] = 5

    with pytest.raises(RenderError, match="ToleratedFailurePercentage"):
        inline_variant(definition, max_concurrency=None)
    with pytest.raises(RenderError, match="unknown target"):
        render(load_for_render(PROJECT_ROOT), "localstack")


@pytest.mark.parametrize("extra", [[], ["--legacy-map-fields"]], ids=["item-processor", "legacy"])
def test_fanout_render_writes_a_definition_asl_validator_accepts(tmp_path: Path, extra: list[str]) -> None:
    out = tmp_path / "fanout-inline.asl.json"
    subprocess.run(
        [sys.executable, "-m", "fanout_local.cli", "render", "--target", "stepfunctions-local", "-o", str(out), *extra],
        check=True,
        capture_output=True,
    )
    assert distributed_leftovers(json.loads(out.read_text(encoding="utf-8"))) == []
    if not ASL_VALIDATOR.exists():
        pytest.skip("node_modules/.bin/asl-validator is not installed (npm ci)")
    checked = subprocess.run([str(ASL_VALIDATOR), "--json-path", str(out)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# -- on the embedded engine --------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """One S3 for both variants' engines (each engine alone would start its own)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(endpoint, process)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for_http(url: str, process: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args} exited with {process.returncode}"
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on {url} within {timeout} s")


def engine_for(s3_endpoint: str, log: Any, definition: str | None) -> EmbeddedEngine:
    return EmbeddedEngine(
        EngineConfig(
            manifest_bucket=MANIFESTS,
            s3_endpoint=s3_endpoint,
            definition=definition,
            # INLINE_PLAN also proves the distributed run ignores it; 2-key units: several units.
            extra_function_env={"INLINE_PLAN": "true", "MIN_UNIT_KEYS": "2"},
            log=log,
        )
    )


def manifests_of(s3: Any, result: ExecutionResult) -> dict[str, Any]:
    """prefix -> (count, keys) for every part of the run's index."""
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    index = json.loads(s3.get_object(Bucket=MANIFESTS, Key=result.output["index_key"])["Body"].read())
    parts: dict[str, Any] = {}
    for part in index["parts"]:
        body = s3.get_object(Bucket=MANIFESTS, Key=part["key"])["Body"].read().decode()
        keys = [json.loads(line)["key"] for line in body.splitlines()]
        assert len(keys) == part["count"]
        parts[part["key"].rsplit("/parts/", 1)[1]] = (part["count"], keys)
    assert index["count"] == sum(count for count, _ in parts.values())
    return parts


def test_inline_variant_builds_the_same_manifests_as_the_distributed_map(s3_endpoint: str) -> None:
    dataset = make_dataset(objects=240, prefixes=4)
    execution_input = {"bucket": "inline-src", "suffix": ".pdf", "expires_in": 600}
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        with engine_for(s3_endpoint, log, None) as distributed:
            s3 = distributed.s3_client()
            s3.create_bucket(Bucket=MANIFESTS)
            s3.create_bucket(Bucket="inline-src")
            upload_keys(s3, "inline-src", dataset.keys, synthetic_body)
            by_map = manifests_of(s3, distributed.run(execution_input, name="inline-cmp-distributed"))
        with engine_for(s3_endpoint, log, render(load_for_render(PROJECT_ROOT))) as inline:
            result = inline.run(execution_input, name="inline-cmp-inline")
            by_inline = manifests_of(inline.s3_client(), result)
            lister = next(i for i in result.invocations if i.function == "ListPrefixesFunction")

    assert len(lister.result["plan"]) == lister.result["units"] == len(by_inline)
    assert by_inline == by_map
    assert sorted(k for _, keys in by_inline.values() for k in keys) == sorted(dataset.matching)
    assert result.output["count"] == len(dataset.matching)


def test_a_failed_build_fails_the_inline_execution_and_publishes_no_index(s3_endpoint: str) -> None:
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as log,
        engine_for(s3_endpoint, log, render(load_for_render(PROJECT_ROOT))) as inline,
    ):
        s3 = inline.s3_client()
        s3.create_bucket(Bucket=MANIFESTS)
        s3.create_bucket(Bucket="inline-doomed")
        upload_keys(s3, "inline-doomed", ["a/1.pdf", "b/2.pdf"], synthetic_body)

        def delete_source_after_planning(invocation: Any) -> None:
            # Runs before ListPrefixes' response reaches the interpreter: every BuildManifest
            # then meets a missing bucket.
            if invocation.function == "ListPrefixesFunction":
                for key in ("a/1.pdf", "b/2.pdf"):
                    s3.delete_object(Bucket="inline-doomed", Key=key)
                s3.delete_bucket(Bucket="inline-doomed")

        inline.add_observer(delete_source_after_planning)
        result = inline.run({"bucket": "inline-doomed"}, name="inline-fail")
        written = s3.list_objects_v2(Bucket=MANIFESTS, Prefix="manifests/inline-fail/").get("Contents", [])

    assert result.status == "FAILED"
    assert "BucketNotFound" in f"{result.error} {result.cause}"
    assert any(i.function == "BuildManifestFunction" and i.error for i in result.invocations)
    assert not any(i.function == "MergeIndexFunction" for i in result.invocations)
    assert "manifests/inline-fail/index.json" not in {obj["Key"] for obj in written}


# -- fanout serve-lambda over HTTP -------------------------------------------------------------
def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def serve_lambda(moto_endpoint: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = start(
        ["fanout_local.cli", "serve-lambda", "--port", str(port), "--s3-endpoint", moto_endpoint],
        dict(os.environ),
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith(f"Lambda Invoke API on http://127.0.0.1:{port}"), first
        yield f"http://127.0.0.1:{port}", process
    finally:
        stop(process)


def invoke(url: str, function: str, event: Any) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        f"{url}/2015-03-31/functions/{function}/invocations", data=json.dumps(event).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, dict(response.headers), json.loads(response.read())


def test_serve_lambda_answers_invocations_like_sam_local_start_lambda(
    serve_lambda: tuple[str, subprocess.Popen[str]], s3: Any, bucket: str
) -> None:
    url, process = serve_lambda
    upload_keys(s3, bucket, ["a/1.pdf", "b/2.pdf", "top.pdf"], synthetic_body)

    status, headers, planned = invoke(url, "ListPrefixesFunction", {"bucket": bucket})
    first_request_id = headers["x-amzn-RequestId"]
    assert status == 200
    assert "X-Amz-Function-Error" not in headers
    assert planned["units"] == len(planned["plan"]) >= 1  # INLINE_PLAN is on
    assert planned["plan"][0]["start_after"] is None
    assert planned["plan"][-1]["end_key"] is None

    # Step Functions Local names the function by its ARN, URL-encoded.
    arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3AListPrefixesFunction"
    status, headers, failed = invoke(url, arn, {"bucket": bucket, "surprise": 1})
    assert status == 200
    assert headers["X-Amz-Function-Error"] == "Unhandled"
    assert failed["errorType"] == "InvalidInput"
    assert "surprise" in failed["errorMessage"]

    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(3)]
    assert lines[0].startswith(f"[ListPrefixesFunction] REPORT RequestId: {first_request_id}\t"), lines
    assert "Init Duration" in lines[0]  # the first invocation was a cold start
    assert lines[1].startswith("[ListPrefixesFunction] ERROR InvalidInput: surprise=1"), lines
    assert lines[2].startswith("[ListPrefixesFunction] REPORT RequestId: "), lines
    assert "Init Duration" not in lines[2]  # the second one was warm


# -- make sfn-local (localdev/sfn-local.sh) without Docker -------------------------------------
@pytest.mark.skipif(shutil.which("aws") is None, reason="needs the aws CLI")
def test_sfn_local_script_runs_the_inline_variant_end_to_end(
    serve_lambda: tuple[str, subprocess.Popen[str]], moto_endpoint: str, s3: Any, bucket: str, tmp_path: Path
) -> None:
    """Step Functions Local stands in as moto's interpreter behind HTTP; the rest is what
    the Docker path runs: the script, the aws CLI, the rendered definition, serve-lambda."""
    lambda_url, _ = serve_lambda
    upload_keys(s3, bucket, ["a/1.pdf", "a/2.pdf", "b/3.pdf", "b/skip.txt"], synthetic_body)
    port = free_port()
    stand_in = start(
        ["tests.support.sfn_stand_in", "--port", str(port), "--lambda-endpoint", lambda_url], dict(os.environ)
    )
    try:
        assert stand_in.stdout is not None
        assert stand_in.stdout.readline().startswith("stepfunctions on"), "stand-in did not start"
        env = {
            **os.environ,
            "SFN_ENDPOINT": f"http://127.0.0.1:{port}",
            "FANOUT": str(Path(sys.executable).with_name("fanout")),
            "BUCKET": bucket,
            "NAME": "sfn-local-script",
            "DEFINITION": str(tmp_path / "fanout-inline.asl.json"),
            "TIMEOUT": "240",
        }
        done = subprocess.run(
            [str(PROJECT_ROOT / "localdev" / "sfn-local.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        stop(stand_in)

    assert done.returncode == 0, done.stderr
    assert "status: SUCCEEDED" in done.stderr
    output = json.loads(done.stdout)
    assert output["run_id"] == "sfn-local-script"
    assert output["count"] == 3
    with urllib.request.urlopen(output["index_url"], timeout=30) as response:
        assert json.loads(response.read())["count"] == 3
