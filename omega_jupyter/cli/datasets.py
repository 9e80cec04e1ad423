"""``om datasets``: put, get, ls, info and drop datasets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from omega_jupyter.cli import files, output
from omega_jupyter.cli.context import CliState, state
from omega_jupyter.cli.params import column_specs, parse_filters
from omega_jupyter.datasets.profile import (
    DEFAULT_BINS,
    DEFAULT_TOP,
    MAX_BINS,
    MAX_TOP,
    SUMMARY_COLUMNS,
)
from omega_jupyter.exceptions import InvalidFilterError
from omega_jupyter.storage.metadata import Metadata

app = typer.Typer(no_args_is_help=True)


def summary(meta: Metadata) -> dict[str, Any]:
    """The short description of one dataset version used by put, ls and get."""
    return {
        "name": meta.name,
        "kind": meta.kind,
        "version": meta.version,
        "rows": meta.kind_meta.get("rows"),
        "size": meta.size,
        "modified": meta.modified.isoformat(),
    }


# -- put ------------------------------------------------------------------------------------------
@app.command("put")
def put(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="CSV, Parquet, JSON (by extension) or any file.")
    ],
    name: Annotated[str, typer.Argument(metavar="NAME", help="Dataset name.")],
    append: Annotated[bool, typer.Option("--append", help="Append rows instead of replacing.")] = (
        False
    ),
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            metavar="KIND",
            help="Force a kind: pandas.dataframe, pandas.series, python.data (JSON), "
            "numpy.ndarray (.npy) or python.file (store the bytes as they are).",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            metavar="ENCODING",
            help="Text encoding of a CSV/TSV file (default utf-8; e.g. latin-1, cp1252).",
        ),
    ] = None,
) -> None:
    """Store FILE as dataset NAME (a new version; --append adds rows)."""
    st = state(ctx)
    om = st.client()
    if kind is not None:
        om.datasets.registry.for_kind(kind)  # unknown kinds fail before the file is read
    fmt = files.table_format(file) if file.is_file() else None
    is_csv = fmt in ("csv", "tsv") and kind in (None, "pandas.dataframe")
    if encoding is not None and not is_csv:
        raise typer.BadParameter("--encoding applies to CSV and TSV files", param_hint="--encoding")
    if is_csv:
        # Streamed in chunks by the store: any size, bounded memory, one atomic commit.
        with output.progress_bar(st, f"put {name}") as progress:
            sep = "\t" if fmt == "tsv" else ","
            meta = om.datasets.read_csv(
                file, name, append=append, progress=progress, sep=sep, encoding=encoding or "utf-8"
            )
    else:
        obj, kind = files.load(file, kind)
        if kind == files.FILE_KIND:
            meta = _put_file(st, om, Path(obj), name, append)
        else:
            with output.progress_bar(st, f"put {name}") as progress:
                meta = om.datasets.put(obj, name, append=append, kind=kind, progress=progress)
    info = summary(meta)
    rows = f", {info['rows']} rows" if info["rows"] is not None else ""
    output.emit(st, info, f"stored {name!r} ({meta.kind}, version {meta.version}{rows})")


def _put_file(st: CliState, om: Any, path: Path, name: str, append: bool) -> Metadata:
    total = path.stat().st_size
    with (
        output.progress_bar(st, f"put {name}", unit="bytes") as progress,
        path.open("rb") as handle,
    ):
        reader = files.ProgressReader(handle, total, progress)
        return om.datasets.put(reader, name, append=append, kind=files.FILE_KIND)


# -- get ------------------------------------------------------------------------------------------
@app.command("get")
def get(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help=r"Dataset name; modifiers: sales\[a,b], sales@2.")
    ],
    file: Annotated[
        Path | None,
        typer.Argument(
            metavar="FILE",
            help="Write here (.csv, .parquet, .json …; files: any name); '-' for stdout.",
        ),
    ] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            "-f",
            metavar="COL__OP=VALUE",
            help="column__op=value (eq ne lt lte gt gte in nin between isnull contains "
            "startswith endswith); repeatable.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, metavar="N", help="Rows to print.")
    ] = 20,
) -> None:
    """Print the first rows of NAME, or write it to FILE (format by extension)."""
    st = state(ctx)
    om = st.client()
    meta = om.datasets.metadata(name)
    filters = parse_filters(filter_ or [], column_specs(meta.kind_meta))
    if meta.kind in files.FRAME_KINDS:
        if file is None:
            _print_frame(st, om, name, meta, filters, limit)
        else:
            _write_frame(st, om, name, meta, file, filters)
        return
    if filters:
        raise InvalidFilterError(f"--filter applies to DataFrames, not to kind {meta.kind}")
    if meta.kind == files.FILE_KIND:
        _get_file(st, om, name, meta, file)
        return
    obj = om.datasets.get(name)
    if file is None:
        _print_object(st, meta, obj, limit)
        return
    if meta.kind == "numpy.ndarray":
        files.write_array(obj, file)
    else:
        files.write_python_data(obj, file, files.table_format(file))
    output.emit(st, {"name": meta.name, "file": str(file)}, f"wrote {name!r} to {file}")


def _print_frame(
    st: CliState, om: Any, name: str, meta: Metadata, filters: dict, limit: int
) -> None:
    chunks = om.datasets.get(name, chunksize=limit, **filters)
    try:
        head = next(iter(chunks), None)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    if head is None:  # nothing matched: an empty table with the stored columns
        head = pd.DataFrame(columns=[c["name"] for c in meta.kind_meta.get("columns", [])])
    head = _plain_index(head, meta)
    if st.json:
        output.emit_json(output.frame_records(head))
        return
    total = meta.kind_meta.get("rows")
    scope = "matching rows" if filters else f"{total} rows"
    caption = f"first {len(head)} of {scope}" if len(head) >= limit else f"{len(head)} rows"
    output.frame_table(head, title=f"{meta.name} (version {meta.version})", caption=caption)


def _write_frame(
    st: CliState, om: Any, name: str, meta: Metadata, target: Path, filters: dict
) -> None:
    to_stdout = str(target) == "-"
    fmt = "csv" if to_stdout else files.table_format(target)
    if fmt is None:
        raise ValueError(
            f"cannot write a DataFrame to {target.name}: use one of {files.known_extensions()} "
            "(or '-' for CSV on stdout)"
        )
    with output.progress_bar(st, f"get {name}") as progress:
        df = _plain_index(om.datasets.get(name, progress=progress, **filters), meta)
    if to_stdout:  # the CSV is the output: no message after it
        output.frame_for_output(df).to_csv(sys.stdout, index=False)
        return
    files.write_frame(df, target, fmt)
    output.emit(
        st,
        {"name": name, "file": str(target), "rows": len(df)},
        f"wrote {len(df)} rows of {name!r} to {target}",
    )


def _plain_index(df: pd.DataFrame | pd.Series, meta: Metadata) -> pd.DataFrame | pd.Series:
    """Drop row positions a filter left in a default index: they were never the user's data."""
    if meta.kind_meta.get("index", {}).get("type") == "range":
        return df.reset_index(drop=True)
    return df


def _get_file(st: CliState, om: Any, name: str, meta: Metadata, target: Path | None) -> None:
    if target is None:
        output.emit(
            st,
            summary(meta),
            f"{name!r} is a file of {output.human_size(meta.size)}: "
            "give a FILE to write it to (or '-' for stdout)",
        )
        return
    with (
        om.datasets.get(name) as source,
        output.progress_bar(st, f"get {name}", unit="bytes") as progress,
    ):
        if str(target) == "-":
            size = files.copy_stream(source, sys.stdout.buffer, meta.size, progress)
            return
        with files.atomic_path(target) as temp, temp.open("wb") as sink:
            size = files.copy_stream(source, sink, meta.size, progress)
    output.emit(
        st,
        {"name": name, "file": str(target), "size": size},
        f"wrote {output.human_size(size)} of {name!r} to {target}",
    )


def _print_object(st: CliState, meta: Metadata, obj: Any, limit: int) -> None:
    if st.json:
        output.emit_json(obj.tolist() if meta.kind == "numpy.ndarray" else obj)
    elif meta.kind == "numpy.ndarray":
        output.console().print(f"array {obj.dtype} {obj.shape}", markup=False)
        output.console().print(str(obj[:limit]), markup=False)
    else:
        output.console().print_json(data=obj)


# -- ls, info, drop -----------------------------------------------------------------------------
@app.command("ls")
def ls(
    ctx: typer.Context,
    pattern: Annotated[
        str | None, typer.Argument(metavar="PATTERN", help="Glob pattern, e.g. 'sales*'.")
    ] = None,
) -> None:
    """List datasets (newest version of each)."""
    st = state(ctx)
    metas = st.client().datasets.list(pattern, raw=True)
    rows = [summary(m) for m in metas]
    if st.json:
        output.emit_json(rows)
        return
    for row in rows:
        row["size"] = output.human_size(row["size"])
    output.table(rows, ["name", "kind", "version", "rows", "size", "modified"])


@app.command("info")
def info(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Dataset name.")]
) -> None:
    """Metadata of NAME: kind, rows, columns and dtypes, size, attributes, versions."""
    st = state(ctx)
    om = st.client()
    meta = om.datasets.metadata(name)
    versions = om.datasets.versions(meta.name)
    data = {
        **summary(meta),
        "bucket": meta.bucket,
        "created": meta.created.isoformat(),
        "columns": [
            {"name": c["name"], "dtype": c["dtype"]} for c in meta.kind_meta.get("columns", [])
        ],
        "index": [
            {"name": lv["name"], "dtype": lv["dtype"]}
            for lv in meta.kind_meta.get("index", {}).get("levels", [])
        ],
        "attributes": meta.attributes,
        "versions": output.frame_records(versions),
    }
    for key in ("shape", "dtype", "type", "filename", "sha256"):
        if key in meta.kind_meta:
            data[key] = meta.kind_meta[key]
    if st.json:
        output.emit_json(data)
        return
    _print_info(data)


def _print_info(data: dict) -> None:
    nested = ("columns", "index", "versions", "attributes")
    fields = [{"field": k, "value": v} for k, v in data.items() if k not in nested]
    fields[[f["field"] for f in fields].index("size")]["value"] = output.human_size(data["size"])
    fields.append({"field": "attributes", "value": data["attributes"]})
    output.table(fields, ["field", "value"], title=f"dataset {data['name']}")
    if data["columns"]:
        output.table(data["index"] + data["columns"], ["name", "dtype"], title="columns")
    output.table(data["versions"], ["version", "created", "kind", "size", "rows"], title="versions")


@app.command("profile")
def profile(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help=r"Dataset name (sales@2 works).")],
    bins: Annotated[
        int, typer.Option("--bins", min=1, max=MAX_BINS, help="Histogram bins (numeric).")
    ] = DEFAULT_BINS,
    top: Annotated[
        int, typer.Option("--top", min=1, max=MAX_TOP, help="Most frequent values shown.")
    ] = DEFAULT_TOP,
    exact: Annotated[
        bool, typer.Option("--exact", help="Exact distinct counts (slower on large data).")
    ] = False,
) -> None:
    """Statistics of every column of NAME over all rows.

    Per column dtype, count, nulls, distinct, mean, std, min, max and top values; --json adds
    the histograms and every top value. Distinct counts shown as ≈N are estimates (--exact
    counts them).
    """
    st = state(ctx)
    result = st.client().datasets.profile(name, bins=bins, top=top, exact=exact)
    if st.json:
        output.emit_json(result.to_dict())
        return
    output.table(
        result.summary_rows(),
        SUMMARY_COLUMNS,
        title=f"profile of dataset {result.name} (version {result.version}, {result.rows} rows)",
    )


@app.command("drop")
def drop(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Dataset name.")],
    force: Annotated[bool, typer.Option("--force", help="No error if NAME does not exist.")] = (
        False
    ),
) -> None:
    """Remove every version of NAME."""
    st = state(ctx)
    dropped = st.client().datasets.drop(name, force=force)
    message = f"dropped {name!r}" if dropped else f"{name!r} did not exist"
    output.emit(st, {"name": name, "dropped": dropped}, message)
