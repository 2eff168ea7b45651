"""The share page leads fetch to the index: the one ``<script id="fanout-share"
type="application/json">`` element's ``index_url``, read as a browser would read the page -
not a lookalike in a comment, another script, or an attribute."""

from __future__ import annotations

import json

import pytest

from fanout_fetch.links import index_url_from_page, is_html

INDEX = "https://bucket.s3.amazonaws.com/manifests/r1/index.json?X-Amz-Expires=600&X-Amz-Signature=ab%2Fcd"


def share_json(data: object) -> str:
    """JSON as the sender embeds it: <, > and & escaped, so it never holds a '</script>'."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(data: object = None, *, before: str = "", after: str = "") -> str:
    payload = share_json({"run_id": "r1", "index_url": INDEX, "count": 3} if data is None else data)
    return (
        f"<!doctype html><html><head><title>3 files</title>{before}"
        f'<script id="fanout-share" type="application/json">{payload}</script>'
        f"</head><body><p>3 files</p>{after}</body></html>"
    )


@pytest.mark.parametrize(
    "html",
    [
        page(),
        page(before='<!-- <script id="fanout-share">{"index_url": "https://evil/"}</script> -->'),
        page(before='<script>var s = \'<script id="fanout-share">{"index_url": "https://evil/"}</script>\';</script>'),
        page(before="<style>script#fanout-share { }</style>", after="<p>&lt;script id=fanout-share&gt;</p>"),
        page({"index_url": INDEX, "keys": ["</script><script id='fanout-share'>", "a & b", "<b>"]}),
        page().replace('id="fanout-share"', "ID='fanout&#45;share'"),
        "\n\n  " + page(),
    ],
    ids=["plain", "in-a-comment", "in-another-script", "in-css-and-text", "hostile-json-text", "attr-quoting", "ws"],
)
def test_the_index_url_is_read_from_the_one_share_element(html: str) -> None:
    assert index_url_from_page(html) == INDEX


@pytest.mark.parametrize(
    "html",
    [
        "<html><body>an S3 console page</body></html>",
        page().replace('id="fanout-share"', 'id="fanout-shared"'),
        page() + page({"index_url": "https://evil.example/index.json"}),  # two: ambiguous, not a guess
        page({"run_id": "r1"}),
        page({"index_url": 42}),
        page(["https://x/index.json"]),
        page({"index_url": "javascript:alert(1)"}),
        page({"index_url": "file:///etc/passwd"}),
        page({"index_url": "/manifests/r1/index.json"}),
        page({"index_url": "https://x/index.json\nHost: evil"}),
        page().replace(share_json({"run_id": "r1", "index_url": INDEX, "count": 3}), "{not json"),
        "",
    ],
    ids=[
        "no-element",
        "other-id",
        "two-elements",
        "no-index-url",
        "not-a-string",
        "not-an-object",
        "javascript",
        "file",
        "relative",
        "whitespace",
        "bad-json",
        "empty",
    ],
)
def test_a_page_without_usable_share_data_gives_none(html: str) -> None:
    assert index_url_from_page(html) is None


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/html; charset=utf-8", b"{}", True),
        ("TEXT/HTML", b"", True),
        ("binary/octet-stream", b"  \n<!doctype html>", True),
        ("application/json", b'{"parts": []}', False),
        ("", b'\n {"parts": []}', False),
    ],
)
def test_html_is_told_by_its_type_or_its_first_character(content_type: str, body: bytes, expected: bool) -> None:
    assert is_html(content_type, body) is expected
