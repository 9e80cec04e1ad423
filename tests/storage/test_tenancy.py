"""Buckets as PostgreSQL roles: a client logged in with a bucket's credential works on its own
bucket and PostgreSQL refuses it everything else (storage/tenancy.py, docs/security.md).

Every test connects *as* the bucket credential and attacks from there: the server here trusts
local connections without a password, so what is proven is the role's confinement.
"""

from __future__ import annotations

import json
import uuid

import nbformat
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LinearRegression
from typer.testing import CliRunner

import omega_jupyter
from omega_jupyter.cli import app
from omega_jupyter.datasets.sql import run_sql
from omega_jupyter.exceptions import (
    GroupNotFoundError,
    ObjectNotFoundError,
    PermissionDeniedError,
    RunNotFoundError,
)
from omega_jupyter.logs.logger import OmegaLogger
from omega_jupyter.names import bucket_schema_name
from omega_jupyter.runtime.groups import GroupStore
from omega_jupyter.runtime.runs import RunStore
from omega_jupyter.storage import audit, credentials, tenancy
from omega_jupyter.storage.engine import get_database


def _name(tag: str) -> str:
    return f"{tag}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def service(postgres_url):
    """The service's client (the role that ran the migrations) on bucket ``a…``."""
    return omega_jupyter.setup(url=postgres_url, bucket=_name("a"))


@pytest.fixture
def other(service):
    """Another bucket with data of every kind, written by the service."""
    b = service[_name("b")]
    b.datasets.put(pd.DataFrame({"secret": [1, 2, 3]}), "sb")
    b.datasets.put({"token": "b-only"}, "sbdict")
    b.streams.put({"msg": "b-only"}, "sbstream")
    OmegaLogger(b).info("b-only log line")
    RunStore(b.db, b.bucket).create("job", "sbjob", "run")
    GroupStore(b.db, b.bucket).create("job", "sbjob", [{"x": 1}], max_parallel=1)
    return b


@pytest.fixture
def tenant(service, other):
    """A client of bucket ``a…`` logged in with a short-lived credential of that bucket."""
    url = credentials.bucket_credentials(service.db, service.bucket, ttl=600)
    client = omega_jupyter.setup(url=url, bucket=service.bucket)
    yield client
    client.db.dispose()


def _sql(client, statement: str, **params):
    with client.db.connect() as conn:
        return conn.execute(sa.text(statement), params).all()


# -- roles ------------------------------------------------------------------------------------
def test_each_bucket_has_a_role_named_for_this_database(service, tenant):
    with service.db.connect() as conn:
        prefix = tenancy.role_prefix(conn, create=False)
        row = conn.execute(
            sa.text("SELECT role FROM om_buckets WHERE bucket = :b"), {"b": service.bucket}
        ).one()
    assert prefix and row.role.startswith(prefix + "_") and len(row.role) <= 63
    assert tenancy.bucket_role_name(prefix, "x" * 63).__len__() <= 63
    [(user, session_user)] = _sql(tenant, "SELECT current_user, session_user")
    assert user == row.role and session_user.startswith(prefix + "_c_")


def test_the_service_keeps_full_access(service, other):
    assert _sql(service, "SELECT count(*) FROM om_apikeys")[0][0] >= 0
    buckets = {r[0] for r in _sql(service, "SELECT DISTINCT bucket FROM om_objects")}
    assert other.bucket in buckets


# -- the bucket's own data works --------------------------------------------------------------
def _frames(om):
    df = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    om.datasets.put(df, "frame")
    om.datasets.put(df, "frame", append=True)
    assert len(om.datasets.get("frame")) == 6
    assert om.datasets.getl("frame").query(x__gt=1).value["x"].tolist() == [2, 3, 2, 3]
    om.datasets.put(df, "frame")  # a new version drops the old table
    pd.testing.assert_frame_equal(om.datasets.get("frame"), df)
    om.datasets.drop("frame")
    assert not om.datasets.exists("frame")


def _kinds(om):
    om.datasets.put({"k": [1, 2]}, "pydata")
    assert om.datasets.get("pydata") == {"k": [1, 2]}
    om.datasets.put(np.arange(5), "array")
    assert om.datasets.get("array").tolist() == [0, 1, 2, 3, 4]
    assert sorted(om.datasets.list()) == ["array", "pydata"]


def _models(om):
    model = LinearRegression().fit([[1], [2], [3]], [2, 4, 6])
    om.models.put(model, "lr")
    om.models.put(model, "lr")
    assert om.models.versions("lr")["version"].tolist()[-1] == 2
    assert om.models.get("lr").predict([[4]])[0] == pytest.approx(8)


def _jobs(om):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    om.jobs.put(nb, "nb")
    assert om.jobs.get("nb").cells[0].source == "1 + 1"
    om.jobs.schedule("nb", "every 5 minutes")
    om.jobs.unschedule("nb")


def _streams(om):
    assert om.streams.put({"i": 1}, "events") == 1
    assert om.streams.put({"i": 2}, "events") == 2
    assert [m.data for m in om.streams.get("events").read()] == [{"i": 1}, {"i": 2}]


def _logs_and_runs(om):
    run_id = RunStore(om.db, om.bucket).create("job", "nb", "run")
    OmegaLogger(om).info("hello from the bucket")
    assert "hello from the bucket" in om.logger.dataframe()["message"].tolist()
    assert run_id in om.runtime.runs()["id"].tolist()
    assert RunStore(om.db, om.bucket).get(run_id).state == "queued"


@pytest.mark.parametrize(
    "operations",
    [_frames, _kinds, _models, _jobs, _streams, _logs_and_runs],
    ids=lambda f: f.__name__,
)
def test_a_bucket_credential_works_on_its_own_bucket(tenant, operations):
    operations(tenant)


# -- the attacks ------------------------------------------------------------------------------
def test_another_buckets_dataset_by_name_is_not_there(tenant, other):
    # the client refuses another bucket up front ...
    with pytest.raises(
        PermissionDeniedError, match=f"permission denied for bucket '{other.bucket}'"
    ):
        tenant[other.bucket]
    assert tenant[tenant.bucket].bucket == tenant.bucket
    # ... and a client that skips that check finds nothing: row-level security hides the rows
    sneaky = omega_jupyter.Omega(tenant.settings.replace(bucket=other.bucket))
    with pytest.raises(ObjectNotFoundError):
        sneaky.datasets.get("sb")
    with pytest.raises(ObjectNotFoundError):
        sneaky.datasets.get("sbdict")
    assert sneaky.datasets.list() == []


def test_another_buckets_physical_table_is_refused(tenant, other):
    table = other.datasets.metadata("sb").location
    schema = bucket_schema_name(other.bucket)
    with pytest.raises(PermissionDeniedError, match="permission denied for schema"):
        _sql(tenant, f'SELECT * FROM "{schema}"."{table}"')
    with pytest.raises(PermissionDeniedError, match="permission denied"):
        _sql(tenant, f'CREATE TABLE "{schema}".planted (a int)')
    with pytest.raises(PermissionDeniedError, match="permission denied"):
        tenant[other.bucket].datasets.put(pd.DataFrame({"a": [1]}), "planted")


@pytest.mark.parametrize("table", ["om_apikeys", "om_settings", "om_scheduler_loops"])
def test_service_tables_are_refused(tenant, table):
    with pytest.raises(PermissionDeniedError, match=f"permission denied for table {table}"):
        _sql(tenant, f"SELECT * FROM {table}")


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("om_objects", "bucket", None),
        ("om_blob_chunks", "bucket", None),
        ("om_runs", "bucket", None),
        ("om_run_groups", "bucket", None),
        ("om_logs", "bucket", None),
        ("om_streams", "bucket", None),
        ("om_stream_messages", "stream_id", "SELECT id FROM om_streams"),
        ("om_buckets", "bucket", None),
    ],
)
def test_shared_tables_show_only_the_buckets_rows(service, tenant, other, table, column, value):
    tenant.datasets.put({"mine": True}, "mine")
    tenant.streams.put({"mine": True}, "mine")
    OmegaLogger(tenant).info("mine")
    RunStore(tenant.db, tenant.bucket).create("job", "mine", "run")
    GroupStore(tenant.db, tenant.bucket).create("job", "mine", [{"x": 1}], max_parallel=1)
    seen = _sql(tenant, f"SELECT * FROM {table}")
    everything = _sql(service, f"SELECT * FROM {table}")
    assert seen and len(seen) < len(everything)
    if column == "bucket":
        assert {r._mapping["bucket"] for r in seen} == {tenant.bucket}
    else:
        mine = {r[0] for r in _sql(service, f"{value} WHERE bucket = :b", b=tenant.bucket)}
        assert {r._mapping[column] for r in seen} <= mine


def test_rows_of_another_bucket_cannot_be_written(tenant, other):
    with pytest.raises(PermissionDeniedError, match="row-level security"):
        _sql(
            tenant,
            "INSERT INTO om_logs (bucket, created, level, levelname, logger, message)"
            " VALUES (:b, now(), 20, 'INFO', 'x', 'planted')",
            b=other.bucket,
        )
    changed = _sql(
        tenant,
        "UPDATE om_runs SET state = 'cancelled' WHERE bucket = :b RETURNING id",
        b=other.bucket,
    )
    assert changed == []
    assert other.runtime.runs()["state"].tolist() == ["queued"]


def test_another_buckets_runs_logs_and_messages_are_invisible(tenant, other):
    [run_id] = other.runtime.runs()["id"].tolist()
    with pytest.raises(RunNotFoundError):
        RunStore(tenant.db, other.bucket).get(run_id)
    assert _sql(tenant, "SELECT * FROM om_runs WHERE id = :r", r=run_id) == []
    assert _sql(tenant, "SELECT * FROM om_logs WHERE message = 'b-only log line'") == []
    assert _sql(tenant, "SELECT * FROM om_stream_messages WHERE data->>'msg' = 'b-only'") == []


def test_another_buckets_run_groups_are_invisible_and_unwritable(tenant, other):
    [group_id] = other.runtime.groups().id.tolist()
    with pytest.raises(GroupNotFoundError):
        tenant.runtime.group(group_id)
    with pytest.raises(GroupNotFoundError):
        GroupStore(tenant.db, other.bucket).get(group_id)
    assert _sql(tenant, "SELECT * FROM om_run_groups WHERE id = :g", g=group_id) == []
    changed = _sql(tenant, "UPDATE om_run_groups SET cancelled = now() RETURNING id")
    assert changed == []
    with pytest.raises(PermissionDeniedError, match="row-level security"):
        GroupStore(tenant.db, other.bucket).create("job", "planted", [{}], max_parallel=1)
    row = GroupStore(other.db, other.bucket).get(group_id)
    assert (row.pending, row.cancelled) == ([0], None)


@pytest.mark.parametrize(
    "statement",
    [
        "SET ROLE root",
        "SET ROLE {other_role}",
        "SELECT set_config('role', 'root', false)",
        "SET SESSION AUTHORIZATION root",
    ],
)
def test_the_credential_cannot_become_another_role(service, tenant, other, statement):
    other_role = tenancy.ensure_bucket(service.db, other.bucket)
    with pytest.raises(PermissionDeniedError, match="permission denied"):
        _sql(tenant, statement.format(other_role=other_role))


def test_reset_role_keeps_the_bucket_role_and_set_role_none_leaves_nothing(tenant):
    with tenant.db.connect() as conn:
        bucket_role = conn.execute(sa.text("SELECT current_user")).scalar()
        conn.execute(sa.text("RESET ROLE"))  # back to the login's default: the bucket role
        assert conn.execute(sa.text("SELECT current_user")).scalar() == bucket_role
        with pytest.raises(PermissionDeniedError, match="permission denied"):
            conn.execute(sa.text("SELECT * FROM om_apikeys")).all()
    with tenant.db.connect() as conn:
        conn.execute(sa.text("SET ROLE NONE"))  # the login itself inherits nothing
        with pytest.raises(PermissionDeniedError, match="permission denied"):
            conn.execute(sa.text("SELECT count(*) FROM om_objects")).all()
        conn.rollback()
        conn.execute(sa.text("RESET ROLE"))  # the pooled session goes back as it came


def test_server_files_and_settings_are_refused(tenant, service):
    with pytest.raises(PermissionDeniedError, match="permission denied"):
        _sql(tenant, "SELECT pg_read_file('/etc/passwd')")
    with pytest.raises(PermissionDeniedError, match="must be superuser"):
        _sql(tenant, "SELECT current_setting('data_directory')")
    # a custom setting is no key to anything: policies follow the role, not settings
    assert _sql(tenant, "SELECT set_config('omega.bucket', :b, false)", b="anything")
    assert {r[0] for r in _sql(tenant, "SELECT DISTINCT bucket FROM om_objects")} <= {tenant.bucket}


def test_dblink_cannot_log_in_as_the_service(service, tenant, postgres_url):
    with service.db.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS dblink"))
    database = sa.make_url(postgres_url).database
    with pytest.raises(sa.exc.DBAPIError, match="password is required"):
        _sql(
            tenant,
            "SELECT * FROM dblink(:c, 'SELECT hash FROM om_apikeys') AS t(h text)",
            c=f"host=127.0.0.1 dbname={database} user=root",
        )


# -- expiry -----------------------------------------------------------------------------------
def test_an_expired_credential_is_ended_and_dropped(service):
    url = credentials.bucket_credentials(service.db, service.bucket, ttl=600)
    client = omega_jupyter.setup(url=url, bucket=service.bucket)
    client.datasets.put({"v": 1}, "before")
    login = sa.make_url(url).username
    with service.db.begin() as conn:
        conn.execute(sa.text(f"ALTER ROLE \"{login}\" VALID UNTIL '2000-01-01'"))
    assert login in credentials.sweep_credentials(service.db)
    with pytest.raises(omega_jupyter.exceptions.OmegaError):
        client.datasets.get("before")
    client.db.dispose()
    assert not _sql(service, "SELECT 1 FROM pg_roles WHERE rolname = :r", r=login)


def test_credentials_are_reused_for_half_their_life(service):
    first = credentials.cached_bucket_credentials(service.db, service.bucket, ttl=600)
    assert credentials.cached_bucket_credentials(service.db, service.bucket, ttl=600) == first
    assert get_database(first).url.username != service.db.url.username


# -- om bucket ---------------------------------------------------------------------------------
def test_om_bucket_create_ls_drop(database_url):
    name = _name("cli")
    run = lambda *args: CliRunner().invoke(app, ["--url", database_url, "--json", *args])  # noqa: E731
    assert run("bucket", "create", name).exit_code == 0
    listed = {row["bucket"]: row for row in json.loads(run("bucket", "ls").stdout)}
    assert listed[name]["objects"] == 0
    db = get_database(database_url)
    if db.is_postgres:
        role = listed[name]["role"]
        with db.connect() as conn:
            owner = conn.execute(
                sa.text("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = :s"),
                {"s": bucket_schema_name(name)},
            ).scalar()
        assert owner == f'"{role}"' or owner == role
    om = omega_jupyter.setup(url=database_url, bucket=name)
    kept = om.datasets.put(pd.DataFrame({"a": [1]}), "kept")
    om.streams.put({"m": 1}, "s")
    refused = run("bucket", "drop", name)
    assert refused.exit_code != 0 and "holds 1 object(s)" in refused.output
    assert om.datasets.exists("kept")
    assert run("bucket", "drop", name, "--force").exit_code == 0
    assert not om.datasets.exists("kept") and om.streams.list() == []
    if not db.is_postgres:  # its data table went too
        with db.connect() as conn:
            tables = conn.execute(sa.text("SELECT name FROM sqlite_master")).scalars()
            assert kept.location not in set(tables)
    assert name not in {row["bucket"] for row in json.loads(run("bucket", "ls").stdout)}
    if db.is_postgres:
        with db.connect() as conn:
            assert not conn.execute(
                sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
            ).first()
    assert run("bucket", "drop", name).exit_code != 0  # gone


# -- audit ------------------------------------------------------------------------------------
def test_versions_record_who_wrote_them(database_url):
    om = omega_jupyter.setup(url=database_url, bucket=_name("w"))
    assert om.datasets.put({"v": 1}, "d").created_by.startswith("os:")
    with audit.acting_as("key:abc123"):
        om.datasets.put({"v": 2}, "d")
        om.models.put(LinearRegression().fit([[1], [2]], [1, 2]), "m")
    assert om.datasets.metadata("d").created_by == "key:abc123"
    assert om.models.metadata("m").created_by == "key:abc123"
    assert om.datasets.put({"v": 3}, "d").created_by.startswith("os:")


def test_a_bucket_client_runs_sql_as_itself(tenant):
    tenant.datasets.put(pd.DataFrame({"a": [1, 2, 3]}), "nums")
    assert credentials.bucket_database(tenant.db, tenant.bucket) is tenant.db
    assert not credentials.is_service(tenant.db)
    assert run_sql(tenant.datasets, "SELECT SUM(a) AS s FROM nums").s.tolist() == [6]


def test_sweep_all_ends_every_credential(service):
    url = credentials.bucket_credentials(service.db, service.bucket, ttl=600)
    login = sa.make_url(url).username
    assert login in credentials.sweep_credentials(service.db, revoke_all=True)
    with pytest.raises(omega_jupyter.exceptions.DatabaseUnavailableError):
        omega_jupyter.setup(url=url, bucket=service.bucket).datasets.list()


def test_a_swept_cached_credential_is_replaced(service):
    first = credentials.cached_bucket_credentials(service.db, service.bucket, ttl=600)
    credentials.sweep_credentials(service.db, revoke_all=True)
    second = credentials.cached_bucket_credentials(service.db, service.bucket, ttl=600)
    assert second != first
    assert omega_jupyter.setup(url=second, bucket=service.bucket).datasets.list() == []


def test_a_users_credentials_are_one_per_bucket_and_revoked_together(service, other):
    team = _name("team")
    service[team].datasets.put({"team": True}, "shared")
    urls = credentials.user_credentials(service.db, [service.bucket, team, team], ttl=600)
    assert list(urls) == [service.bucket, team]
    own = omega_jupyter.setup(url=urls[service.bucket], bucket=service.bucket)
    mate = omega_jupyter.setup(url=urls[team], bucket=team)
    assert mate.datasets.get("shared") == {"team": True}
    mate.datasets.put(pd.DataFrame({"x": [1]}), "by-member")  # belongs to the bucket's role
    with pytest.raises(PermissionDeniedError, match="permission denied"):
        own[team].datasets.get("shared")  # each credential reaches its own bucket only
    with pytest.raises(PermissionDeniedError, match="permission denied"):
        mate[other.bucket].datasets.get("sb")
    logins = {sa.make_url(u).username for u in urls.values()}
    # the service's own URL is no credential: revoking leaves it alone
    revoked = credentials.revoke_credentials(service.db, [*urls.values(), service.db.url])
    assert set(revoked) == logins
    assert not _sql(service, "SELECT 1 FROM pg_roles WHERE rolname = ANY(:r)", r=list(logins))
    with pytest.raises((sa.exc.OperationalError, omega_jupyter.exceptions.OmegaError)):
        get_database(urls[team]).engine.connect().close()
    # what the member wrote outlives her credential
    pd.testing.assert_frame_equal(service[team].datasets.get("by-member"), pd.DataFrame({"x": [1]}))
    assert credentials.revoke_credentials(service.db, list(urls.values())) == []
