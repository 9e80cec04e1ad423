"""Read-only SQL over datasets: table names in a query are dataset names.

A query is parsed (sqlglot), checked to be one SELECT (or WITH … SELECT) that reads nothing but
datasets, then rewritten so that every dataset name becomes a CTE over the version's physical
table with the user's column names. Users never see or name physical tables.

The checks here make errors clear; they are not what keeps a query in its bucket. On
PostgreSQL the query runs logged in as the bucket (its short-lived credential, see
storage/tenancy.py) in a READ ONLY transaction, sent with the extended protocol so that the
server accepts exactly one statement: whatever the text says, it reads only what the bucket's
role may read. SQLite runs it on a read-only connection (SQLite is single-user).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from omega_jupyter.datasets.lazy.plan import source_plan
from omega_jupyter.exceptions import (
    InvalidQueryError,
    ObjectNotFoundError,
    PermissionDeniedError,
)
from omega_jupyter.names import parse_ref
from omega_jupyter.storage import credentials
from omega_jupyter.storage.engine import INSUFFICIENT_PRIVILEGE
from omega_jupyter.storage.metadata import Metadata

if TYPE_CHECKING:
    from sqlglot import exp

    from omega_jupyter.datasets.store import DatasetStore

QUERYABLE_KINDS = ("pandas.dataframe", "pandas.series")
# Typed functions that read server state or files; unknown (dialect-specific) functions are
# refused anyway, since some of them (query_to_xml, pg_read_file, set_config) run arbitrary SQL,
# read files or change settings.
_DENIED_FUNCTIONS = {"currentschema", "currentuser", "sessionuser", "currentdatabase"}
_ALLOWED_ANONYMOUS = {"printf", "strftime", "julianday", "unixepoch", "iif", "instr", "ifnull"}


def run_sql(store: DatasetStore, sql: str) -> pd.DataFrame:
    """Run one read-only ``SELECT`` whose tables are datasets of ``store``'s bucket."""
    compiled = compile_sql(store, sql)
    if store.db.is_postgres:
        return _run_postgres(store, compiled)
    return _run_sqlite(store, compiled)


def compile_sql(store: DatasetStore, sql: str) -> str:
    """The database SQL for ``sql``: checked, with dataset names mapped to their tables."""
    import sqlglot
    from sqlglot import exp

    dialect = "postgres" if store.db.is_postgres else "sqlite"
    statement = _parse_one(sql, dialect)
    _check_read_only(statement)
    _check_functions(statement)
    ctes = _rewrite_tables(store, statement, dialect)
    if ctes:
        key = "with_" if "with_" in type(statement).arg_types else "with"
        existing = statement.args.get(key)
        nodes = [
            exp.CTE(
                this=sqlglot.parse_one(body, read=dialect),
                alias=exp.TableAlias(this=exp.to_identifier(alias)),
            )
            for alias, body in ctes
        ]
        if existing is None:
            statement.set(key, exp.With(expressions=nodes))
        else:
            existing.set("expressions", [*nodes, *existing.expressions])
    return statement.sql(dialect=dialect)


def _parse_one(sql: str, dialect: str) -> exp.Expression:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    if not isinstance(sql, str) or not sql.strip():
        raise InvalidQueryError("the query is empty: write one SELECT statement")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        raise InvalidQueryError(
            f"cannot parse the query ({first}): write one SELECT statement"
        ) from None
    if len(statements) != 1:
        raise InvalidQueryError(
            f"write exactly one SELECT statement (found {len(statements)} statements)"
        )
    statement = statements[0]
    if not isinstance(statement, exp.Select | exp.Union | exp.Intersect | exp.Except):
        verb = type(statement).__name__.upper()
        raise InvalidQueryError(
            f"only SELECT (or WITH … SELECT) queries are allowed, not {verb}: datasets are "
            "changed with om.datasets.put/drop"
        )
    return statement


def _check_read_only(statement: exp.Expression) -> None:
    from sqlglot import exp

    for node in statement.walk():
        if isinstance(node, exp.DML | exp.DDL | exp.Command):
            raise InvalidQueryError(
                f"only SELECT queries are allowed; found {type(node).__name__.upper()} inside it"
            )
        if isinstance(node, exp.Into):
            raise InvalidQueryError("SELECT … INTO writes a table: use --into NAME instead")
        if isinstance(node, exp.Lock):
            raise InvalidQueryError("FOR UPDATE/SHARE locks rows: queries here only read")


def _check_functions(statement: exp.Expression) -> None:
    from sqlglot import exp

    for node in statement.find_all(exp.Func):
        if isinstance(node, exp.Anonymous):
            name = str(node.name).lower()
            if name not in _ALLOWED_ANONYMOUS:
                raise InvalidQueryError(
                    f"function {node.name}() is not allowed here: use standard SQL functions"
                )
        elif type(node).__name__.lower() in _DENIED_FUNCTIONS:
            raise InvalidQueryError(f"function {node.sql()} is not allowed here")


def _rewrite_tables(
    store: DatasetStore, statement: exp.Expression, dialect: str
) -> list[tuple[str, str]]:
    """Replace dataset names by CTE aliases; returns (alias, SELECT over the table) pairs."""
    from sqlglot import exp

    aliases: dict[int, str] = {}
    ctes: list[tuple[str, str]] = []
    for table in list(statement.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier):
            raise InvalidQueryError(
                "only dataset names and subqueries may appear in FROM, not table functions"
            )
        if table.args.get("db") or table.args.get("catalog"):
            raise InvalidQueryError(
                f"{table.sql(dialect=dialect)!r}: schema-qualified names are not datasets; "
                "name a dataset, quoted if it has '/' or spaces"
            )
        name = table.name
        if _names_a_cte(table, name):
            continue
        meta = _dataset(store, name)
        if meta.id not in aliases:
            aliases[meta.id] = f"_om_d{len(aliases)}"
            ctes.append((aliases[meta.id], _dataset_select(store, meta)))
        alias = table.args.get("alias") or exp.TableAlias(
            this=exp.to_identifier(parse_ref(name).name, quoted=True)
        )
        table.replace(exp.Table(this=exp.to_identifier(aliases[meta.id]), alias=alias))
    return ctes


def _names_a_cte(table: exp.Table, name: str) -> bool:
    """Whether ``name`` at ``table`` is a CTE in scope: one of a WITH that encloses it (a CTE
    of a sub-select does not name tables outside that sub-select)."""
    from sqlglot import exp

    node: exp.Expression | None = table
    while node is not None:
        with_ = node.args.get("with_") or node.args.get("with")
        if isinstance(with_, exp.With) and any(
            cte.alias_or_name == name for cte in with_.expressions
        ):
            return True
        node = node.parent
    return False


def _dataset(store: DatasetStore, name: str) -> Metadata:
    try:
        meta = store.meta.resolve(parse_ref(name))
    except (ObjectNotFoundError, ValueError):
        raise InvalidQueryError(
            f"{name!r} is not a dataset: tables in a query are dataset names "
            "(see %om ls datasets or om.datasets.list())"
        ) from None
    if meta.kind not in QUERYABLE_KINDS:
        raise InvalidQueryError(
            f"dataset {name!r} is a {meta.kind}; only DataFrames and Series can be queried"
        )
    return meta


def _dataset_select(store: DatasetStore, meta: Metadata) -> str:
    """SELECT of one dataset version with user column (and named index level) names."""
    plan = source_plan(store, meta, meta.kind_meta["columns"])
    outputs: dict[str, Any] = {}
    for col in plan.index.levels:
        if col.label is not None:
            outputs[str(col.label)] = col.expr
    for col in plan.columns:
        label = meta.kind_meta.get("series_name") if meta.kind == "pandas.series" else col.label
        outputs[str(label if label is not None else "value")] = col.expr
    query = sa.select(*(expr.label(name) for name, expr in outputs.items()))
    query = query.select_from(plan.base)
    engine = store.db.engine
    return str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


def _frame(columns: list[str], rows: list[Any]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=pd.Index(columns, dtype=object))


def _run_postgres(store: DatasetStore, sql: str) -> pd.DataFrame:
    import psycopg

    db = credentials.bucket_database(store.db, store.bucket)
    try:
        with db.connect() as conn, conn.begin():
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("SET TRANSACTION READ ONLY")
            # prepare: the extended protocol, which refuses a text of several statements
            cursor.execute(sql, prepare=True)
            columns = [d.name for d in cursor.description or []]
            rows = cursor.fetchall()
    except psycopg.Error as exc:
        lines = str(exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        if exc.sqlstate == INSUFFICIENT_PRIVILEGE:
            raise PermissionDeniedError(f"the query was refused: {reason}") from None
        raise InvalidQueryError(f"the query failed: {reason}") from None
    return _frame(columns, [tuple(r) for r in rows])


def _run_sqlite(store: DatasetStore, sql: str) -> pd.DataFrame:
    store.db.ensure_schema()
    database = store.db.url.database
    if not database or database == ":memory:":
        raise InvalidQueryError("queries need a SQLite file database, not an in-memory one")
    target = database if database.startswith("file:") else f"file:{database}"
    conn = sqlite3.connect(f"{target}?mode=ro", uri=True, timeout=60)
    try:
        conn.execute("PRAGMA query_only = ON")
        cursor = conn.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    except sqlite3.Error as exc:
        raise InvalidQueryError(f"the query failed: {exc}") from None
    finally:
        conn.close()
    return _frame(columns, rows)
