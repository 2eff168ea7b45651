"""The recipient's tool stands alone: fanout_fetch imports nothing of the project's other
packages (so `pip install ./recipient` is all a recipient needs), and it is one command."""

from __future__ import annotations

import subprocess
import sys


def test_fanout_fetch_imports_neither_the_functions_nor_the_local_tooling() -> None:
    code = (
        "import sys, fanout_fetch, fanout_fetch.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'s3fanout', 'fanout_local', 'boto3', 'botocore'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fanout_fetch_and_fanout_fetch_subcommand_are_the_same_command() -> None:
    from fanout_fetch import cli as fetch_cli
    from fanout_local.cli import definition

    assert definition.add_fetch_arguments is fetch_cli.add_arguments
    parsed = definition.build_parser().parse_args(["fetch", "http://x/index.json", "--to", "d"])
    assert (parsed.index_url, parsed.to, parsed.concurrency) == ("http://x/index.json", "d", 8)
