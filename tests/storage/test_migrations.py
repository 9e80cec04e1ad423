"""Schema management: created on first use, upgraded by Alembic, refused when not current."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import omega_jupyter
from omega_jupyter.exceptions import (
    ConfigurationError,
    DatabaseUnavailableError,
    SchemaOutdatedError,
)
from omega_jupyter.storage import migrate
from omega_jupyter.storage.engine import get_database


def revision(url: str) -> str | None:
    with get_database(url).connect() as conn:
        return migrate.current_revision(conn)


def test_empty_database_is_created_on_first_use(fresh_database_url):
    engine = sa.create_engine(fresh_database_url)
    try:
        assert not sa.inspect(engine).has_table("om_objects")
    finally:
        engine.dispose()
    om = omega_jupyter.setup(url=fresh_database_url, bucket="b")
    assert om.datasets.list() == []
    assert revision(fresh_database_url) == migrate.head_revision()
    om.datasets.put({"a": 1}, "x")
    assert om.datasets.get("x") == {"a": 1}


def test_upgrade_is_idempotent(fresh_database_url):
    db = get_database(fresh_database_url)
    head = migrate.head_revision()
    with db.connect() as conn:
        assert migrate.upgrade(conn) == (None, head)
        conn.commit()
    with db.connect() as conn:
        assert migrate.upgrade(conn) == (head, head)
        conn.commit()
    with db.connect() as conn:
        migrate.ensure_current(conn)  # no error, nothing to do


def test_older_schema_is_refused_until_upgraded(fresh_database_url):
    db = get_database(fresh_database_url)
    with db.connect() as conn:
        migrate.upgrade(conn, "0001")
        conn.commit()
    om = omega_jupyter.setup(url=fresh_database_url, bucket="b")
    with pytest.raises(SchemaOutdatedError, match="om db upgrade"):
        om.datasets.list()
    with db.connect() as conn:
        assert migrate.upgrade(conn)[0] == "0001"
        conn.commit()
    assert om.datasets.list() == []


def test_tables_without_version_are_refused(fresh_database_url):
    db = get_database(fresh_database_url)
    with db.connect() as conn:
        conn.execute(sa.text("CREATE TABLE om_objects (id integer)"))
        conn.commit()
    om = omega_jupyter.setup(url=fresh_database_url, bucket="b")
    with pytest.raises(SchemaOutdatedError, match="no schema version") as info:
        om.datasets.list()
    assert "empty database" in str(info.value)


def test_unknown_version_is_refused(fresh_database_url):
    db = get_database(fresh_database_url)
    with db.connect() as conn:
        migrate.upgrade(conn)
        conn.execute(sa.text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '9999'"))
        conn.commit()
    om = omega_jupyter.setup(url=fresh_database_url, bucket="b")
    with pytest.raises(SchemaOutdatedError, match="newer") as info:
        om.datasets.put({"a": 1}, "x")
    assert "upgrade the omega_jupyter package" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://root:s3cret@127.0.0.1:1/x",
        "postgresql+psycopg://root:s3cret@127.0.0.1:5432/omega_no_such_database",
    ],
    ids=["closed-port", "missing-database"],
)
def test_unreachable_database(url):
    om = omega_jupyter.setup(url=url, bucket="b")
    with pytest.raises(DatabaseUnavailableError) as info:
        om.datasets.list()
    message = str(info.value)
    assert "127.0.0.1" in message and "s3cret" not in message
    with pytest.raises(DatabaseUnavailableError):
        om.datasets.put({"a": 1}, "x")


@pytest.mark.parametrize("url", ["not a url", "mysql://u@h/db", "oracle://u@h/db"])
def test_bad_urls(url):
    with pytest.raises(ConfigurationError):
        omega_jupyter.setup(url=url, bucket="b").datasets.list()


def test_upgrade_from_0005_keeps_runs_and_adds_result_stream(fresh_database_url):
    from alembic import command

    from omega_jupyter.runtime.tables import runs
    from omega_jupyter.storage.metadata import now

    # om_runs as revision 0005 has it: without result_stream
    runs_0005 = sa.table(
        "om_runs", *(sa.column(c.name, c.type) for c in runs.columns if c.name != "result_stream")
    )
    row = {
        "id": "r1",
        "bucket": "b",
        "kind": "job",
        "target": "report",
        "action": "run",
        "parameters": {"x": 1},
        "state": "succeeded",
        "trigger": "manual",
        "submitted": now(),
        "attempt": 1,
    }
    db = get_database(fresh_database_url)
    with db.connect() as conn:
        migrate.upgrade(conn, "0005")
        conn.execute(sa.insert(runs_0005).values(**row))
        conn.commit()
    with db.connect() as conn:
        assert migrate.upgrade(conn) == ("0005", migrate.head_revision())
        conn.commit()
    om = omega_jupyter.setup(url=fresh_database_url, bucket="b")
    old = om.runtime.run("r1").record
    assert (old.state, old.parameters, old.result_stream) == ("succeeded", {"x": 1}, None)
    new_id = om.runtime.runs_store.create("script", "etl", "run", result_stream="events")
    assert om.runtime.run(new_id).record.result_stream == "events"
    streams = om.runtime.runs().set_index("id")["result_stream"]
    assert streams[new_id] == "events" and streams.isna()["r1"]
    with db.connect() as conn:  # and back: the column goes, the runs stay
        command.downgrade(migrate._config(conn), "0005")
        conn.commit()
        assert "result_stream" not in {c["name"] for c in sa.inspect(conn).get_columns("om_runs")}
        ids = conn.execute(sa.select(runs_0005.c.id).order_by(runs_0005.c.id)).scalars().all()
        assert sorted(ids) == sorted(["r1", new_id])


def test_upgrade_to_0007_registers_used_buckets_and_tags_blob_chunks(fresh_database_url) -> None:
    """0007 gives existing blob chunks their object's bucket; on PostgreSQL the upgrade
    creates a role (owning its schema) for every bucket in use. Downgrade drops the roles."""
    from alembic import command

    from omega_jupyter.storage import credentials
    from omega_jupyter.storage.metadata import now

    db = get_database(fresh_database_url)
    with db.connect() as conn:
        migrate.upgrade(conn, "0006")
        conn.execute(
            sa.text(
                "INSERT INTO om_objects (bucket, store, name, version, kind, created, modified,"
                " size, location, kind_meta, attributes) VALUES ('old', 'datasets', 'f', 1,"
                " 'file', :t, :t, 1, 'blob1', '{}', '{}')"
            ),
            {"t": now()},
        )
        conn.execute(
            sa.text("INSERT INTO om_blob_chunks (blob_id, seq, data) VALUES ('blob1', 0, :d)"),
            {"d": b"x"},
        )
        conn.commit()
    with db.connect() as conn:
        assert migrate.upgrade(conn) == ("0006", migrate.head_revision())
        conn.commit()
        chunk_bucket = conn.execute(sa.text("SELECT bucket FROM om_blob_chunks")).scalar()
        role = conn.execute(sa.text("SELECT role FROM om_buckets WHERE bucket = 'old'")).scalar()
    assert chunk_bucket == "old"
    if not db.is_postgres:
        assert role is None
        return
    om = omega_jupyter.setup(url=credentials.bucket_credentials(db, "old", ttl=60), bucket="old")
    with om.db.connect() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar() == role
        assert conn.execute(sa.text("SELECT count(*) FROM om_blob_chunks")).scalar() == 1
    om.db.dispose()
    with db.connect() as conn:
        command.downgrade(migrate._config(conn), "0006")
        conn.commit()
        assert not conn.execute(
            sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
        ).first()
