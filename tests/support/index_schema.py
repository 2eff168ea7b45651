"""The JSON blocks of docs/formats.md's index section: the example and the JSON Schema of
``index.json`` (what s3fanout.records.IndexDocument writes)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

FORMATS = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
_JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


def _index_blocks() -> list[dict[str, Any]]:
    text = FORMATS.read_text(encoding="utf-8")
    section = text[text.index("**The index**") : text.index("**The plan**")]
    return [json.loads(block) for block in _JSON_BLOCK.findall(section)]


def index_schema() -> dict[str, Any]:
    schemas = [block for block in _index_blocks() if "$schema" in block]
    assert len(schemas) == 1, f"docs/formats.md's index section has {len(schemas)} JSON Schema blocks, not 1"
    return schemas[0]


def index_example() -> dict[str, Any]:
    examples = [block for block in _index_blocks() if "$schema" not in block]
    assert len(examples) == 1, f"docs/formats.md's index section has {len(examples)} example blocks, not 1"
    return examples[0]
