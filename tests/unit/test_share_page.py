"""The share page document: data that cannot end its script block, a CSP that matches it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fanout_fetch.links import SHARE_DATA_ID
from s3fanout import share_page
from s3fanout.share_page import render_share_page, script_json

INDEX: dict[str, Any] = {
    "run_id": "r1",
    "bucket": "b",
    "prefix": "p/",
    "suffix": ".pdf",
    "created_at": "2026-11-28T00:00:00Z",
    "expires_at": "2026-11-28T01:00:00Z",
    "url_credentials": "long-term",
    "count": 2,
    "object_bytes": 3,
    "skipped": {"GLACIER": 1},
    "parts": [
        {
            "key": "k0",
            "count": 2,
            "url": "https://h/b/k0?X-Amz-Signature=1",
            "prefix": "p/",
            "bytes": 9,
            "first_key": "p/a.pdf",
            "last_key": "p/b/c.pdf",
        }
    ],
}
# The data block's id, as the page's template writes it (page.js and fanout fetch find it by it).
TEMPLATE = (Path(share_page.__file__).parent / "share" / "page.html").read_text(encoding="utf-8")
_SLOT = re.search(r'<script id="([^"]+)" type="application/json">\{data\}</script>', TEMPLATE)
assert _SLOT is not None, "page.html has no JSON data block"
DATA_ID = _SLOT.group(1)
DATA = re.compile(rf'<script id="{DATA_ID}" type="application/json">(.*?)</script>', re.DOTALL)


def test_fanout_fetch_looks_for_the_data_block_the_template_writes() -> None:
    assert DATA_ID == SHARE_DATA_ID


def page_text(index: dict[str, Any]) -> str:
    return render_share_page(index, "https://h/b/index.json?sig").decode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_no_key_can_end_the_data_block_and_every_key_round_trips(text: str) -> None:
    encoded = script_json({"prefix": text})
    assert "<" not in encoded
    assert ">" not in encoded
    assert json.loads(encoded) == {"prefix": text}


def test_the_data_block_holds_the_summary_and_parts_in_order() -> None:
    hostile = {**INDEX, "prefix": "</script><script>alert(1)</script>/", "bucket": "<!--b"}
    html = page_text(hostile)
    blocks = DATA.findall(html)
    assert len(blocks) == 1
    data = json.loads(blocks[0])
    assert data["prefix"] == hostile["prefix"]
    assert data["index_url"] == "https://h/b/index.json?sig"
    # Each part's key range: the page loads only the parts that can hold a folder.
    assert data["parts"] == [
        {"url": "https://h/b/k0?X-Amz-Signature=1", "count": 2, "first_key": "p/a.pdf", "last_key": "p/b/c.pdf"}
    ]
    assert "folders" not in data
    folders = {"version": 1, "entries": [["", 2, 3, "", 0, 0, 1, 1, [0, 1]]]}
    with_folders = json.loads(DATA.findall(render_share_page(hostile, "u", folders).decode())[0])
    assert with_folders["folders"] == folders
    assert (data["count"], data["object_bytes"], data["skipped"]) == (2, 3, {"GLACIER": 1})
    assert html.count("<script") == 2  # the data block and the page's own script, nothing else


def _csp(html: str) -> dict[str, str]:
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert found
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in found.group(1).split("; ")}


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_csp_allows_exactly_the_inline_script_and_style_by_hash() -> None:
    html = page_text(INDEX)
    csp = _csp(html)
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    styles = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    assert len(scripts) == 1
    assert len(styles) == 1
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == _sha(scripts[0])
    assert csp["style-src"] == _sha(styles[0])
    assert csp["connect-src"] == "'self'"
    assert "unsafe" not in html.split("</head>")[0]


def test_the_page_script_never_writes_markup() -> None:
    html = page_text(INDEX)
    script = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)[0]
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script
