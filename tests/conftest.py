"""Fixtures shared by all tests: every store test runs on SQLite and on a real PostgreSQL.

``database_url`` is parametrized over both databases; ``om`` is a client on it bound to a fresh
bucket, so tests never see each other's objects. PostgreSQL comes from ``OMEGA_TEST_POSTGRES_URL``
(set by ``scripts/test.sh``, a fresh database per run); without it, a throw-away database is made
on the local server at 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import omega_jupyter
from omega_jupyter.client import Omega
from omega_jupyter.storage import tenancy

DATABASES = ["sqlite", "postgres"]


def _admin_url() -> str:
    return os.environ.get(
        "OMEGA_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres"
    )


def _create_pg_database(prefix: str) -> str:
    admin = sa.create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL unavailable ({exc.orig}); PostgreSQL variants skipped")
    finally:
        admin.dispose()
    return sa.make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(url: str) -> None:
    name = sa.make_url(url).database
    # Roles are the cluster's, not the database's: drop this database's bucket roles first.
    own = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with own.begin() as conn:
            tenancy.drop_roles(conn)
    except sa.exc.OperationalError:
        pass  # the database is gone already
    finally:
        own.dispose()
    admin = sa.create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database for this test session."""
    url = os.environ.get("OMEGA_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if os.environ.get("OMEGA_PG_SKIPPED"):
        pytest.skip(f"PostgreSQL unavailable: {os.environ['OMEGA_PG_SKIPPED']}")
    url = _create_pg_database("omega_pytest")
    yield url
    _drop_pg_database(url)


@pytest.fixture(scope="session", params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a migrated database, once per session for each of SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'omega.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def fresh_database_url(
    request: pytest.FixtureRequest, database_url: str, tmp_path
) -> Iterator[str]:
    """An empty database (no schema yet) of the same dialect as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    url = _create_pg_database("omega_fresh")
    yield url
    from omega_jupyter.storage.engine import _engines

    db = _engines.pop(url, None)
    if db is not None:
        db.dispose()
    _drop_pg_database(url)


@pytest.fixture
def bucket() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def om(database_url: str, bucket: str, tmp_path) -> Omega:
    """A client on the parametrized database, bound to a bucket of its own."""
    return omega_jupyter.setup(url=database_url, bucket=bucket, home=str(tmp_path / "home"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never read or write ~/.omega_jupyter, nor pick up a developer's settings."""
    for key in list(os.environ):
        if key.startswith("OMEGA_") and not key.startswith(("OMEGA_TEST_", "OMEGA_PG_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("OMEGA_HOME", str(tmp_path / "omega_home"))
    omega_jupyter.reset_default()
    yield
    omega_jupyter.reset_default()


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[object]:
    """One in-process Dask LocalCluster for the whole session; runtime tests share it.

    Its worker offers a ``GPU`` resource so that routing by resources can be tested.
    """
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        dashboard_address="127.0.0.1:0",
        resources={"GPU": 1},
    )
    yield cluster
    from omega_jupyter.runtime.cluster import shutdown

    shutdown()  # the clients first: left open, they retry the closed scheduler at exit
    cluster.close()
