"""The transformed template, changed only where moto's CloudFormation (5.2.5) needs it.

- Fn::If whose branch is AWS::NoValue: moto keeps the entry as None, and an AWS::IAM::Role
  with a None among its Policies fails (TypeError). Every Fn::If is resolved here, for the
  stack's parameters, as CloudFormation would; all other intrinsics are left to moto.
- AWS::StepFunctions::StateMachine: moto reads only DefinitionString (DefinitionS3Location
  and DefinitionSubstitutions are ignored: the machine would be created with an empty
  definition). The definition goes in as DefinitionString, each ${Name} of
  DefinitionSubstitutions spliced in through an Fn::Join moto evaluates. (moto's Fn::Sub
  would not do: it substitutes with string.Template, which turns the ASL's $$ into $.)
"""

from __future__ import annotations

import copy
import re
from typing import Any

from fanout_local.intrinsics import Stack, resolve_conditions

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def for_moto(template: dict[str, Any], stack: Stack, definitions: dict[str, str]) -> dict[str, Any]:
    """``definitions``: the ASL text each state machine's DefinitionS3Location points to."""
    changed = copy.deepcopy(template)
    changed["Resources"] = resolve_conditions(changed["Resources"], stack)
    changed["Outputs"] = resolve_conditions(changed.get("Outputs", {}), stack)
    for logical_id, resource in changed["Resources"].items():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            properties = resource["Properties"]
            del properties["DefinitionS3Location"]
            substitutions = properties.pop("DefinitionSubstitutions", {})
            properties["DefinitionString"] = substituted(definitions[logical_id], substitutions)
    return changed


def substituted(definition: str, substitutions: dict[str, Any]) -> dict[str, Any]:
    """``{"Fn::Join": ["", [text, value, text, ...]]}``: DefinitionSubstitutions applied."""
    pieces: list[Any] = []
    position = 0
    for match in _PLACEHOLDER.finditer(definition):
        name = match.group(1)
        if name not in substitutions:
            raise KeyError(f"${{{name}}} in the definition has no substitution")
        pieces += [definition[position : match.start()], substitutions[name]]
        position = match.end()
    pieces.append(definition[position:])
    return {"Fn::Join": ["", pieces]}
