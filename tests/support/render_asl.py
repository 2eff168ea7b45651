"""Render statemachine/fanout.asl.json with plausible values for its ${...} placeholders.

`make lint-asl` feeds the result to asl-validator, which knows nothing of SAM's
DefinitionSubstitutions. The values are derived from template.yaml so that a placeholder
the template does not define (or a substitution the ASL never uses) fails here.

    python -m tests.support.render_asl [TEMPLATE] [ASL] OUT
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK = "s3-fanout"
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags (!Ref, !Sub, ...) as long-form dicts."""


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    key = suffix if suffix in {"Ref", "Condition"} else f"Fn::{suffix}"
    return {key: value}


CfnLoader.add_multi_constructor("!", _construct)


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)


def state_machine(template: dict[str, Any]) -> dict[str, Any]:
    machines = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::StateMachine"]
    if len(machines) != 1:
        raise SystemExit(f"expected one AWS::Serverless::StateMachine, found {len(machines)}")
    return machines[0]["Properties"]


def plausible(name: str, value: Any) -> str:
    """A value of the right shape for one DefinitionSubstitutions entry."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        if attribute == "Arn" and resource.endswith("Function"):
            return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{STACK}-{resource}-AbC123dEf456"
    if name.endswith("BucketName"):
        return f"{STACK}-manifestbucket-abc123def456"
    raise SystemExit(f"render_asl: no plausible value for DefinitionSubstitutions.{name}: {value!r}")


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
        template, asl, out = ROOT / "template.yaml", ROOT / "statemachine" / "fanout.asl.json", Path(argv[0])
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
