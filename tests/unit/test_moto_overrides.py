"""Guards the moto internals fanout_local.moto_overrides relies on (the model: aiobotocore's
tests/test_patches.py), and checks what the override does.

If the pinned moto (requirements-dev.txt) changes any of that code, the digest test fails
with the name of what changed: re-read it, check the override still holds (this file's other
tests and tests/workflow exercise it), then update the digest here.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator

import jsonpath_ng
import jsonpath_ng.ext
import pytest
from botocore.exceptions import ResponseStreamingError
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as item_reader_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as result_writer_s3,
)
from moto.stepfunctions.parser.asl.utils import boto_client, json_path

from fanout_local import moto_overrides
from fanout_local.template import PROJECT_ROOT
from tests.support.hash_guard import source_digest

# name -> (object, sha1 of its source) for the pinned moto.
GUARDED = {
    # builds a client per call with boto_client.boto3.client(service_name=..., config=Config(...)):
    # the name InterpreterClients replaces, the same Config every time (not part of the cache key)
    "moto...asl.utils.boto_client.boto_client_for": (
        boto_client.boto_client_for,
        "fd55017c1d8b885769ac2f82e488824fd588b30e",
    ),
    # the ItemReader: get_object(...) through boto_client_for, then reads ["Body"] itself (the
    # read _RereadBodies retries, since botocore does not)
    "moto...item_reader.eval.resource_eval_s3.ResourceEvalS3._handle_get_object": (
        item_reader_s3.ResourceEvalS3._handle_get_object,
        "5d92adf366ed694dfc9490965419e82e556b7d8b",
    ),
    # the ResultWriter: one put_object through boto_client_for (retried by S3_CONFIG)
    "moto...result_writer.resource_eval.resource_eval_s3.ResourceEvalS3._handle_put_object": (
        result_writer_s3.ResourceEvalS3._handle_put_object,
        "1a4bc3b73dd8c6e790a9afa2d25ec35e1b227ed6",
    ),
    # parses its path with json_path.parse on every call: the name the JSONPath cache replaces
    "moto...asl.utils.json_path.extract_json": (
        json_path.extract_json,
        "6315a8a7efc47cd852f5fdabcb03f8130b2a8c48",
    ),
    # parses the state's ResultPath with result_path.parse on every evaluation: cached too
    "moto...asl.component.common.path.result_path.ResultPath._eval_body": (
        result_path.ResultPath._eval_body,
        "77e3504ea96141e5e58268e431065bad1867d6a4",
    ),
}


@pytest.mark.parametrize("name", sorted(GUARDED))
def test_guarded_moto_code_is_unchanged(name: str) -> None:
    obj, expected = GUARDED[name]
    assert source_digest(obj) == expected, f"{name} changed in the pinned moto: re-check fanout_local.moto_overrides"


def test_the_names_replaced_are_what_moto_calls() -> None:
    assert json_path.parse is jsonpath_ng.ext.parse
    assert result_path.parse is jsonpath_ng.parse
    assert "parse(self.result_path_src)" in inspect.getsource(result_path.ResultPath._eval_body)
    assert "boto3.client(" in inspect.getsource(boto_client.boto_client_for)
    assert "parse(path)" in inspect.getsource(json_path.extract_json)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")
    restore = moto_overrides.install({"aws_access_key_id": "caller", "aws_secret_access_key": "secret"})
    yield
    restore()


@pytest.mark.usefixtures("installed")
def test_the_interpreter_gets_one_client_per_service_and_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    first = boto_client.boto_client_for(region="us-east-1", service="lambda")
    assert boto_client.boto_client_for(region="us-east-1", service="lambda") is first
    assert first.meta.config.max_pool_connections == moto_overrides.MAX_POOL_CONNECTIONS
    # moto's own Config for Lambda: one attempt, errors go to the definition's Retry
    assert first.meta.config.retries["total_max_attempts"] == 1

    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:10")
    other = boto_client.boto_client_for(region="us-east-1", service="lambda")
    assert other is not first  # another engine's endpoint: AWS_ENDPOINT_URL_* is read per client


@pytest.mark.usefixtures("installed")
def test_s3_calls_are_signed_with_the_callers_credentials() -> None:
    s3 = boto_client.boto_client_for(region="us-east-1", service="s3")
    lambda_ = boto_client.boto_client_for(region="us-east-1", service="lambda")

    assert s3._request_signer._credentials.access_key == "caller"
    assert lambda_._request_signer._credentials.access_key == "ak"  # moto's dummy key elsewhere


@pytest.mark.usefixtures("installed")
def test_s3_calls_are_retried_bounded_with_timeouts() -> None:
    s3 = boto_client.boto_client_for(region="us-east-1", service="s3")
    config = s3.meta.config

    assert config.retries == {"mode": "standard", "total_max_attempts": 8}  # not moto's single attempt
    assert (config.connect_timeout, config.read_timeout) == (5, 30)  # not moto's 99999999 s
    assert config.max_pool_connections == moto_overrides.MAX_POOL_CONNECTIONS
    assert s3.meta.events is not None  # the rest of the client shows through the wrapper


class _Body:
    def __init__(self, outcome: bytes | Exception) -> None:
        self.outcome = outcome

    def read(self) -> bytes:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class _FlakyS3:
    """get_object whose bodies break mid-transfer ``breaks`` times, then arrive."""

    def __init__(self, breaks: int) -> None:
        self.breaks = breaks
        self.calls = 0

    def get_object(self, **_kwargs: object) -> dict[str, object]:
        self.calls += 1
        cut = ResponseStreamingError(error="Connection broken: IncompleteRead")
        return {"Body": _Body(cut if self.calls <= self.breaks else b'[{"unit": 0}]')}


def test_a_body_cut_mid_transfer_is_fetched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_overrides.time, "sleep", lambda _seconds: None)
    flaky = _FlakyS3(breaks=moto_overrides.BODY_ATTEMPTS - 1)

    response = moto_overrides._RereadBodies(flaky).get_object(Bucket="b", Key="plan.json")

    assert response["Body"].read() == b'[{"unit": 0}]'
    assert flaky.calls == moto_overrides.BODY_ATTEMPTS


def test_a_body_that_never_arrives_fails_after_bounded_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_overrides.time, "sleep", lambda _seconds: None)
    flaky = _FlakyS3(breaks=moto_overrides.BODY_ATTEMPTS)

    with pytest.raises(ResponseStreamingError):
        moto_overrides._RereadBodies(flaky).get_object(Bucket="b", Key="plan.json")
    assert flaky.calls == moto_overrides.BODY_ATTEMPTS


@pytest.mark.usefixtures("installed")
def test_json_paths_are_parsed_once_and_still_evaluate() -> None:
    assert json_path.parse("$.a.b") is json_path.parse("$.a.b")
    assert json_path.extract_json("$.a.b", {"a": {"b": 3}}) == 3
    assert json_path.extract_json("$.items[*].k", {"items": [{"k": 1}, {"k": 2}]}) == [1, 2]
    assert result_path.parse("$.r") is result_path.parse("$.r")
    # a ResultPath updates its data, not the parsed path: the same result twice
    for _ in range(2):
        assert result_path.parse("$.r").update_or_create({"a": 1}, {"x": 2}) == {"a": 1, "r": {"x": 2}}


def test_restore_puts_moto_back() -> None:
    real = (boto_client.boto3, json_path.parse, result_path.parse)
    restore = moto_overrides.install()
    assert boto_client.boto3 is not real[0]
    restore()
    assert (boto_client.boto3, json_path.parse, result_path.parse) == real


def test_engines_may_stop_in_any_order() -> None:
    real = boto_client.boto3
    restore_first = moto_overrides.install()
    restore_second = moto_overrides.install()
    second = boto_client.boto3
    restore_first()  # the first engine stops while the second still runs
    assert boto_client.boto3 is second
    assert second._real is real  # built on moto's own, not on the first engine's
    restore_second()
    assert boto_client.boto3 is real


def _parses(definition: str) -> bool:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    try:
        AmazonStateLanguageParser.parse(definition)
    except Exception:  # moto's parser raises its own exception types
        return False
    return True


def test_express_children_are_run_as_standard_because_moto_cannot_parse_them() -> None:
    """Our definition deploys EXPRESS children; the pinned moto's grammar rejects them. If this
    starts failing on its first assert, moto learned EXPRESS: drop ``for_moto``."""
    from fanout_local.template import load_project

    definition = load_project(PROJECT_ROOT, {"SourceBucketNames": "b"}).definition()
    assert '"ExecutionType": "EXPRESS"' in definition
    assert not _parses(definition)
    fitted = moto_overrides.for_moto(definition)
    assert _parses(fitted)
    assert '"ExecutionType": "EXPRESS"' not in fitted
    # Nothing else changed.
    assert json.loads(fitted) == json.loads(definition.replace('"EXPRESS"', '"STANDARD"'))
