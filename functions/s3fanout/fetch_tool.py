"""``fanout-fetch.pyz``: the recipient's tool (``recipient/fanout_fetch`` and its pure-Python
dependencies) as one zipapp, run by ``python3 fanout-fetch.pyz URL --to DIR``.

MergeIndex cannot build it (the deployed package has no ``recipient/``, and no pip), so the
build ships it prebuilt in this package (``share/fanout-fetch.pyz``, made by ``make
fetch-pyz``, kept fresh by a test) and MergeIndex publishes a copy beside each index.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

FETCH_TOOL_PATH = Path(__file__).parent / "share" / "fanout-fetch.pyz"
FETCH_TOOL_CONTENT_TYPE = "application/zip"


@cache
def fetch_tool() -> bytes | None:
    """The zipapp's bytes, read once per process; None where a package was built without it
    (the index and page then say how to install the tool instead)."""
    try:
        return FETCH_TOOL_PATH.read_bytes()
    except FileNotFoundError:
        return None
