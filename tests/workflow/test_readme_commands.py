"""The `fanout` commands in README.md's (and docs/recipient.md's) bash blocks, run as written
against a moto S3 server: a README command that stops working fails here.

What is changed to run them offline, and nothing else: `http://localhost:9000` (MinIO) is
the moto server; `./dir` paths are under a temp dir (`./my-pdfs` holds a few PDFs); the
placeholder link `https://…/index.html?X-Amz-…` is the page URL the README's own
`fanout run` printed before it. Sizes run as written (a demo shrunk here once hid a planner
that failed at the README's 5,000 objects). `make demo` runs too. Every other command
line of README.md must match SKIPPED_BY_DESIGN, with the reason it cannot run here - so a
new README command is either run or its reason is written down."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
DOCUMENTS = [PROJECT / "README.md", PROJECT / "docs" / "recipient.md"]
FANOUT = re.compile(r"^(?:\.venv/bin/)?fanout$")
PLACEHOLDER_LINK = "https://…/"

# (pattern of the command line, why this test does not run it)
SKIPPED_BY_DESIGN: list[tuple[str, str]] = [
    (r"make install$", "creates .venv from the pinned files: the environment this test runs in"),
    (r"make (test|unit|integration|workflow|browser)$", "the test suites: this test is part of them"),
    (r"make bench$", "performance benchmarks: minutes, figures rather than pass/fail"),
    (r"make invoke$", "tests/workflow/test_cli.py::test_make_invoke_runs_every_example_event_through_its_function"),
    (r"SOURCE_DIR=\S+ make seed$", "needs MinIO (docker compose) at S3_ENDPOINT; the `fanout seed` line runs here"),
    (r"sam build && sam deploy --guided$", "needs an AWS account (and python3.13 or Docker for sam build)"),
]
# The only `fanout` lines not run here, each with the test that runs the same command instead.
FANOUT_NOT_RUN: list[tuple[str, str]] = [
    (
        r"\S*fanout (share|shares|revoke) .*--stack s3-fanout.*",
        (
            "needs the stack deployed on AWS: tests/workflow/test_share.py runs these commands against "
            "fanout serve, tests/integration/test_share_stack.py reads a stack's outputs on moto's CloudFormation"
        ),
    ),
    (r"\S*fanout serve .*", "serves until Ctrl-C: tests/workflow/test_serve.py runs it, with the AWS CLI and boto3"),
]
# `make` targets the README gives that run here as written.
MAKE_TARGETS_RUN = re.compile(r"make demo$")
# Seeding and verifying 5,000 objects takes about a minute on 2 busy cores.
COMMAND_TIMEOUT = 900
# What the README pipes `fanout` output into, done here without the tool.
PIPES = {"jq -r .page_url": lambda stdout: json.loads(stdout)["page_url"]}


@dataclass
class Command:
    source: str  # file:line
    text: str  # as written (continuations joined, comment kept)

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text.split(" | ")[0], comments=True)

    @property
    def env(self) -> dict[str, str]:
        assignments = {}
        for word in self.words:
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", word):
                break
            name, value = word.split("=", 1)
            assignments[name] = value
        return assignments

    @property
    def argv(self) -> list[str]:
        return self.words[len(self.env) :]

    @property
    def is_fanout(self) -> bool:
        argv = self.argv
        return bool(argv) and FANOUT.match(argv[0]) is not None

    @property
    def pipe(self) -> str | None:
        rest = self.text.split(" | ", 1)[1:]
        return rest[0].split("#")[0].strip() if rest else None


def commands(path: Path) -> list[Command]:
    """Each command line of the file's ```bash blocks (a trailing backslash continues it)."""
    found = []
    text = path.read_text(encoding="utf-8")
    for block in re.finditer(r"```bash\n(.*?)```", text, re.DOTALL):
        first_line = text[: block.start()].count("\n") + 2
        pending, start = "", 0
        for offset, line in enumerate(block.group(1).splitlines()):
            if not pending:
                start = first_line + offset
            pending += line.strip() if pending else line.rstrip()
            if pending.endswith("\\"):
                pending = pending[:-1].rstrip() + " "
                continue
            if pending.strip() and not pending.lstrip().startswith("#"):  # a comment line is no command
                found.append(Command(f"{path.name}:{start}", pending.strip()))
            pending = ""
    return found


def _bare(command: Command) -> str:
    return command.text.split("  #")[0].split(" # ")[0].strip()


def skip_reason(command: Command) -> str | None:
    bare = _bare(command)
    for pattern, reason in SKIPPED_BY_DESIGN:
        if re.fullmatch(pattern, bare):
            return reason
    return None


def not_run_reason(command: Command) -> str | None:
    """Why a `fanout` line of the docs is not run here (None: it runs)."""
    bare = _bare(command)
    return next((reason for pattern, reason in FANOUT_NOT_RUN if re.fullmatch(pattern, bare)), None)


def test_every_readme_command_is_run_or_skipped_by_design() -> None:
    readme = commands(PROJECT / "README.md")
    assert sum(c.is_fanout for c in readme) >= 5, "the README's fanout lines were not found"
    unaccounted = [
        f"{c.source}: {c.text}"
        for c in readme
        if not c.is_fanout and skip_reason(c) is None and not MAKE_TARGETS_RUN.fullmatch(_bare(c))
    ]
    assert unaccounted == [], "run these in this test or add them to SKIPPED_BY_DESIGN with the reason"
    skipped_fanout = [f"{c.source}: {c.text}" for d in DOCUMENTS for c in commands(d) if c.is_fanout and skip_reason(c)]
    assert skipped_fanout == [], "a fanout command of the docs must run here (or be in FANOUT_NOT_RUN, with why)"
    for pattern, reason in [*SKIPPED_BY_DESIGN, *FANOUT_NOT_RUN]:  # no stale entry: each matches a README line
        assert any(re.fullmatch(pattern, c.text.split("  #")[0].strip()) for c in readme), (pattern, reason)


def _argv(command: Command, tmp: Path, endpoint: str, page_url: str | None) -> list[str]:
    argv = command.argv[1:]
    out = []
    for word in argv:
        arg = word
        if word.startswith(PLACEHOLDER_LINK):
            assert page_url, f"{command.source}: no fanout run before it printed a link"
            arg = page_url
        elif word.startswith("./"):
            arg = str(tmp / word[2:])
        out.append(arg.replace("http://localhost:9000", endpoint))
    return [sys.executable, "-m", "fanout_local.cli", *out]


def test_readme_fanout_commands_run(s3: Any, moto_endpoint: str, tmp_path: Path) -> None:
    if "demo-bucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="demo-bucket")
    for key in ("reports/2024/q1.pdf", "reports/2024/q2.pdf", "misc/notes.txt"):  # events/ name reports/
        s3.put_object(Bucket="demo-bucket", Key=key, Body=f"%PDF {key}".encode())
    (tmp_path / "my-pdfs" / "2025").mkdir(parents=True)
    (tmp_path / "my-pdfs" / "a.pdf").write_bytes(b"%PDF a")
    (tmp_path / "my-pdfs" / "2025" / "b.pdf").write_bytes(b"%PDF b")

    page_url: str | None = None
    ran, failures = [], []
    for command in [c for d in DOCUMENTS for c in commands(d) if c.is_fanout and not_run_reason(c) is None]:
        done = subprocess.run(
            _argv(command, tmp_path, moto_endpoint, page_url),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
            cwd=PROJECT,
            env={**os.environ, **command.env},
        )
        ran.append(command.source)
        if done.returncode != 0:
            failures.append(f"{command.source}: {command.text}\n  exit {done.returncode}: {done.stderr[-1500:]}")
            continue
        stdout = done.stdout
        if command.pipe is not None:
            assert command.pipe in PIPES, f"{command.source}: teach this test the pipe {command.pipe!r}"
            stdout = PIPES[command.pipe](stdout)
        if command.argv[1] == "run":
            page_url = stdout.strip()
            assert re.fullmatch(r"http://\S+/index\.html\?\S+", page_url), f"{command.source}: {stdout!r}"
    assert failures == [], "\n".join(failures)
    assert len(ran) >= 7
    # The fetch lines downloaded what the run before them listed.
    assert (tmp_path / "downloads" / "reports" / "2024" / "q1.pdf").read_bytes() == b"%PDF reports/2024/q1.pdf"
    # The seed line uploaded ./my-pdfs under docs/.
    assert s3.get_object(Bucket="demo-bucket", Key="docs/2025/b.pdf")["Body"].read() == b"%PDF b"


def test_readme_make_targets_run_as_written() -> None:
    """`make demo`: the first command a newcomer types."""
    targets = [c for c in commands(PROJECT / "README.md") if MAKE_TARGETS_RUN.fullmatch(_bare(c))]
    assert targets, "README no longer shows `make demo`: update MAKE_TARGETS_RUN"
    for command in targets:
        done = subprocess.run(
            shlex.split(_bare(command)),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
            cwd=PROJECT,
        )
        assert done.returncode == 0, f"{command.source}: {command.text}\n{done.stderr[-3000:]}"
