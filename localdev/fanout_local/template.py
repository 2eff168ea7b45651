"""Read what the engine needs from template.yaml: functions, their settings, ASL substitutions.

Only the intrinsic functions this project's template uses are resolved (Ref, Fn::If,
Fn::Equals, Fn::Not, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Split); anything else is a clear error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
_SHORT_TAGS = ("Ref", "Condition")


class TemplateError(Exception):
    """template.yaml holds something the embedded engine cannot resolve."""


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags (!Ref, !Sub, ...) into long form.

    The one CloudFormation YAML loader of the project (the engine, `make lint-asl` and the
    tests all read template.yaml through :func:`load_template`)."""


def _construct(loader: yaml.SafeLoader, tag: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    key = tag if tag in _SHORT_TAGS else f"Fn::{tag}"
    return {key: value}


_CfnLoader.add_multi_constructor("!", _construct)


def load_template(path: Path = PROJECT_ROOT / "template.yaml") -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


@dataclass(frozen=True)
class FunctionSpec:
    """One AWS::Serverless::Function as the engine runs it."""

    name: str
    handler: str
    timeout: float
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)
    code_uri: Path | None = None  # the deployment package's source (its requirements.txt)
    layer_uris: tuple[Path, ...] = ()  # its layers' sources (the dependencies' requirements.txt)


class _Resolver:
    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        self.template = template
        self.parameters: dict[str, Any] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            value = parameters.get(name, spec.get("Default"))
            if value is None:
                raise TemplateError(f"parameter {name} has no default and no value was given")
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            self.parameters[name] = value
        self.parameters.update(
            {
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::Partition": "aws",
                "AWS::StackName": "local",
                "AWS::URLSuffix": "amazonaws.com",
            }
        )
        self.resources: dict[str, Any] = template.get("Resources") or {}

    def condition(self, name: str) -> bool:
        return bool(self.resolve((self.template.get("Conditions") or {})[name]))

    def ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"Ref to unknown name {name!r}")
        if resource["Type"] == "AWS::Serverless::Function":
            return name  # sam local names functions by logical ID
        if resource["Type"] == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"
        return name.lower()

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.resources.get(name) or {}
        if resource.get("Type") == "AWS::Serverless::Function" and attribute == "Arn":
            return function_arn(name)
        if attribute == "Arn":
            return f"arn:aws:s3:::{self.ref(name)}"
        raise TemplateError(f"cannot resolve !GetAtt {name}.{attribute}")

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                resource, attribute = name.split(".", 1)
                return self.get_att(resource, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:  # noqa: PLR0911, PLR0912 - one branch per intrinsic
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self.ref(arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (self.resolve(v) for v in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::GetAtt":
            return self.get_att(*arg)
        if key == "Fn::Sub":
            if isinstance(arg, str):
                return self.sub(arg, {})
            text, variables = arg
            return self.sub(text, {k: self.resolve(v) for k, v in variables.items()})
        if key == "Fn::Join":
            sep, items = arg
            return sep.join(str(v) for v in self.resolve(items))
        if key == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text)).split(sep)
        if key.startswith("Fn::"):
            raise TemplateError(f"the embedded engine does not resolve {key}")
        return {key: self.resolve(arg)}


@dataclass(frozen=True)
class Project:
    """template.yaml resolved for one local run."""

    root: Path
    functions: dict[str, FunctionSpec]
    state_machine: str
    definition_uri: Path
    substitutions: dict[str, str]

    def definition(self, extra: dict[str, str] | None = None) -> str:
        """The ASL with ${...} placeholders filled in."""
        values = {**self.substitutions, **(extra or {})}
        text = self.definition_uri.read_text(encoding="utf-8")
        missing = sorted(set(re.findall(r"\$\{([^}]+)\}", text)) - set(values))
        if missing:
            raise TemplateError(f"{self.definition_uri.name}: no substitution for {', '.join(missing)}")
        rendered = re.sub(r"\$\{([^}]+)\}", lambda m: str(values[m.group(1)]), text)
        json.loads(rendered)  # fail here, not inside the interpreter, if it is not JSON
        return rendered


def _layer_sources(root: Path, resources: dict[str, Any], layers: list[Any]) -> tuple[Path, ...]:
    """The ContentUri of each layer given as ``!Ref`` to a layer of this template."""
    found = []
    for layer in layers:
        resource = resources.get(layer.get("Ref", "")) if isinstance(layer, dict) else None
        content = ((resource or {}).get("Properties") or {}).get("ContentUri")
        if isinstance(content, str):
            found.append(root / content)
    return tuple(found)


def load_project(root: Path, parameters: dict[str, str] | None = None) -> Project:
    """Resolve template.yaml under ``root`` with parameter overrides."""
    template = load_template(root / "template.yaml")
    resolver = _Resolver(template, parameters or {})
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    global_env = ((globals_fn.get("Environment") or {}).get("Variables")) or {}
    functions: dict[str, FunctionSpec] = {}
    machine: tuple[str, dict[str, Any]] | None = None
    for name, resource in resolver.resources.items():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function":
            env = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
            functions[name] = FunctionSpec(
                name=name,
                handler=props.get("Handler", globals_fn.get("Handler")),
                timeout=float(props.get("Timeout", globals_fn.get("Timeout", 3))),
                memory_mb=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
                environment={k: str(resolver.resolve(v)) for k, v in env.items()},
                code_uri=root / code_uri
                if isinstance(code_uri := props.get("CodeUri", globals_fn.get("CodeUri")), str)
                else None,
                layer_uris=_layer_sources(
                    root, resolver.resources, [*globals_fn.get("Layers", []), *props.get("Layers", [])]
                ),
            )
        elif resource.get("Type") == "AWS::Serverless::StateMachine":
            machine = (name, props)
    if machine is None:
        raise TemplateError("template.yaml has no AWS::Serverless::StateMachine")
    name, props = machine
    substitutions = {k: str(resolver.resolve(v)) for k, v in (props.get("DefinitionSubstitutions") or {}).items()}
    return Project(
        root=root,
        functions=functions,
        state_machine=name,
        definition_uri=root / props["DefinitionUri"],
        substitutions=substitutions,
    )
