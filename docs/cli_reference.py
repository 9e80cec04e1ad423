"""Regenerate the command list in docs/cli.md from the ``om`` typer app.

Run ``python docs/cli_reference.py`` after changing a command; it rewrites the part of cli.md
between the ``<!-- commands -->`` markers.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from omega_jupyter.cli import app

DOC = Path(__file__).with_name("cli.md")
START, END = "<!-- commands -->", "<!-- /commands -->"


# typer vendors click from 0.2x on: recognise its classes by what they have, not by type.
def _is_argument(param: object) -> bool:
    return type(param).__name__.endswith("Argument")


def _usage(command: typer.core.TyperCommand, path: str) -> str:
    params = []
    for param in command.params:
        if _is_argument(param):
            name = str(param.name).upper()
            params.append(name if param.required else f"[{name}]")
    return " ".join([path, *params])


def _options(command: typer.core.TyperCommand) -> str:
    names = [
        "/".join(p.opts + p.secondary_opts)
        for p in command.params
        if not _is_argument(p) and p.name != "help" and not getattr(p, "hidden", False)
    ]
    return f" Options: `{'`, `'.join(names)}`." if names else ""


def commands(group: typer.core.TyperGroup, prefix: str = "om") -> list[str]:
    """One markdown line per command, depth first, hidden ones left out."""
    lines = []
    for name in group.list_commands(None):  # type: ignore[arg-type]
        command = group.get_command(None, name)  # type: ignore[arg-type]
        if command is None or command.hidden:
            continue
        path = f"{prefix} {name}"
        if hasattr(command, "list_commands"):
            lines.extend(commands(command, path))
            continue
        summary = (command.help or "").strip().splitlines()[0] if command.help else ""
        lines.append(f"- `{_usage(command, path)}` — {summary}{_options(command)}")
    return lines


def main() -> None:
    root = typer.main.get_command(app)
    block = "\n".join([START, *commands(root), END])
    text = DOC.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    DOC.write_text(pattern.sub(lambda _: block, text))


if __name__ == "__main__":
    main()
