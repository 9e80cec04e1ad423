"""API keys for the standalone server: create, list, revoke, verify. No tornado import here.

A key reads ``omk_<id>_<secret>``. Only a salted PBKDF2 hash of the secret is stored, so a
leaked database does not leak keys. Hashing is deliberately slow; a verified key is therefore
cached in memory for a short time (``cache_seconds``) so that requests do not pay for it.
Every process looks for newly revoked keys at most every ``revocation_seconds`` (2 s; one
small query) and forgets them, so a revocation takes effect everywhere within seconds.

Each key has a role: ``read`` (get, list, predict), ``write`` (also put, drop, run, schedule)
or ``admin`` (everything; reserved for key and bucket management).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from omega_jupyter.exceptions import (
    AuthenticationError,
    InvalidNameError,
    ObjectNotFoundError,
    PermissionDeniedError,
)
from omega_jupyter.names import validate_bucket
from omega_jupyter.storage.engine import Database

KEY_PREFIX = "omk"
HASH_ITERATIONS = 120_000
_KEY_RE = re.compile(rf"^{KEY_PREFIX}_(?P<id>[0-9a-f]{{12}})_(?P<secret>[A-Za-z0-9_-]{{20,100}})$")

_metadata = sa.MetaData()
apikeys = sa.Table(
    "om_apikeys",
    _metadata,
    sa.Column("key_id", sa.String(24), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("hash", sa.String(255), nullable=False),
    sa.Column("buckets", sa.JSON, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
    sa.Column("role", sa.String(16), nullable=False, server_default="write"),  # 0007
    sa.Index("ix_om_apikeys_name", "name"),
)

ROLES = ("read", "write", "admin")


@dataclass(frozen=True)
class ApiKey:
    """What a key grants: the buckets it may read and write (the first is its default)."""

    key_id: str
    name: str
    buckets: tuple[str, ...]
    created: datetime
    revoked: datetime | None = None
    role: str = "write"

    def bucket_for(self, requested: str | None) -> str:
        """The bucket a request works in: the requested one if granted, else the default."""
        if not requested:
            return self.buckets[0]
        if requested not in self.buckets:
            raise PermissionDeniedError(f"this API key has no access to bucket {requested!r}")
        return requested

    def check_role(self, writes: bool, method: str) -> None:
        """Refuse (:class:`PermissionDeniedError`) a request that ``writes`` when this key's
        role is ``read``. Whether a request writes is the handler's to say (it knows its route)."""
        if writes and self.role == "read":
            raise PermissionDeniedError(
                f"this API key may only read (role 'read'); this {method.upper()} writes and "
                "needs a 'write' key"
            )

    def to_dict(self) -> dict:
        return {
            "id": self.key_id,
            "name": self.name,
            "role": self.role,
            "buckets": list(self.buckets),
            "created": self.created.isoformat(),
            "revoked": self.revoked.isoformat() if self.revoked else None,
        }


def hash_secret(secret: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt.encode(), HASH_ITERATIONS)
    return f"pbkdf2_sha256${HASH_ITERATIONS}${salt}${digest.hex()}"


def check_secret(secret: str, stored: str) -> bool:
    try:
        algo, iterations, salt, expected = stored.split("$")
    except ValueError:
        return False
    if algo != "pbkdf2_sha256":
        return False
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt.encode(), int(iterations))
    return hmac.compare_digest(digest.hex(), expected)


class ApiKeyService:
    """The API keys of one database."""

    def __init__(
        self, db: Database, cache_seconds: float = 30.0, revocation_seconds: float = 2.0
    ) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self.revocation_seconds = revocation_seconds
        self._cache: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()
        self._revocations_checked = time.monotonic()

    # -- management -----------------------------------------------------------------------
    def create(
        self, name: str | None = None, buckets: list[str] | None = None, role: str = "write"
    ) -> tuple[ApiKey, str]:
        """A new key for ``buckets`` (default ``["default"]``) with ``role`` (read, write,
        admin); returns it and the plain key, which is shown this once and never stored."""
        if role not in ROLES:
            raise InvalidNameError(f"an API key role is one of {', '.join(ROLES)}, not {role!r}")
        granted = tuple(dict.fromkeys(validate_bucket(b) for b in (buckets or ["default"])))
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        name = (name or f"key-{key_id}").strip()
        if not name or len(name) > 255:
            raise InvalidNameError("an API key name must have 1-255 characters")
        key = ApiKey(key_id, name, granted, datetime.now(UTC), role=role)
        self._ensure_table()
        with self.db.begin() as conn:
            conn.execute(
                apikeys.insert().values(
                    key_id=key_id,
                    name=name,
                    hash=hash_secret(secret),
                    buckets=list(granted),
                    created=key.created,
                    role=role,
                )
            )
        return key, f"{KEY_PREFIX}_{key_id}_{secret}"

    def list(self, include_revoked: bool = False) -> list[ApiKey]:
        self._ensure_table()
        query = sa.select(apikeys).order_by(apikeys.c.created, apikeys.c.key_id)
        if not include_revoked:
            query = query.where(apikeys.c.revoked.is_(None))
        with self.db.connect() as conn:
            return [_from_row(r) for r in conn.execute(query)]

    def revoke(self, id_or_name: str) -> int:
        """Revoke the key with this id (or every active key with this name); returns how many."""
        self._ensure_table()
        match = (apikeys.c.key_id == id_or_name) | (apikeys.c.name == id_or_name)
        with self.db.begin() as conn:
            done = conn.execute(
                apikeys.update()
                .where(match & apikeys.c.revoked.is_(None))
                .values(revoked=datetime.now(UTC))
            ).rowcount
        with self._lock:
            self._cache.clear()
        return int(done or 0)

    def rotate(self, key_id: str) -> tuple[ApiKey, str]:
        """A new key with the name, buckets and role of active key ``key_id``, which is
        revoked; returns the new key and its plain text."""
        self._ensure_table()
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(apikeys).where((apikeys.c.key_id == key_id) & apikeys.c.revoked.is_(None))
            ).first()
        if row is None:
            raise ObjectNotFoundError(f"no active API key {key_id!r}")
        old = _from_row(row)
        new = self.create(name=old.name, buckets=list(old.buckets), role=old.role)
        self.revoke(old.key_id)
        return new

    # -- verification ---------------------------------------------------------------------
    def cached(self, key: str | None) -> ApiKey | None:
        """The key if it was verified within ``cache_seconds`` (no hashing, no database);
        None also when revocations are due to be looked up (:meth:`verify` does that)."""
        if not key or time.monotonic() - self._revocations_checked > self.revocation_seconds:
            return None
        with self._lock:
            hit = self._cache.get(hashlib.sha256(key.encode()).hexdigest())
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def verify(self, key: str | None) -> ApiKey:
        """The :class:`ApiKey` for a presented key; :class:`AuthenticationError` if it is
        missing, malformed, unknown or revoked."""
        if not key:
            raise AuthenticationError("an API key is required: send 'Authorization: Bearer KEY'")
        now = time.monotonic()
        if now - self._revocations_checked > self.revocation_seconds:
            self._forget_revoked()
        cache_key = hashlib.sha256(key.encode()).hexdigest()
        with self._lock:
            hit = self._cache.get(cache_key)
        if hit is not None and hit[1] > now:
            return hit[0]
        match = _KEY_RE.match(key)
        if not match:
            raise AuthenticationError("the API key is malformed")
        self._ensure_table()
        with self.db.connect() as conn:
            row = conn.execute(sa.select(apikeys).where(apikeys.c.key_id == match["id"])).first()
        if row is None or row.revoked is not None or not check_secret(match["secret"], row.hash):
            raise AuthenticationError("the API key is unknown or revoked")
        found = _from_row(row)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[cache_key] = (found, now + self.cache_seconds)
        return found

    def _forget_revoked(self) -> None:
        """Drop revoked keys from the cache (revoked by any process)."""
        self._ensure_table()
        with self.db.connect() as conn:
            revoked = set(
                conn.execute(
                    sa.select(apikeys.c.key_id).where(apikeys.c.revoked.is_not(None))
                ).scalars()
            )
        with self._lock:
            for cache_key, (found, _until) in list(self._cache.items()):
                if found.key_id in revoked:
                    del self._cache[cache_key]
            self._revocations_checked = time.monotonic()

    def _ensure_table(self) -> None:
        self.db.ensure_schema()  # migration 0004 creates om_apikeys


def _from_row(row: sa.Row) -> ApiKey:
    m = row._mapping

    def aware(value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    return ApiKey(
        key_id=m["key_id"],
        name=m["name"],
        buckets=tuple(m["buckets"] or ()),
        created=aware(m["created"]) or datetime.now(UTC),
        revoked=aware(m["revoked"]),
        role=m["role"] or "write",
    )
