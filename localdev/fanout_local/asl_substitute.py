"""Render statemachine/fanout.asl.json with plausible values for its ${...} placeholders.

`make lint-asl` feeds the result to asl-validator, which knows nothing of SAM's
DefinitionSubstitutions. The values are derived from template.yaml so that a placeholder
the template does not define (or a substitution the ASL never uses) fails here.

    python -m fanout_local.asl_substitute [TEMPLATE] [ASL] OUT
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from .template import ACCOUNT_ID, PROJECT_ROOT, REGION, load_template

STACK = "s3-fanout"
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def state_machine(template: dict[str, Any]) -> dict[str, Any]:
    machines = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::StateMachine"]
    if len(machines) != 1:
        raise SystemExit(f"expected one AWS::Serverless::StateMachine, found {len(machines)}")
    return machines[0]["Properties"]


def plausible(name: str, value: Any) -> str:
    """A value of the right shape for one DefinitionSubstitutions entry."""
    if isinstance(value, str):
        return value
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        if attribute == "Arn" and resource.endswith("Function"):
            return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{STACK}-{resource}-AbC123dEf456"
    if name.endswith("BucketName"):
        return f"{STACK}-manifestbucket-abc123def456"
    raise SystemExit(f"asl_substitute: no plausible value for DefinitionSubstitutions.{name}: {value!r}")


def render(template_path: Path, asl_path: Path) -> str:
    substitutions = state_machine(load_template(template_path)).get("DefinitionSubstitutions") or {}
    text = asl_path.read_text(encoding="utf-8")
    used = set(PLACEHOLDER.findall(text))
    if missing := sorted(used - set(substitutions)):
        raise SystemExit(f"{asl_path}: placeholders without a DefinitionSubstitutions entry: {missing}")
    if unused := sorted(set(substitutions) - used):
        raise SystemExit(f"{template_path}: DefinitionSubstitutions never used in {asl_path.name}: {unused}")
    values = {name: plausible(name, value) for name, value in substitutions.items()}
    rendered = PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
    json.loads(rendered)
    return rendered


def main(argv: list[str]) -> int:
    if len(argv) == 1:
        template, asl = PROJECT_ROOT / "template.yaml", PROJECT_ROOT / "statemachine" / "fanout.asl.json"
        out = Path(argv[0])
    elif len(argv) == 3:
        template, asl, out = (Path(a) for a in argv)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(template, asl), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
