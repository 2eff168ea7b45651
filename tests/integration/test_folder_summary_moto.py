"""MergeIndex puts the folder summary in the share page: read from the parts it published."""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from s3fanout.folder_summary import FIELDS, summarize
from tests.support.flow import run_handlers
from tests.support.lambda_context import FakeLambdaContext
from tests.support.s3_helpers import body_of, put_keys

KEYS = sorted(
    [f"shared/{year}/q{q}/r-{n}.pdf" for year in (2024, 2025) for q in (1, 2) for n in range(30)]
    + ["shared/top.pdf", "shared/2024/notes.txt", "shared/é/ü.pdf"]
)


def page_data(url: str) -> dict[str, Any]:
    html = requests.get(url, timeout=10).text
    block = re.search(r'<script id="([^"]+)" type="application/json">(.*?)</script>', html, re.S)
    assert block
    return json.loads(block.group(2))


def test_the_page_holds_every_folder_with_its_counts_and_parts(s3: Any, bucket: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("MIN_UNIT_KEYS", "20")  # several units, so several parts
    put_keys(s3, bucket, KEYS)
    index = run_handlers(s3, {"bucket": bucket, "prefix": "shared/", "suffix": "", "expires_in": 3600})["index"]
    data = page_data(index["page_url"])
    document = json.loads(requests.get(index["index_url"], timeout=10).content)
    assert "folders" not in document  # page data only
    parts = document["parts"]
    assert len(parts) > 1
    # The same summary as the keys give, with each key in the part the index lists it in.
    part_of = {}
    for number, part in enumerate(parts):
        for line in requests.get(part["url"], timeout=10).text.splitlines():
            part_of[json.loads(line)["key"]] = (number, json.loads(line)["last_modified"])
    expected = summarize(((k, len(body_of(k)), part_of[k][1], part_of[k][0]) for k in KEYS), "shared/")
    assert data["folders"] == expected
    rows = {row[0]: dict(zip(FIELDS, row, strict=True)) for row in data["folders"]["entries"]}
    assert rows[""]["files"] == len(KEYS)
    assert rows["2024/"]["files"] == 61
    assert rows["2024/"]["subfolders"] == 2
    assert rows["2024/"]["direct_files"] == 1


def test_a_share_too_large_to_summarize_in_time_is_published_without_the_summary(
    s3: Any, bucket: str, monkeypatch: Any
) -> None:
    # 20 s left when MergeIndex starts is below the time it keeps for publishing (30 s): the
    # summary is given up, the index and the page are not.
    monkeypatch.setenv("MIN_UNIT_KEYS", "20")
    put_keys(s3, bucket, KEYS)
    index = run_handlers(
        s3,
        {"bucket": bucket, "prefix": "shared/", "suffix": "", "expires_in": 3600},
        merge_context=FakeLambdaContext(timeout_seconds=20),
    )["index"]
    data = page_data(index["page_url"])
    assert "folders" not in data
    assert data["count"] == len(KEYS) == json.loads(requests.get(index["index_url"], timeout=10).content)["count"]
