"""What every handler of one server shares: clients per bucket, limits, keys, a thread pool.

No tornado import: the standalone app and the Jupyter extension both build one of these and put
it in the tornado application settings under ``"omega"``.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import PermissionDeniedError
from omega_jupyter.names import validate_bucket
from omega_jupyter.server.apikeys import ApiKeyService

DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024


class ServerContext:
    """The state of one REST server (one process)."""

    def __init__(
        self,
        client: Omega,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        apikeys: ApiKeyService | None = None,
        threads: int = 8,
        allowed_buckets: list[str] | None = None,
        bucket_database_urls: dict[str, str] | None = None,
    ) -> None:
        """``allowed_buckets``: the only buckets requests may name (None: any; a JupyterHub
        user's server gets hers). ``bucket_database_urls``: the database URL of a bucket's
        client where it is not ``client``'s (a bucket's own credential)."""
        self.client = client
        self.default_bucket = client.bucket
        self.max_body_bytes = max_body_bytes
        self.apikeys = apikeys
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="omega-rest")
        self._clients: dict[str, Omega] = {client.bucket: client}
        self.allowed_buckets = (
            None if allowed_buckets is None else frozenset(map(validate_bucket, allowed_buckets))
        )
        self.bucket_database_urls = dict(bucket_database_urls or {})
        self._lock = threading.Lock()
        self.extras: dict[str, Any] = {}  # e.g. the model cache, a Dask client

    def client_for(self, bucket: str | None) -> Omega:
        """The (cached) client of ``bucket``; the server's own bucket when None."""
        bucket = validate_bucket(bucket) if bucket else self.default_bucket
        if self.allowed_buckets is not None and bucket not in self.allowed_buckets:
            raise PermissionDeniedError(f"this server has no access to bucket {bucket!r}")
        client = self._clients.get(bucket)
        if client is None:
            with self._lock:
                client = self._clients.get(bucket)
                if client is None:
                    client = self._clients[bucket] = self._new_client(bucket)
        return client

    def _new_client(self, bucket: str) -> Omega:
        url = self.bucket_database_urls.get(bucket)
        if url is None:
            return self.client[bucket]
        return Omega(self.client.settings.replace(bucket=bucket, database_url=url))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
