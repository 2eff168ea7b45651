"""The sender's title and message travel from the execution input through run.json to
index.json and into the share page's data - as data, never as markup - and bad ones stop
the run before anything is written."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import pytest

from fanout_fetch.links import SHARE_DATA_ID
from s3fanout.errors import InvalidInput
from tests.support.flow import run_handlers

TITLE = "Q4 </script><script>alert(1)</script> & <!-- reports"
MESSAGE = "Hello,\n<img src=x onerror=alert(2)>\n\n\u2014 Dana"
DATA = re.compile(rf'<script id="{SHARE_DATA_ID}" type="application/json">(.*?)</script>', re.DOTALL)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return bytes(response.read())


def test_title_and_message_reach_run_json_index_json_and_the_page(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a.pdf", Body=b"%PDF-1.4 a")
    result = run_handlers(s3, {"bucket": bucket, "title": TITLE, "message": MESSAGE})
    # Not in ListPrefixes' result: the state machine passes that to every BuildManifest.
    assert {"title", "message"}.isdisjoint(result["plan"])
    run = json.loads(s3.get_object(Bucket=bucket, Key="manifests/test-run/run.json")["Body"].read())
    assert (run["title"], run["message"]) == (TITLE, MESSAGE)

    index = json.loads(get(result["index"]["index_url"]))
    assert (index["title"], index["message"]) == (TITLE, MESSAGE)

    page = get(result["index"]["page_url"]).decode("utf-8")
    # The one data block holds them; nowhere else does the page hold their markup.
    [block] = DATA.findall(page)
    data = json.loads(block)
    assert (data["title"], data["message"]) == (TITLE, MESSAGE)
    assert data["fetch_tool_url"] == index["fetch_tool_url"]
    for markup in ("<script>alert(1)", "<img src=x", "<!-- reports"):
        assert markup not in page


def test_without_them_the_index_and_the_page_data_have_none(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a.pdf", Body=b"%PDF-1.4 a")
    result = run_handlers(s3, {"bucket": bucket})["index"]
    index = json.loads(get(result["index_url"]))
    assert {"title", "message"}.isdisjoint(index)
    [block] = DATA.findall(get(result["page_url"]).decode("utf-8"))
    assert (json.loads(block)["title"], json.loads(block)["message"]) == (None, None)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [("title", "a\nb", "use one line"), ("message", "m" * 2001, "at most 2,000")],
)
def test_a_bad_one_fails_the_run_before_anything_is_written(
    s3: Any, bucket: str, field: str, value: str, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason):
        run_handlers(s3, {"bucket": bucket, field: value})
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
