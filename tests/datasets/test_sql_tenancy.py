"""``%%om sql`` on PostgreSQL runs as the bucket's role, read-only, one statement.

Each attack is sent twice: through the magic (whose checks refuse it with a clear message)
and straight to the executor that runs checked queries (as if a check had missed it), where
PostgreSQL itself refuses it.
"""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

import omega_jupyter
from omega_jupyter.datasets.sql import _run_postgres
from omega_jupyter.exceptions import InvalidQueryError, PermissionDeniedError
from omega_jupyter.names import bucket_schema_name
from tests.magics_shell import make_shell, run, usage_error

CTE_ATTACK = (
    "SELECT k.* FROM (WITH om_apikeys AS (SELECT 1 AS a) SELECT * FROM om_apikeys) s, om_apikeys k"
)


@pytest.fixture
def om(postgres_url):
    om = omega_jupyter.setup(url=postgres_url, bucket=f"a{uuid.uuid4().hex[:8]}")
    om.datasets.put(pd.DataFrame({"city": ["Bern", "Basel", "Zug"], "a": [1, 2, 3]}), "sales")
    return om


@pytest.fixture
def other(om):
    other = om[f"b{uuid.uuid4().hex[:8]}"]
    other.datasets.put(pd.DataFrame({"secret": [42]}), "sb")
    return other


@pytest.fixture
def shell(om, postgres_url):
    return make_shell(postgres_url, om.bucket)


def test_queries_of_the_bucket_still_work(shell, om):
    got = run(shell, "%%om sql\nSELECT city FROM sales WHERE city LIKE 'B%' ORDER BY a")
    assert got.city.tolist() == ["Bern", "Basel"]
    got = run(
        shell,
        "%%om sql\nWITH big AS (SELECT * FROM sales WHERE a > 1)"
        " SELECT (SELECT COUNT(*) FROM big) AS n, MAX(a) AS m FROM sales",
    )
    assert got.to_dict("records") == [{"n": 2, "m": 3}]
    assert _run_postgres(om.datasets, "SELECT current_user AS u").u.tolist() != ["root"]


def test_the_cte_scoping_attack_is_refused(shell, om):
    assert "'om_apikeys' is not a dataset" in usage_error(shell, f"%%om sql\n{CTE_ATTACK}")
    with pytest.raises(PermissionDeniedError, match="permission denied for table om_apikeys"):
        _run_postgres(om.datasets, CTE_ATTACK)


def test_a_cte_names_tables_only_inside_its_scope(shell, om):
    got = run(
        shell,
        "%%om sql\nSELECT s.n, t.a FROM (WITH sales AS (SELECT 7 AS n) SELECT * FROM sales) s,"
        " sales t ORDER BY t.a",
    )
    assert got.to_dict("records") == [{"n": 7, "a": 1}, {"n": 7, "a": 2}, {"n": 7, "a": 3}]


@pytest.mark.parametrize(
    ("sql", "raises", "says"),
    [
        (
            "SELECT 1 AS one WHERE 'x' IN (SELECT hash FROM om_apikeys)",
            PermissionDeniedError,
            "permission denied for table om_apikeys",
        ),
        (
            "SELECT (SELECT max(value) FROM om_settings) AS v",
            PermissionDeniedError,
            "permission denied for table om_settings",
        ),
        ("SELECT pg_read_file('/etc/passwd')", PermissionDeniedError, "permission denied"),
        (
            "SELECT current_setting('data_directory')",
            PermissionDeniedError,
            "must be superuser",
        ),
        ("SET ROLE root", PermissionDeniedError, "permission denied to set role"),
        (
            "SELECT set_config('role', 'root', true)",
            PermissionDeniedError,
            "permission denied to set role",
        ),
        (
            "RESET ROLE; SELECT hash FROM om_apikeys",
            InvalidQueryError,
            "cannot insert multiple commands",
        ),
        ("SELECT 1; SELECT hash FROM om_apikeys", InvalidQueryError, "multiple commands"),
        ("CREATE TABLE planted (a int)", InvalidQueryError, "read-only transaction"),
        ("SELECT * INTO planted FROM om_objects", InvalidQueryError, "read-only transaction"),
    ],
)
def test_postgresql_refuses_what_the_checks_would_miss(shell, om, sql, raises, says):
    message = usage_error(shell, f"%%om sql\n{sql}")
    assert message  # the magic's checks refuse it first, with one line
    with pytest.raises(raises, match=says):
        _run_postgres(om.datasets, sql)


def test_another_buckets_table_and_rows_are_out_of_reach(shell, om, other):
    table = other.datasets.metadata("sb").location
    schema = bucket_schema_name(other.bucket)
    with pytest.raises(PermissionDeniedError, match="permission denied for schema"):
        _run_postgres(om.datasets, f'SELECT * FROM "{schema}"."{table}"')
    seen = _run_postgres(om.datasets, "SELECT DISTINCT bucket FROM om_objects")
    assert seen.bucket.tolist() == [om.bucket]
    assert "is not a dataset" in usage_error(shell, "%%om sql\nSELECT * FROM sb")


def test_dblink_cannot_log_in_as_the_service(om, postgres_url):
    with om.db.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS dblink"))
    database = sa.make_url(postgres_url).database
    query = (
        f"SELECT * FROM dblink('host=127.0.0.1 dbname={database} user=root',"
        " 'SELECT hash FROM om_apikeys') AS t(h text)"
    )
    with pytest.raises(InvalidQueryError, match="password is required"):
        _run_postgres(om.datasets, query)
