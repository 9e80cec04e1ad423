"""``om models``: ls, info, versions, tag, drop, get."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omega_jupyter.cli import output
from omega_jupyter.cli.common_commands import list_objects, show_frame
from omega_jupyter.cli.context import state

if TYPE_CHECKING:
    from omega_jupyter.storage.metadata import Metadata

app = typer.Typer(no_args_is_help=True)


def summary(meta: Metadata) -> dict[str, Any]:
    return {
        "name": meta.name,
        "version": meta.version,
        "format": meta.kind_meta.get("format"),
        "class": meta.kind_meta.get("class", "").rsplit(".", 1)[-1],
        "tags": ",".join(meta.attributes.get("tags", [])),
        "size": meta.size,
        "created": meta.created.isoformat(),
    }


@app.command("ls")
def ls(
    ctx: typer.Context,
    pattern: Annotated[str | None, typer.Argument(help="Glob on names, e.g. 'churn*'.")] = None,
) -> None:
    """List models (latest version of each)."""
    st = state(ctx)
    columns = ["name", "version", "class", "format", "tags", "size", "created"]
    list_objects(st, st.client().models, pattern, summary, columns)


@app.command("info")
def info(ctx: typer.Context, name: Annotated[str, typer.Argument(help="m, m@3, m@prod, m^")]):
    """Metadata of one model version: format, library versions, lineage, signature."""
    from omega_jupyter.models.store import lineage_summary

    st = state(ctx)
    meta = st.client().models.metadata(name)
    data = meta.to_dict()
    if st.json:
        output.emit_json(data)
        return
    km = meta.kind_meta
    rows = [
        {"field": "name", "value": f"{meta.name}@{meta.version}"},
        {"field": "class", "value": km.get("class")},
        {"field": "format", "value": km.get("format")},
        {"field": "tags", "value": ",".join(meta.attributes.get("tags", []))},
        {"field": "size", "value": output.human_size(meta.size)},
        {"field": "created", "value": meta.created},
        {"field": "versions", "value": km.get("versions")},
        {"field": "sha256", "value": km.get("sha256")},
        {"field": "lineage", "value": lineage_summary(meta.attributes.get("lineage") or {})},
        {"field": "signature", "value": (km.get("signature") or {}).get("columns")},
    ]
    output.table(rows, ["field", "value"])


@app.command("versions")
def versions(ctx: typer.Context, name: str) -> None:
    """Every version of a model: created, tags, size, format, lineage."""
    st = state(ctx)
    show_frame(st, st.client().models.versions(name))


@app.command("tag")
def tag(ctx: typer.Context, name: str, version: int, tag: str) -> None:
    """Point TAG at VERSION of NAME (moved off any other version)."""
    st = state(ctx)
    meta = st.client().models.tag(name, version, tag)
    output.emit(st, summary(meta), f"{name}@{tag} -> version {meta.version}")


@app.command("drop")
def drop(
    ctx: typer.Context,
    name: str,
    version: Annotated[int | None, typer.Option("--version", help="Only this version.")] = None,
    force: Annotated[bool, typer.Option("--force", help="No error if missing.")] = False,
) -> None:
    """Remove a model (every version, or one with --version)."""
    st = state(ctx)
    dropped = st.client().models.drop(name, version=version, force=force)
    output.emit(st, {"name": name, "dropped": dropped}, f"dropped {name}" if dropped else "")


@app.command("get")
def get(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="m, m@3, m@prod, m^")],
    file: Annotated[Path | None, typer.Argument(help="Write the stored model file here.")] = None,
) -> None:
    """Write the stored model file (.skops or joblib) to FILE, or describe the model."""
    st = state(ctx)
    om = st.client()
    meta = om.models.metadata(name)
    if file is None:
        data = summary(meta)
        output.emit(st, data, f"{meta.name}@{meta.version}: {data['class']} ({data['format']})")
        return
    file.write_bytes(om.models.read_bytes(meta))
    output.emit(st, {**summary(meta), "file": str(file)}, f"wrote {file}")
