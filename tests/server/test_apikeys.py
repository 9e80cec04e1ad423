"""API keys: created once, stored hashed, bound to buckets, revocable; on both databases."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from omega_jupyter.exceptions import (
    AuthenticationError,
    InvalidNameError,
    ObjectNotFoundError,
    PermissionDeniedError,
)
from omega_jupyter.server.apikeys import ApiKeyService, apikeys


@pytest.fixture
def keys(om) -> ApiKeyService:
    return ApiKeyService(om.db, cache_seconds=30)


def test_create_verify_and_hash_only_stored(keys: ApiKeyService, bucket: str) -> None:
    key, secret = keys.create(name="ci", buckets=[bucket, "other"])
    assert secret.startswith(f"omk_{key.key_id}_")
    assert keys.verify(secret) == key
    assert key.buckets == (bucket, "other")
    with keys.db.connect() as conn:
        stored = conn.execute(sa.select(apikeys.c.hash).where(apikeys.c.key_id == key.key_id))
        stored_hash = stored.scalar_one()
    assert secret.split("_", 2)[2] not in stored_hash
    assert stored_hash.startswith("pbkdf2_sha256$")


def test_wrong_malformed_and_missing_keys_are_refused(keys: ApiKeyService, bucket: str) -> None:
    key, secret = keys.create(buckets=[bucket])
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    for bad in (forged, "omk_000000000000_" + "x" * 43, "nonsense", "", None, "' OR 1=1 --"):
        with pytest.raises(AuthenticationError):
            keys.verify(bad)
    assert keys.verify(secret).key_id == key.key_id


def test_verified_keys_are_cached(keys: ApiKeyService, bucket: str) -> None:
    _key, secret = keys.create(buckets=[bucket])
    assert keys.cached(secret) is None
    keys.verify(secret)
    assert keys.cached(secret) is not None
    short = ApiKeyService(keys.db, cache_seconds=0)
    short.verify(secret)
    assert short.cached(secret) is None


def test_revoke_by_id_and_name(keys: ApiKeyService, bucket: str) -> None:
    first, s1 = keys.create(name=f"n-{bucket}", buckets=[bucket])
    _second, s2 = keys.create(name=f"n-{bucket}", buckets=[bucket])
    third, s3 = keys.create(buckets=[bucket])
    assert keys.revoke(third.key_id) == 1
    assert keys.revoke(f"n-{bucket}") == 2
    assert keys.revoke(f"n-{bucket}") == 0
    fresh = ApiKeyService(keys.db)  # another process: no cache
    for secret in (s1, s2, s3):
        with pytest.raises(AuthenticationError):
            fresh.verify(secret)
    listed = {k.key_id for k in fresh.list()}
    assert first.key_id not in listed
    assert first.key_id in {k.key_id for k in fresh.list(include_revoked=True)}


def test_bucket_binding(keys: ApiKeyService, bucket: str) -> None:
    key, _ = keys.create(buckets=[bucket, "team-b"])
    assert key.bucket_for(None) == bucket
    assert key.bucket_for("team-b") == "team-b"
    with pytest.raises(PermissionDeniedError):
        key.bucket_for("team-c")


def test_bad_buckets_and_names_change_nothing(keys: ApiKeyService) -> None:
    before = len(keys.list(include_revoked=True))
    for kwargs in ({"buckets": ["bad bucket"]}, {"buckets": ["x;DROP"]}, {"name": " "}):
        with pytest.raises(InvalidNameError):
            keys.create(**kwargs)
    assert len(keys.list(include_revoked=True)) == before


def test_a_revocation_reaches_every_process_within_seconds(keys: ApiKeyService, bucket: str):
    key, secret = keys.create(buckets=[bucket])
    server = ApiKeyService(keys.db, cache_seconds=30, revocation_seconds=0.2)  # another process
    server.verify(secret)
    assert server.cached(secret) is not None
    keys.revoke(key.key_id)
    time.sleep(0.3)
    assert server.cached(secret) is None  # revocations are due: verify looks them up
    with pytest.raises(AuthenticationError):
        server.verify(secret)


def test_rotate_replaces_a_key_and_revokes_it(keys: ApiKeyService, bucket: str):
    old, old_secret = keys.create(name=f"r-{bucket}", buckets=[bucket, "b2"], role="read")
    new, new_secret = keys.rotate(old.key_id)
    assert (new.name, new.buckets, new.role) == (old.name, old.buckets, "read")
    fresh = ApiKeyService(keys.db)
    assert fresh.verify(new_secret).key_id == new.key_id != old.key_id
    with pytest.raises(AuthenticationError):
        fresh.verify(old_secret)
    with pytest.raises(ObjectNotFoundError):
        keys.rotate(old.key_id)  # revoked already


@pytest.mark.parametrize("writes", [False, True])
def test_key_roles(keys: ApiKeyService, bucket: str, writes: bool):
    """A read key is refused what writes; which requests write is the routes' to say (the
    request matrix through a real server is in test_server_standalone)."""
    reader, secret = keys.create(buckets=[bucket], role="read")
    assert ApiKeyService(keys.db).verify(secret).role == "read"
    if writes:
        with pytest.raises(PermissionDeniedError, match="may only read"):
            reader.check_role(True, "POST")
    else:
        reader.check_role(False, "POST")
    for role in ("write", "admin"):
        keys.create(buckets=[bucket], role=role)[0].check_role(writes, "POST")


def test_an_unknown_role_is_refused(keys: ApiKeyService, bucket: str):
    with pytest.raises(InvalidNameError, match="role"):
        keys.create(buckets=[bucket], role="root")
