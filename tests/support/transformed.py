"""template.yaml as CloudFormation receives it: through the SAM translator, offline, with
the aws-sam-cli venv's interpreter (tests/support/sam_transform.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"


def transformed_template(**parameters: str) -> dict[str, Any]:
    """The whole transformed template; SourceBucketNames defaults to "src-a,src-b"."""
    if not SAM_PYTHON.exists():
        pytest.fail(f"{SAM_PYTHON} is missing: run `make lint` (or `make test`), which builds the aws-sam-cli venv")
    values = {"AWS::Region": "us-east-1", "SourceBucketNames": "src-a,src-b", **parameters}
    out = subprocess.run(
        [
            str(SAM_PYTHON),
            str(ROOT / "tests/support/sam_transform.py"),
            str(ROOT / "template.yaml"),
            json.dumps(values),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    template: dict[str, Any] = json.loads(out.stdout)
    return template
