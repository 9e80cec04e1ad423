"""Short-lived credentials of buckets: LOGIN roles that act as one bucket's role.

The promise: code that runs for a bucket (a run's task, a hub user's server, ``%%om sql``)
holds a login of that bucket only, never the service's. A credential is a LOGIN role valid
for ``ttl`` seconds, member of its bucket's role only (NOINHERIT), whose sessions start as the
bucket role (:mod:`omega_jupyter.storage.tenancy` makes the roles and policies it relies on).
PostgreSQL checks ``VALID UNTIL`` only at login, so :func:`sweep_credentials` ends the sessions
of expired credentials and drops them. Issued credentials are cached per process and bucket
while more than half their lifetime is left.

On SQLite nothing here applies: SQLite is the single-user store (docs/security.md).
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from omega_jupyter.exceptions import ConfigurationError, PermissionDeniedError
from omega_jupyter.storage import tenancy
from omega_jupyter.storage.engine import Database, forget_database, get_database


def bucket_credentials(db: Database, bucket: str, ttl: float = 3600.0) -> str:
    """A database URL that logs in as a new role valid for ``ttl`` seconds, a member of
    ``bucket``'s role and nothing else. On SQLite: the database's own URL (single-user)."""
    if not db.is_postgres:
        return db.url.render_as_string(hide_password=False)
    bucket_role = tenancy.ensure_bucket(db, bucket)
    assert bucket_role is not None
    prefix = bucket_role.split("_", 1)[0]
    login = f"{prefix}{tenancy.CREDENTIAL}{secrets.token_hex(8)}"
    password = secrets.token_urlsafe(24)  # [A-Za-z0-9_-]: safe in a quoted literal
    until = (datetime.now(UTC) + timedelta(seconds=ttl)).isoformat()
    with db.begin() as conn:
        database = conn.execute(sa.text("SELECT current_database()")).scalar()
        conn.execute(
            sa.text(
                f"CREATE ROLE {tenancy.ident(login)} LOGIN NOINHERIT PASSWORD '{password}'"
                f" VALID UNTIL '{until}' IN ROLE {tenancy.ident(bucket_role)}"
            )
        )
        # sessions start as the bucket role: what they create belongs to the bucket
        conn.execute(
            sa.text(
                f"ALTER ROLE {tenancy.ident(login)} IN DATABASE "
                f'"{database}" SET role = {bucket_role!r}'
            )
        )
    _maybe_sweep(db)
    return db.url.set(username=login, password=password).render_as_string(hide_password=False)


def user_credentials(db: Database, buckets: list[str], ttl: float = 3600.0) -> dict[str, str]:
    """One credential per bucket of ``buckets`` (:func:`bucket_credentials`): what a person
    who works in several buckets is given, e.g. a JupyterHub user's server (omega_jupyter.hub).

    Each is confined to its one bucket. One login role for all of them would do for reading,
    but the tables it creates would belong to it and go when it is dropped; a credential of
    one bucket starts as that bucket's role, so what it creates belongs to the bucket."""
    return {bucket: bucket_credentials(db, bucket, ttl) for bucket in dict.fromkeys(buckets)}


def revoke_credentials(db: Database, urls: list[str]) -> list[str]:
    """End the sessions of the credentials that logged in with ``urls`` and drop them (before
    their time: e.g. when the server that held them stops); returns the dropped roles. URLs
    that are not this database's credentials are left alone."""
    if not db.is_postgres:
        return []
    with db.connect() as conn:
        prefix = tenancy.role_prefix(conn, create=False)
    logins = {sa.make_url(url).username or "" for url in urls}
    dropped = []
    for login in sorted(logins):
        if prefix is None or not login.startswith(f"{prefix}{tenancy.CREDENTIAL}"):
            continue
        with db.connect() as conn:
            if not tenancy.role_exists(conn, login):
                continue
        _drop_login(db, login)
        dropped.append(login)
    _forget_issued(set(dropped))
    return dropped


# Where a process that was given several buckets' credentials finds them: a JupyterHub user's
# server and the kernels it starts (omega_jupyter.hub sets it; workers never have it).
BUCKET_DATABASE_URLS_ENV = "OMEGA_BUCKET_DATABASE_URLS"


def granted_database_urls() -> dict[str, str]:
    """Bucket → credential URL that this process was given (``OMEGA_BUCKET_DATABASE_URLS``,
    JSON); empty when it was given none."""
    return dict(_parse_granted(os.environ.get(BUCKET_DATABASE_URLS_ENV, "").strip()))


@functools.lru_cache(maxsize=4)
def _parse_granted(text: str) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{BUCKET_DATABASE_URLS_ENV} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigurationError(f"{BUCKET_DATABASE_URLS_ENV} must map buckets to URLs")
    return tuple(data.items())


def database_url_for(url: str, bucket: str) -> str:
    """The URL a client of ``bucket`` logs in with when it was given ``url``: if ``url`` is
    one of this process's granted credentials (:func:`granted_database_urls`), ``bucket``'s
    own credential where one was granted; otherwise ``url`` itself. So in a JupyterHub
    user's kernel ``om['team']`` acts as team's credential, not as her own bucket's."""
    granted = granted_database_urls()
    if not granted or url not in granted.values():
        return url
    return granted.get(bucket, url)


_issued: dict[tuple[str, str], tuple[float, str]] = {}
_issued_lock = threading.Lock()


def cached_bucket_credentials(db: Database, bucket: str, ttl: float = 3600.0) -> str:
    """Like :func:`bucket_credentials`, but reuses this process's credential for ``bucket``
    while more than half of ``ttl`` remains (one role per bucket and half-ttl, not per run)."""
    key = (db.url.render_as_string(hide_password=False), bucket)
    now = time.monotonic()
    with _issued_lock:
        hit = _issued.get(key)
        if hit is not None and hit[0] - now > ttl / 2:
            return hit[1]
    url = bucket_credentials(db, bucket, ttl)
    with _issued_lock:
        previous = _issued.get(key)
        _issued[key] = (now + ttl, url)
    if previous is not None:
        forget_database(previous[1])  # its pooled sessions end before the credential does
    return url


def bucket_database(db: Database, bucket: str, ttl: float = 3600.0) -> Database:
    """``db`` as ``bucket`` sees it: on PostgreSQL, when ``db`` is the service, a database
    logged in with ``bucket``'s credential; otherwise ``db`` itself (a session that is
    already a bucket's, or SQLite's single user)."""
    if not db.is_postgres or not is_service(db):
        return db
    return get_database(cached_bucket_credentials(db, bucket, ttl))


def is_service(db: Database) -> bool:
    """Whether ``db`` logs in as the service (it may read the database's settings)."""
    known = db.__dict__.get("_is_service")
    if known is None:
        db.ensure_schema()
        with db.connect() as conn:
            known = bool(
                conn.execute(
                    sa.text("SELECT has_table_privilege('om_settings', 'SELECT')")
                ).scalar()
            )
        db.__dict__["_is_service"] = known
    return known


def check_reachable(db: Database, bucket: str) -> None:
    """Refuse a client for ``bucket`` in a session that is another bucket's credential (its
    rows would be invisible and its schema closed anyway: say so up front, as PostgreSQL
    would). The service, SQLite and other logins are left to the database's own checks."""
    if not db.is_postgres or is_service(db):
        return
    with db.connect() as conn:
        me = str(conn.execute(sa.text("SELECT current_user")).scalar())
        if "_b_" not in me:
            return
        role = tenancy.bucket_role_name(me.split("_", 1)[0], bucket)
        member = conn.execute(
            sa.text(
                "SELECT CASE WHEN to_regrole(:r) IS NULL THEN false"
                " ELSE pg_has_role(:r, 'MEMBER') END"
            ),
            {"r": role},
        ).scalar()
    if not member:
        raise PermissionDeniedError(
            f"permission denied for bucket {bucket!r}: this session logs in as a credential"
            " of another bucket"
        )


_last_sweep: dict[int, float] = {}
SWEEP_INTERVAL = 60.0


def _maybe_sweep(db: Database) -> None:
    now = time.monotonic()
    if now - _last_sweep.get(id(db), 0.0) < SWEEP_INTERVAL:
        return
    _last_sweep[id(db)] = now
    sweep_credentials(db)


def sweep_credentials(db: Database, revoke_all: bool = False) -> list[str]:
    """End the sessions of expired credentials and drop them (all of them with
    ``revoke_all``); returns the dropped roles. PostgreSQL checks ``VALID UNTIL`` only at
    login, so an expired credential's open sessions last until this ends them."""
    if not db.is_postgres:
        return []
    with db.begin() as conn:
        prefix = tenancy.role_prefix(conn, create=False)
        if prefix is None:
            return []
        expired = list(
            conn.execute(
                sa.text(
                    "SELECT rolname FROM pg_roles WHERE starts_with(rolname, :p)"
                    " AND (:all OR rolvaliduntil < now())"
                ),
                {"p": f"{prefix}{tenancy.CREDENTIAL}", "all": revoke_all},
            ).scalars()
        )
    for login in expired:
        _drop_login(db, login)
    _forget_issued(set(expired))
    return expired


def _forget_issued(logins: set[str]) -> None:
    """Forget this process's cached credentials among ``logins`` (they were dropped)."""
    with _issued_lock:
        gone = [k for k, (_t, url) in _issued.items() if sa.make_url(url).username in logins]
        urls = [_issued.pop(k)[1] for k in gone]
    for url in urls:
        forget_database(url)


def _drop_login(db: Database, login: str) -> None:
    with db.begin() as conn:
        conn.execute(sa.text(f"ALTER ROLE {tenancy.ident(login)} NOLOGIN"))
    with db.begin() as conn:
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :u"),
            {"u": login},
        )
    with db.begin() as conn:
        conn.execute(sa.text(f"DROP OWNED BY {tenancy.ident(login)}"))
        conn.execute(sa.text(f"DROP ROLE {tenancy.ident(login)}"))
