"""Draw an ASL state machine as Graphviz: ``python -m fanout_local.asl_dot ASL [OUT.dot]``.

``make docs`` draws statemachine/fanout.asl.json into docs/workflow.dot (then SVG), so the
diagram follows the workflow. Transitions (Next, Default, Choices) are solid; Catch edges are
dashed and labelled with their errors; a Map's ItemProcessor is a cluster, entered from a
node for the Map itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

_SHAPES = {
    "Task": ("box", "#dbeafe"),
    "Choice": ("diamond", "#fef3c7"),
    "Pass": ("box", "#f3f4f6"),
    "Map": ("box3d", "#dcfce7"),
    "Parallel": ("box3d", "#dcfce7"),
    "Fail": ("octagon", "#fee2e2"),
    "Succeed": ("doublecircle", "#dcfce7"),
    "Wait": ("box", "#f3f4f6"),
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(name: str, state: dict[str, Any]) -> str:
    kind = state.get("Type", "?")
    lines = [name]
    if kind == "Task":
        function = (state.get("Parameters") or {}).get("FunctionName", "")
        if function.startswith("${"):  # a DefinitionSubstitutions placeholder
            function = function[2:-1].removesuffix("Arn")
        lines.append(f"Lambda: {function.rsplit(':', 1)[-1]}" if function else state.get("Resource", "Task"))
        if state.get("Retry"):
            attempts = max(r.get("MaxAttempts", 3) for r in state["Retry"])
            lines.append(f"retry ≤{attempts} on Lambda service errors")
    elif kind == "Map":
        mode = ((state.get("ItemProcessor") or {}).get("ProcessorConfig") or {}).get("Mode", "INLINE")
        lines.append(f"{mode.title()} Map")
        if "ItemReader" in state:
            lines.append("items: ItemReader (plan.json in S3)")
        elif "ItemsPath" in state:
            lines.append(f"items: {state['ItemsPath']}")
        if "MaxConcurrencyPath" in state:
            lines.append(f"MaxConcurrency: {state['MaxConcurrencyPath']}")
        elif "MaxConcurrency" in state:
            lines.append(f"MaxConcurrency: {state['MaxConcurrency']}")
        if "ResultWriter" in state:
            lines.append("results: ResultWriter (S3)")
    elif kind == "Fail":
        lines.append(f"Fail: {state.get('Error') or state.get('ErrorPath', '')}")
    else:
        lines.append(kind)
    return "\\n".join(_quote(line)[1:-1] for line in lines)


class _Drawer:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.clusters = 0

    def node(self, node_id: str, label: str, kind: str, indent: str) -> None:
        shape, color = _SHAPES.get(kind, ("box", "#ffffff"))
        self.out.append(f'{indent}{_quote(node_id)} [label="{label}", shape={shape}, fillcolor="{color}"];')

    def edge(self, src: str, dst: str, indent: str, **attrs: str) -> None:
        rendered = ", ".join(f"{k}={_quote(v)}" for k, v in attrs.items())
        self.out.append(f"{indent}{_quote(src)} -> {_quote(dst)}" + (f" [{rendered}];" if rendered else ";"))

    def states(self, machine: dict[str, Any], scope: str, indent: str) -> str:
        """Draw ``machine``'s states; return the id of its start node."""
        ids = {name: f"{scope}{name}" for name in machine["States"]}
        end_id = f"{scope}(end)"
        needs_end = False
        for name, state in machine["States"].items():
            node_id = ids[name]
            if state.get("Type") == "Map":
                processor = state.get("ItemProcessor") or state.get("Iterator") or {}
                self.clusters += 1
                self.out.append(f"{indent}subgraph cluster_{self.clusters} {{")
                what = "work unit" if not scope else "piece"  # a nested Map runs a unit's pieces
                self.out.append(f'{indent}  label="{name}: one iteration per {what}"; style="rounded,dashed";')
                self.node(node_id, _label(name, state), "Map", indent + "  ")
                inner_start = self.states(processor, f"{node_id}/", indent + "  ")
                self.edge(node_id, inner_start, indent + "  ", label="each item")
                self.out.append(f"{indent}}}")
            else:
                self.node(node_id, _label(name, state), state.get("Type", ""), indent)
            if "Next" in state:
                self.edge(node_id, ids[state["Next"]], indent)
            for choice in state.get("Choices") or ():
                tests = [f"{k} {json.dumps(v)}" for k, v in choice.items() if k not in ("Variable", "Next")]
                condition = " ".join(tests)
                self.edge(node_id, ids[choice["Next"]], indent, label=f"{choice.get('Variable', '')} {condition}")
            if "Default" in state:
                self.edge(node_id, ids[state["Default"]], indent, label="otherwise")
            for catch in state.get("Catch") or ():
                errors = ", ".join(catch.get("ErrorEquals", ()))
                self.edge(node_id, ids[catch["Next"]], indent, label=f"catch {errors}", style="dashed", color="#b91c1c")
            if state.get("End"):
                needs_end = True
                self.edge(node_id, end_id, indent)
        if needs_end:
            self.out.append(f'{indent}{_quote(end_id)} [label="", shape=doublecircle, width=0.2, fillcolor="#111827"];')
        return ids[machine["StartAt"]]


def to_dot(definition: dict[str, Any], title: str = "") -> str:
    drawer = _Drawer()
    start = drawer.states(definition, "", "  ")
    header = [
        "// GENERATED by `make docs` (python -m fanout_local.asl_dot) from the ASL - do not edit.",
        "digraph workflow {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=11, labelloc=t, nodesep=0.4, ranksep=0.45'
        + (f", label={_quote(title)}" if title else "")
        + "];",
        '  node [fontname="Helvetica", fontsize=10, style="filled,rounded"];',
        '  edge [fontname="Helvetica", fontsize=9];',
        '  "(start)" [label="StartExecution", shape=oval, fillcolor="#e5e7eb"];',
        f'  "(start)" -> {_quote(start)};',
    ]
    return "\n".join([*header, *drawer.out, "}"]) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[0])
    title = f"{source.name}: states and transitions (dashed: Catch)"
    dot = to_dot(json.loads(source.read_text(encoding="utf-8")), title)
    if len(argv) == 2:
        Path(argv[1]).write_text(dot, encoding="utf-8")
    else:
        sys.stdout.write(dot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
