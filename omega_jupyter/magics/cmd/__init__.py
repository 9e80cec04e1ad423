"""One module per ``%om`` subcommand; each exposes one function ``(ctx, argv) -> result``."""

from omega_jupyter.magics.cmd import (
    browse,
    drop,
    fit,
    get,
    info,
    log,
    ls,
    predict,
    put,
    read_csv,
    run,
    runs,
    save,
    schedule,
    sql,
    versions,
)

__all__ = [
    "browse",
    "drop",
    "fit",
    "get",
    "info",
    "log",
    "ls",
    "predict",
    "put",
    "read_csv",
    "run",
    "runs",
    "save",
    "schedule",
    "sql",
    "versions",
]
