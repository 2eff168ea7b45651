"""Argument types of ``fanout-fetch`` (also used by ``fanout``): each one checks its value
completely at parse time, so a bad argument is one line and exit 2 before anything runs.

Kept apart from the command definitions (httpie-style). Stdlib only: this package installs
alone. A message shows the user's text as typed (not ``repr``: a backslash stays one
backslash); :class:`OneLineParser` escapes control characters, so it stays one line.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn
from urllib.parse import SplitResult, urlsplit

# More download threads than this gain nothing (one connection each) and run into the
# open-file limit (1024 by default) with their temp files.
MAX_CONCURRENCY = 256

_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def shown(text: str) -> str:
    """The user's text in quotes, as typed; control characters escaped (one line, no
    terminal escape sequences)."""
    return "'" + one_line(text) + "'"


def one_line(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode() for ch in text)


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line on stderr naming the problem, and exit 2 (argparse prints
    the whole usage first, which buries the problem)."""

    def error(self, message: str) -> NoReturn:
        if message.endswith("expected one argument"):
            # argparse reads a value that starts with "-" as the next option.
            message += " (a value that starts with '-' is given as --option=VALUE)"
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def bounded_int(minimum: int, maximum: int) -> Callable[[str], int]:
    """An integer from ``minimum`` to ``maximum``, written in decimal."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*[+-]?\d+\s*", text):
            raise argparse.ArgumentTypeError(f"{shown(text)} is not a whole number ({minimum}-{maximum})")
        value = int(text)
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{shown(text)} is out of range: give {minimum}-{maximum}")
        return value

    parse.__name__ = "integer"
    return parse


concurrency = bounded_int(1, MAX_CONCURRENCY)


def http_url(text: str, *, what: str = "URL") -> SplitResult:
    """``text`` split, if it is an absolute http(s) URL with a valid host and port."""
    if not text:
        raise argparse.ArgumentTypeError(f"the {what} is empty")
    try:
        parts = urlsplit(text)
        port = parts.port  # raises on a port that is no number or out of range
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a valid {what}: {exc}") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not an http(s) {what}: it must start with http(s)://")
    if re.search(r"\s", text) or not text.isprintable():
        raise argparse.ArgumentTypeError(f"{shown(text)} has a space or control character: not a {what}")
    host = parts.hostname or ""
    if not host or not _valid_host(host):
        raise argparse.ArgumentTypeError(f"{shown(text)} has no valid host name after {parts.scheme}://")
    if port == 0:
        raise argparse.ArgumentTypeError(f"{shown(text)} has port 0: give the port it listens on")
    return parts


def _valid_host(host: str) -> bool:
    """An IP address or a DNS name (labels of letters, digits, ``-``, ``_``; IDNA allowed)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone id (fe80::1%eth0) is allowed
    except ValueError:
        pass
    else:
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.removesuffix(".").split(".")
    # An all-digit last label is a mistyped IPv4 address (999.1.1.1), not a name.
    return len(ascii_host) <= 253 and all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def link_url(text: str) -> str:
    """The share page or index URL a recipient was sent."""
    http_url(text, what="link")
    return text


def output_dir(text: str) -> str:
    """A directory to write into: there already, or creatable (no file in the way, its
    nearest existing parent writable)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path names no directory: give one such as ./downloads")
    path = Path(text)
    try:
        if path.exists():
            if not path.is_dir():
                raise argparse.ArgumentTypeError(f"{shown(text)} is a file, not a directory")
            _check_writable(text, path)
            return text
        _check_creatable(text, path)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{shown(text)}: {exc.strerror or exc}") from None
    return text


def output_file(text: str) -> str:
    """A file to (over)write: not a directory, no file where a parent directory must be."""
    if not text:
        raise argparse.ArgumentTypeError("the file name is empty")
    path = Path(text)
    try:
        if path.is_dir() or text.endswith(("/", os.sep)):
            raise argparse.ArgumentTypeError(f"{shown(text)} is a directory: give a file path")
        if path.exists():
            if not os.access(path, os.W_OK):
                raise argparse.ArgumentTypeError(f"{shown(text)}: permission denied")
            return text
        _check_creatable(text, path)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{shown(text)}: {exc.strerror or exc}") from None
    return text


def _check_creatable(text: str, path: Path) -> None:
    """Every missing part of ``path`` can be created: its nearest existing ancestor is a
    writable directory (a file there would make each mkdir fail)."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"{shown(text)}: {shown(str(parent))} is a file, not a directory")
            _check_writable(text, parent)
            return


def _check_writable(text: str, directory: Path) -> None:
    if not os.access(directory, os.W_OK | os.X_OK):
        where = "" if str(directory) == text else f" (in {shown(str(directory))})"
        raise argparse.ArgumentTypeError(f"{shown(text)}: permission denied{where}")
