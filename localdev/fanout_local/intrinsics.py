"""The project's one evaluator of CloudFormation intrinsics, for given parameters.

The engine reads template.yaml's functions and ASL substitutions with it (``template``);
the tests read the transformed template's IAM policies and conditions with it. Ref
(parameters, pseudo parameters, resources by the physical name given), Fn::GetAtt and
``${Name.Attribute}`` (attributes given), Fn::Sub (both forms), Fn::Join, Fn::Split,
Fn::Select, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition and AWS::NoValue (the
entry or key disappears, as on deploy). Anything else is a ``TemplateError``: what this
cannot read, neither the engine nor a test should guess at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import TemplateError

NO_VALUE = object()  # what AWS::NoValue resolves to until its container drops it
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@dataclass(frozen=True)
class Stack:
    """What a deploy would know: parameter values, pseudo parameters, physical names and
    resource attributes (``{"Name.Arn": ...}``)."""

    parameters: dict[str, Any]
    conditions: dict[str, Any]
    physical_ids: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    partition: str = "aws"
    region: str = REGION
    account: str = ACCOUNT_ID
    stack_name: str = "s3-fanout"

    @classmethod
    def of(cls, template: dict[str, Any], values: dict[str, str], **kwargs: Any) -> Stack:
        """Parameters as CloudFormation reads them: defaults, then the given values;
        CommaDelimitedList values split on commas."""
        parameters: dict[str, str | list[str]] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            if name not in values and "Default" not in spec:
                raise TemplateError(f"parameter {name} has no default and no value was given")
            raw = str(values.get(name, spec.get("Default", "")))
            parameters[name] = raw.split(",") if spec.get("Type") == "CommaDelimitedList" else raw
        return cls(parameters=parameters, conditions=template.get("Conditions") or {}, **kwargs)

    def ref(self, name: str) -> Any:
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
        raise TemplateError(f"Ref {name}: not a parameter, pseudo parameter or known resource")

    def get_att(self, name: str, attribute: str) -> str:
        value = self.attributes.get(f"{name}.{attribute}")
        if value is None:
            raise TemplateError(f"cannot resolve !GetAtt {name}.{attribute}")
        return value

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise TemplateError(f"no condition {name}")
        value = resolve(self.conditions[name], self)
        if not isinstance(value, bool):
            raise TemplateError(f"condition {name} is not a boolean: {value!r}")
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
        # CloudFormation compares strings: a Number parameter's default is an int in YAML.
        left, right = (resolve(a, stack) for a in arg)
        return str(left) == str(right)
    if key == "Fn::Not":
        return not _boolean(arg[0], stack)
    if key == "Fn::And":
        return all(_boolean(a, stack) for a in arg)
    if key == "Fn::Or":
        return any(_boolean(a, stack) for a in arg)
    if key == "Fn::GetAtt":
        name, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
        return stack.get_att(name, attribute)
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
    raise TemplateError(f"unsupported intrinsic {key}: {arg!r}")


def _boolean(node: Any, stack: Stack) -> bool:
    value = resolve(node, stack)
    if not isinstance(value, bool):
        raise TemplateError(f"not a condition: {node!r}")
    return value


def _string_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TemplateError(f"expected a list, got {value!r}")
    return value


def _sub(arg: Any, stack: Stack) -> str:
    text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
    values = {name: resolve(value, stack) for name, value in variables.items()}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return str(values[name])
        if "." in name:
            return stack.get_att(*name.split(".", 1))
        value = stack.ref(name)
        if isinstance(value, list):
            raise TemplateError(f"Fn::Sub ${{{name}}} is a list")
        return str(value)

    return _SUB_VARIABLE.sub(substitute, text)
