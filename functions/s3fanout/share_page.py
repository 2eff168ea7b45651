"""The share page: ``manifests/{run_id}/index.html``, what a recipient opens in a browser.

One self-contained document - its style and script inline, its data in a JSON block - so
nothing is requested from anywhere but the manifest bucket. The Content-Security-Policy
allows exactly that: the inline script and style by hash, ``fetch`` to its own origin (the
parts, presigned on the same endpoint as the page), no other script, frame, form or base.
Keys reach the page only as JSON data, escaped so that no key can end the data block.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

HTML_CONTENT_TYPE = "text/html; charset=utf-8"
_ASSETS = Path(__file__).parent / "share"
_SLOT = re.compile(r"\{(csp|style|data|script)\}")
# Inside <script>, "</script" or "<!--" would end or confuse the block: JSON allows \u escapes.
_UNSAFE_IN_SCRIPT = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


@cache
def _assets() -> tuple[str, str, str, str]:
    """(template, style, script, csp): read once per process, the hashes with them."""
    template = (_ASSETS / "page.html").read_text(encoding="utf-8")
    style = (_ASSETS / "page.css").read_text(encoding="utf-8")
    script = (_ASSETS / "page.js").read_text(encoding="utf-8")
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_sha256(script)}",
            f"style-src {_sha256(style)}",
            "connect-src 'self'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    return template, style, script, csp


def script_json(value: Any) -> str:
    """JSON that is safe as the text of a ``<script type="application/json">`` element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda m: _UNSAFE_IN_SCRIPT[m.group(0)], text)


def share_data(index: dict[str, Any], index_url: str, folders: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the page needs of the index: the summary, each part's URL, count and key range
    (in key order, so the first rows need only the first part), and the folder summary
    (``s3fanout.folder_summary``: page data only, not in index.json)."""
    fields: tuple[str, ...] = ("run_id", "bucket", "prefix", "suffix", "created_at", "expires_at", "url_credentials")
    # The sender's words (shown as text only) and the recipient's tool: null when absent.
    fields += ("note", "title", "message", "fetch_tool_url")
    data: dict[str, Any] = {"version": 1, **{name: index.get(name) for name in fields}}
    data.update(
        count=index["count"],
        object_bytes=index["object_bytes"],
        skipped=index.get("skipped", {}),
        index_url=index_url,
        # Each part's first and last key: a folder is a key range, so the page loads only the
        # parts that can hold it.
        parts=[
            {
                "url": part["url"],
                "count": part["count"],
                "first_key": part.get("first_key"),
                "last_key": part.get("last_key"),
            }
            for part in index["parts"]
        ],
    )
    if folders is not None:  # the folder summary (s3fanout.folder_summary)
        data["folders"] = folders
    return data


def render_share_page(index: dict[str, Any], index_url: str, folders: dict[str, Any] | None = None) -> bytes:
    template, style, script, csp = _assets()
    data = script_json(share_data(index, index_url, folders))
    values = {"csp": csp, "style": style, "script": script, "data": data}
    # One pass over the template: text put in a slot is never scanned for another slot.
    return _SLOT.sub(lambda m: values[m.group(1)], template).encode("utf-8")
