"""Argument parsing for ``%om`` subcommands: errors are one-line ``UsageError``s."""

from __future__ import annotations

import argparse
import shlex
from typing import Any, NoReturn

from IPython.core.error import UsageError


class HelpShown(Exception):
    """``-h`` printed a subcommand's help; the command does nothing else."""


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` for one subcommand that never exits the kernel."""

    def __init__(self, command: str, description: str) -> None:
        super().__init__(prog=f"%om {command}", description=description, add_help=True)

    def error(self, message: str) -> NoReturn:
        usage = " ".join(self.format_usage().split())
        raise UsageError(f"{message} — {usage}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise HelpShown()

    def parse(self, argv: list[str]) -> Any:
        return self.parse_args(argv)


def split_line(line: str) -> list[str]:
    """Shell-like words of a magic line (quotes group words; a ``#`` that starts a word
    outside quotes starts a comment, as in a shell: ``%om ls  # everything``)."""
    try:
        return shlex.split(strip_comment(line), posix=True)
    except ValueError as exc:
        raise UsageError(f"cannot read the line: {exc} (check the quotes)") from None


def strip_comment(line: str) -> str:
    """``line`` without a trailing shell comment (``#`` at a word's start, outside quotes)."""
    quote, i = "", 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1  # an escaped character inside double quotes
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
        i += 1
    return line
