"""`--help` of every command names every default: each option whose default is a value (not
None, not a flag left off) shows `(default: X)` - the table is the parsers themselves, so a
new option or subcommand is checked without editing this file."""

from __future__ import annotations

import argparse

import pytest

from tests.support.cli import all_parsers

PARSERS = all_parsers()


def _shown(default: object) -> str:
    return f"(default: {default!r})" if isinstance(default, str) else f"(default: {default})"


def test_every_subcommand_is_in_the_table() -> None:
    assert {"fanout demo", "fanout run", "fanout seed", "fanout fetch", "fanout serve-lambda"} <= set(PARSERS)
    assert {"fanout serve", "fanout share", "fanout shares", "fanout revoke"} <= set(PARSERS)


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_help_shows_every_default(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # no wrapping inside a value such as 'stepfunctions-local'
    parser = PARSERS[command]
    text = " ".join(parser.format_help().split())
    with_defaults = [
        action
        for action in parser._actions
        if action.option_strings
        and action.default is not None
        and action.default is not False
        and action.default != argparse.SUPPRESS
    ]
    for action in with_defaults:
        assert _shown(action.default) in text, f"{command} {action.option_strings[0]}: no {_shown(action.default)}"
    # Nothing shows a default it does not have ("(default: None)", "(default: False)").
    assert "(default: None)" not in text
    assert "(default: False)" not in text


def test_the_defaults_are_really_there() -> None:
    """The check above is not vacuous: the options a user asks about show their values."""
    help_of = {name: " ".join(p.format_help().split()) for name, p in PARSERS.items()}
    assert "(default: 1000)" in help_of["fanout demo"]
    assert "(default: '.pdf')" in help_of["fanout run"]
    assert "(default: '')" in help_of["fanout run"]
    assert "(default: 8)" in help_of["fanout fetch"]
    assert "(default: 3001)" in help_of["fanout serve-lambda"]
    assert "(default: 8090)" in help_of["fanout serve"]
    assert "(default: 'fanout-manifests')" in help_of["fanout serve"]
