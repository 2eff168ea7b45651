"""``fanout render``: the state machine for an engine without Distributed Map (Step Functions Local)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.markup import escape

from fanout_local.cli.console import console
from fanout_local.engine import PROJECT_ROOT


def command(args: argparse.Namespace) -> int:
    from fanout_local.render import RenderError, load_for_render, render

    try:
        text = render(
            load_for_render(PROJECT_ROOT),
            args.target,
            max_concurrency=args.max_concurrency,
            legacy_map_fields=args.legacy_map_fields,
        )
    except RenderError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        return 1
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        console.print(
            f"wrote {out} ({args.target}: INLINE Map, items from ListPrefixes with INLINE_PLAN=true)", markup=False
        )
    else:
        sys.stdout.write(text)
    return 0
