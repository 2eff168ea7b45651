"""Read what the engine needs from template.yaml: functions, their settings, ASL substitutions.

Intrinsic functions are resolved by ``intrinsics`` (the one evaluator, the tests' too), with
the names ``sam local`` gives resources: a function's is its logical ID.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import TemplateError
from .intrinsics import ACCOUNT_ID, NO_VALUE, REGION, Stack, resolve

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_SHORT_TAGS = ("Ref", "Condition")


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


def _local_name(name: str, resource: dict[str, Any]) -> str:
    """What ``Ref`` gives for a resource run locally."""
    if resource.get("Type") == "AWS::Serverless::Function":
        return name  # sam local names functions by logical ID
    if resource.get("Type") == "AWS::Serverless::StateMachine":
        return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"
    return name.lower()


def _local_arn(name: str, resource: dict[str, Any]) -> str:
    if resource.get("Type") == "AWS::Serverless::Function":
        return function_arn(name)
    return f"arn:aws:s3:::{_local_name(name, resource)}"


def _strings(values: dict[str, Any], stack: Stack) -> dict[str, str]:
    """Each value resolved to text; one that resolves to AWS::NoValue is left out, as on deploy."""
    resolved = {k: resolve(v, stack) for k, v in values.items()}
    return {k: str(v) for k, v in resolved.items() if v is not NO_VALUE}


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
    resources: dict[str, Any] = template.get("Resources") or {}
    stack = Stack.of(
        template,
        parameters or {},
        physical_ids={name: _local_name(name, resource) for name, resource in resources.items()},
        attributes={f"{name}.Arn": _local_arn(name, resource) for name, resource in resources.items()},
        stack_name="local",
    )
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    global_env = ((globals_fn.get("Environment") or {}).get("Variables")) or {}
    functions: dict[str, FunctionSpec] = {}
    machine: tuple[str, dict[str, Any]] | None = None
    for name, resource in resources.items():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function":
            env = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
            functions[name] = FunctionSpec(
                name=name,
                handler=props.get("Handler", globals_fn.get("Handler")),
                timeout=float(props.get("Timeout", globals_fn.get("Timeout", 3))),
                memory_mb=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
                environment=_strings(env, stack),
                code_uri=root / code_uri
                if isinstance(code_uri := props.get("CodeUri", globals_fn.get("CodeUri")), str)
                else None,
                layer_uris=_layer_sources(root, resources, [*globals_fn.get("Layers", []), *props.get("Layers", [])]),
            )
        elif resource.get("Type") == "AWS::Serverless::StateMachine":
            machine = (name, props)
    if machine is None:
        raise TemplateError("template.yaml has no AWS::Serverless::StateMachine")
    name, props = machine
    substitutions = _strings(props.get("DefinitionSubstitutions") or {}, stack)
    return Project(
        root=root,
        functions=functions,
        state_machine=name,
        definition_uri=root / props["DefinitionUri"],
        substitutions=substitutions,
    )
