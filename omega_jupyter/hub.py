"""JupyterHub in front: hub users and groups map to buckets, each user's server gets her
buckets' credentials and nothing else.

In ``jupyterhub_config.py`` (deploy/jupyterhub_config.py is a complete one)::

    from omega_jupyter.hub import BucketMap, OmegaSpawnHooks
    hooks = OmegaSpawnHooks(BucketMap.from_file("/etc/omega/buckets.toml"),
                            database_url=os.environ["OMEGA_DATABASE_URL"])
    hooks.configure(c)

The map (TOML)::

    [users]
    alice = ["alice", "team-a"]   # the first is her own bucket (the panel's default)
    [groups]
    team-a = ["team-a"]           # every member of the hub group team-a gets bucket team-a

A user not listed in ``[users]`` has her own bucket named after her (``own_buckets = false``
at the top turns that off: then she gets only her groups' buckets, the first of them being her
default). A user with no bucket at all is refused a server.

When a server starts, :meth:`OmegaSpawnHooks.pre_spawn` issues one short-lived credential per
bucket of hers (``credentials.user_credentials``, logged in by the hub's service URL) and gives the
server, through its environment only:

- ``OMEGA_DATABASE_URL``: the credential of her own bucket (never the service's URL),
- ``OMEGA_BUCKET``: her own bucket,
- ``OMEGA_ALLOWED_BUCKETS``: her buckets; the extension answers any other ``Bucket:`` with 403,
- ``OMEGA_BUCKET_DATABASE_URLS``: JSON, bucket → its credential; the extension serves each
  bucket's requests with that bucket's credential.

PostgreSQL enforces the rest: a credential sees its bucket's rows and schema only, whatever the
server, a kernel or a notebook sends. When the server stops, :meth:`OmegaSpawnHooks.post_stop`
drops its credentials; those of a hub that died expire after ``ttl`` seconds and are swept.

No JupyterHub import here: the hooks receive JupyterHub's spawner and read ``spawner.user.name``,
``spawner.user.groups`` and ``spawner.environment``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omega_jupyter.exceptions import ConfigurationError, InvalidNameError, PermissionDeniedError
from omega_jupyter.names import validate_bucket
from omega_jupyter.storage import credentials
from omega_jupyter.storage.engine import get_database

# 12 hours: a working day's server. A server that outlives it keeps its open sessions until the
# sweep ends them, but cannot log in again: restart it from the hub (or let the idle culler stop
# servers older than this).
DEFAULT_TTL = 12 * 3600.0


@dataclass(frozen=True)
class BucketMap:
    """Which buckets each hub user may use: her own, those listed for her, her groups'."""

    users: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    own_buckets: bool = True

    def __post_init__(self) -> None:
        for table in (self.users, self.groups):
            for buckets in table.values():
                for bucket in buckets:
                    validate_bucket(bucket)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BucketMap:
        unknown = set(data) - {"users", "groups", "own_buckets"}
        if unknown:
            raise ConfigurationError(f"unknown key(s) in the bucket map: {sorted(unknown)}")
        return cls(
            users=_lists(data.get("users", {}), "users"),
            groups=_lists(data.get("groups", {}), "groups"),
            own_buckets=bool(data.get("own_buckets", True)),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> BucketMap:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read the bucket map {path}: {exc}") from exc
        return cls.from_dict(data)

    def buckets_for(self, user: str, groups: Iterable[str] = ()) -> list[str]:
        """``user``'s buckets, her own (default) first; empty when she has none."""
        buckets = list(self.users.get(user, ()))
        if not buckets and self.own_buckets:
            try:
                buckets = [validate_bucket(user)]
            except InvalidNameError:  # never a look-alike: a.b and a-b would share one
                raise ConfigurationError(
                    f"hub user {user!r} is not a bucket name: list her buckets under [users]"
                ) from None
        for group in sorted(groups):
            buckets += self.groups.get(group, ())
        return list(dict.fromkeys(buckets))


def _lists(table: object, name: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"[{name}] of the bucket map must be a table")
    out = {}
    for key, value in table.items():
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ConfigurationError(f"{name}.{key} must be a bucket or a list of buckets")
        out[str(key)] = tuple(values)
    return out


class OmegaSpawnHooks:
    """JupyterHub's ``pre_spawn_hook`` and ``post_stop_hook`` for omega_jupyter."""

    def __init__(
        self,
        buckets: BucketMap,
        database_url: str,
        *,
        ttl: float = DEFAULT_TTL,
        dask_address: str | None = None,
    ) -> None:
        self.buckets = buckets
        self.database_url = database_url  # the service's: it issues credentials
        self.ttl = ttl
        self.dask_address = dask_address
        self._issued: dict[tuple[str, str], list[str]] = {}  # (user, server) → credential URLs
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> OmegaSpawnHooks:
        # JupyterHub copies its config for every spawner: all of them share these hooks
        return self

    def configure(self, c: Any) -> None:
        """Install the hooks in a JupyterHub config object (``c`` of jupyterhub_config.py)."""
        c.Spawner.pre_spawn_hook = self.pre_spawn
        c.Spawner.post_stop_hook = self.post_stop

    def environment(self, user: str, groups: Iterable[str]) -> dict[str, str]:
        """The environment of ``user``'s server: her buckets and one new credential each."""
        buckets = self.buckets.buckets_for(user, groups)
        if not buckets:
            raise PermissionDeniedError(f"hub user {user!r} has no omega bucket")
        db = get_database(self.database_url)
        urls = credentials.user_credentials(db, buckets, self.ttl)
        env = {
            "OMEGA_DATABASE_URL": urls[buckets[0]],
            "OMEGA_BUCKET": buckets[0],
            "OMEGA_ALLOWED_BUCKETS": ",".join(buckets),
            "OMEGA_BUCKET_DATABASE_URLS": json.dumps(urls),
        }
        if self.dask_address:
            env["OMEGA_DASK_ADDRESS"] = self.dask_address
        return env

    async def pre_spawn(self, spawner: Any) -> None:
        user = spawner.user.name
        groups = [g.name for g in getattr(spawner.user, "groups", [])]
        env = await asyncio.to_thread(self.environment, user, groups)
        key = (user, getattr(spawner, "name", "") or "")
        previous = self._forget(key)
        if previous:  # a server that did not stop cleanly before this start
            await asyncio.to_thread(self._revoke, previous)
        with self._lock:
            self._issued[key] = list(json.loads(env["OMEGA_BUCKET_DATABASE_URLS"]).values())
        # a new dict: the configured one may be shared by every spawner
        spawner.environment = {**spawner.environment, **env}

    async def post_stop(self, spawner: Any) -> None:
        urls = self._forget((spawner.user.name, getattr(spawner, "name", "") or ""))
        if urls:
            await asyncio.to_thread(self._revoke, urls)

    def _forget(self, key: tuple[str, str]) -> list[str]:
        with self._lock:
            return self._issued.pop(key, [])

    def _revoke(self, urls: list[str]) -> None:
        credentials.revoke_credentials(get_database(self.database_url), urls)
