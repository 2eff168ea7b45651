"""Evaluate the CloudFormation intrinsics a transformed template uses, for given parameters.

Enough of CloudFormation for IAM policy documents and conditions: Ref (parameters, pseudo
parameters, resources by the physical name given), Fn::Sub (both forms), Fn::Join,
Fn::Split, Fn::Select, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition and
AWS::NoValue (the entry or key disappears, as on deploy). Anything else is an error: a
policy this cannot read is a policy the tests must not guess at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()  # what AWS::NoValue resolves to until its container drops it
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


@dataclass(frozen=True)
class Stack:
    """What a deploy would know: parameter values, pseudo parameters, physical names."""

    parameters: dict[str, str | list[str]]
    conditions: dict[str, Any]
    physical_ids: dict[str, str] = field(default_factory=dict)
    partition: str = "aws"
    region: str = "us-east-1"
    account: str = "123456789012"
    stack_name: str = "s3-fanout"

    @classmethod
    def of(cls, template: dict[str, Any], values: dict[str, str], **kwargs: Any) -> Stack:
        """Parameters as CloudFormation reads them: defaults, then the given values;
        CommaDelimitedList values split on commas."""
        parameters: dict[str, str | list[str]] = {}
        for name, spec in template.get("Parameters", {}).items():
            if name not in values and "Default" not in spec:
                raise KeyError(f"parameter {name} has no value and no default")
            raw = str(values.get(name, spec.get("Default", "")))
            parameters[name] = raw.split(",") if spec["Type"] == "CommaDelimitedList" else raw
        return cls(parameters=parameters, conditions=template.get("Conditions", {}), **kwargs)

    def ref(self, name: str) -> str | list[str]:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise KeyError(f"Ref {name}: not a parameter, pseudo parameter or known resource")

    def condition(self, name: str) -> bool:
        value = resolve(self.conditions[name], self)
        if not isinstance(value, bool):
            raise TypeError(f"condition {name} is not a boolean: {value!r}")
        return value


def resolve(node: Any, stack: Stack) -> Any:
    """``node`` with every intrinsic evaluated; NoValue entries and keys removed."""
    if isinstance(node, list):
        return [v for v in (resolve(item, stack) for item in node) if v is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Ref" or key.startswith("Fn::") or key == "Condition":
            return _intrinsic(key, arg, stack)
    return {k: v for k, v in ((k, resolve(v, stack)) for k, v in node.items()) if v is not NO_VALUE}


def resolve_conditions(node: Any, stack: Stack) -> Any:
    """Only the Fn::If (and the NoValue they produce) resolved; every other intrinsic kept
    for whoever deploys the template."""
    if isinstance(node, list):
        return [v for v in (resolve_conditions(item, stack) for item in node) if v is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Fn::If"}:
        name, when_true, when_false = node["Fn::If"]
        return resolve_conditions(when_true if stack.condition(name) else when_false, stack)
    if node == {"Ref": "AWS::NoValue"}:
        return NO_VALUE
    return {k: v for k, v in ((k, resolve_conditions(v, stack)) for k, v in node.items()) if v is not NO_VALUE}


def _intrinsic(key: str, arg: Any, stack: Stack) -> Any:  # noqa: PLR0911 - one branch per intrinsic
    if key == "Ref":
        return NO_VALUE if arg == "AWS::NoValue" else stack.ref(arg)
    if key == "Condition":
        return stack.condition(arg)
    if key == "Fn::If":
        name, when_true, when_false = arg
        return resolve(when_true if stack.condition(name) else when_false, stack)
    if key == "Fn::Equals":
        left, right = (resolve(a, stack) for a in arg)
        return left == right
    if key == "Fn::Not":
        return not _boolean(arg[0], stack)
    if key == "Fn::And":
        return all(_boolean(a, stack) for a in arg)
    if key == "Fn::Or":
        return any(_boolean(a, stack) for a in arg)
    if key == "Fn::Join":
        delimiter, items = arg
        return str(delimiter).join(str(v) for v in _string_list(resolve(items, stack)))
    if key == "Fn::Split":
        delimiter, text = arg
        return str(resolve(text, stack)).split(delimiter)
    if key == "Fn::Select":
        index, items = arg
        return _string_list(resolve(items, stack))[int(resolve(index, stack))]
    if key == "Fn::Sub":
        return _sub(arg, stack)
    raise ValueError(f"unsupported intrinsic {key}: {arg!r}")


def _boolean(node: Any, stack: Stack) -> bool:
    value = resolve(node, stack)
    if not isinstance(value, bool):
        raise TypeError(f"not a condition: {node!r}")
    return value


def _string_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {value!r}")
    return value


def _sub(arg: Any, stack: Stack) -> str:
    text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
    values = {name: resolve(value, stack) for name, value in variables.items()}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return str(values[name])
        if "." in name:  # ${Resource.Attribute}: not needed by any policy here
            raise ValueError(f"Fn::Sub attribute {name} is not supported")
        value = stack.ref(name)
        if isinstance(value, list):
            raise TypeError(f"Fn::Sub ${{{name}}} is a list")
        return value

    return _SUB_VARIABLE.sub(substitute, text)
