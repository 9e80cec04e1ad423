"""``%om save [NAME]``: store the notebook this kernel runs in as a job."""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from omega_jupyter.magics import display
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser

TIMEOUT = 3  # seconds per request to a local Jupyter server


def save(ctx: CommandContext, argv: list[str]) -> Any:
    """Store this notebook (as last saved) in om.jobs, named NAME or after its file."""
    parser = CommandParser("save", save.__doc__ or "")
    parser.add_argument("name", nargs="?", help="Job name (default: the file name).")
    args = parser.parse(argv)
    path, notebook = find_notebook(ctx.shell)
    name = args.name or Path(path).stem
    meta = ctx.om.jobs.put(notebook, name)
    return display.Message(
        f"saved {path} as job {meta.name}@{meta.version} "
        "(the version last saved to disk: save the notebook first to include recent edits)"
    )


def find_notebook(shell: Any) -> tuple[str, dict]:
    """(path, notebook JSON) of the notebook this kernel belongs to, found through the Jupyter
    server's sessions API (or the session path Jupyter gives the kernel)."""
    if getattr(shell, "kernel", None) is None:
        raise UsageError(
            "%om save needs a notebook kernel; this is plain IPython. "
            "Store a file with om.jobs.put('file.ipynb', NAME)"
        )
    kernel = kernel_id()
    if kernel:
        for server in running_servers():
            found = _from_server(server, kernel)
            if found is not None:
                return found
    session = os.environ.get("JPY_SESSION_NAME") or shell.user_ns.get("__session__")
    if session and str(session).endswith(".ipynb") and Path(session).is_file():
        return str(session), json.loads(Path(session).read_text(encoding="utf-8"))
    raise UsageError(
        "cannot find this kernel's notebook: no running Jupyter server lists a session for it. "
        "Store a file with om.jobs.put('file.ipynb', NAME)"
    )


def kernel_id() -> str | None:
    try:
        from ipykernel import get_connection_file

        stem = Path(get_connection_file()).stem
    except Exception:
        return None
    return stem[len("kernel-") :] if stem.startswith("kernel-") else None


def running_servers() -> list[dict]:
    try:
        from jupyter_server.serverapp import list_running_servers

        return list(list_running_servers())
    except Exception:
        return []


def _from_server(server: dict, kernel: str) -> tuple[str, dict] | None:
    base = server.get("url", "")
    token = server.get("token", "")
    sessions = _get_json(f"{base}api/sessions", token)
    for session in sessions or []:
        if (session.get("kernel") or {}).get("id") == kernel and session.get(
            "type", "notebook"
        ) in (
            "notebook",
            None,
        ):
            path = session.get("path") or (session.get("notebook") or {}).get("path")
            quoted = urllib.parse.quote(path)
            model = _get_json(f"{base}api/contents/{quoted}?type=notebook&content=1", token)
            if model and model.get("content"):
                return path, model["content"]
    return None


def _get_json(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
