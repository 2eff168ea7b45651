"""``fanout``: the local tooling's CLI (console script ``fanout``, or ``python -m fanout_local.cli``).

Layout (as httpie's cli/): ``definition`` builds the parser - every command and option -
with values checked by ``argtypes`` at parse time; ``commands/<command>.py`` runs one
command (``command(args) -> exit code``); ``console`` and ``preflight`` hold what commands
share (output helpers; the bucket and endpoint checks). ``main`` below turns errors and
signals into one line and an exit code.

To add a command (say ``share``): write ``commands/share.py`` with ``command(args) -> int``
(heavy imports inside it: every command module is imported to build the parser); in
``definition.py`` add ``_share(sub)`` that adds its subparser, options (types from
``argtypes``) and ``set_defaults(handler=share.command)``, and list it in ``COMMANDS``.
tests/support/cli.all_parsers() then finds it for the argument tests.
"""

from __future__ import annotations

import gc

from fanout_fetch import interrupts
from fanout_local.errors import explain

from . import console
from .definition import build_parser

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 ok, 1 failed, 2 usage, 130 interrupted (SIGINT), 143 terminated (SIGTERM)
    (fanout_local.errors)."""
    # First: SIGINT and SIGTERM only set a flag from here on; each wait unwinds on it (interrupts).
    interrupts.install()
    args = build_parser().parse_args(argv)
    try:
        code = args.handler(args)
        interrupts.check()  # a signal after the last wait still asked to stop: say so
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as exc:
        if interrupts.received() is not None:
            return _interrupted()  # what broke after a signal broke because of the stop
        user_error = explain(exc)
        if user_error is None or args.debug:
            raise  # a bug (or --debug): the traceback is the report
        console.print_user_error(args.command, user_error)
        return user_error.exit_code
    return code


def _interrupted() -> int:
    console.print_interrupted()
    # Everything started is stopped: the interpreter's final collection of moto's objects took
    # seconds of CPU on a busy machine, which a signal should not wait for.
    gc.freeze()
    return interrupts.exit_code()
