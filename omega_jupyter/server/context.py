"""What every handler of one server shares: clients per bucket, limits, keys, a thread pool.

No tornado import: the standalone app and the Jupyter extension both build one of these and put
it in the tornado application settings under ``"omega"``.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from omega_jupyter.client import Omega
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
    ) -> None:
        self.client = client
        self.default_bucket = client.bucket
        self.max_body_bytes = max_body_bytes
        self.apikeys = apikeys
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="omega-rest")
        self._clients: dict[str, Omega] = {client.bucket: client}
        self._lock = threading.Lock()
        self.extras: dict[str, Any] = {}  # e.g. the model cache, a Dask client

    def client_for(self, bucket: str | None) -> Omega:
        """The (cached) client of ``bucket``; the server's own bucket when None."""
        bucket = validate_bucket(bucket) if bucket else self.default_bucket
        client = self._clients.get(bucket)
        if client is None:
            with self._lock:
                client = self._clients.get(bucket)
                if client is None:
                    client = self._clients[bucket] = self.client[bucket]
        return client

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
