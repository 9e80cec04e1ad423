"""Chunked binary objects: written and read in fixed-size chunks, never whole in memory."""

from __future__ import annotations

import hashlib
import io
import uuid
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omega_jupyter.exceptions import ObjectNotFoundError, UnsupportedObjectError
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.schema import blob_chunks


class BlobStore:
    """Blobs live in ``om_blob_chunks`` as (blob_id, seq, data) rows."""

    def __init__(self, db: Database, chunk_bytes: int, bucket: str | None = None) -> None:
        self.db = db
        self.chunk_bytes = chunk_bytes
        self.bucket = bucket  # recorded on each chunk: row-level security keys on it

    def write(self, conn: Connection, source: BinaryIO) -> tuple[str, int, str]:
        """Copy ``source`` into a new blob inside ``conn``'s transaction.

        Returns (blob_id, size in bytes, sha256 hex digest).
        """
        blob_id = uuid.uuid4().hex
        digest = hashlib.sha256()
        size = 0
        seq = 0
        while True:
            chunk = _read_full(source, self.chunk_bytes)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
            conn.execute(
                sa.insert(blob_chunks).values(
                    blob_id=blob_id, seq=seq, data=chunk, bucket=self.bucket
                )
            )
            seq += 1
        return blob_id, size, digest.hexdigest()

    def open(self, blob_id: str, size: int | None = None) -> BlobReader:
        """A streaming reader; with ``size``, a blob that ends early raises instead of
        returning truncated data (it was dropped or replaced while being read)."""
        return BlobReader(self.db, blob_id, size)

    def delete(self, conn: Connection, blob_id: str) -> None:
        conn.execute(sa.delete(blob_chunks).where(blob_chunks.c.blob_id == blob_id))


def _read_full(source: BinaryIO, size: int) -> bytes:
    """Read up to ``size`` bytes, looping over short reads of pipes and sockets."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = source.read(remaining)
        if not part:
            break
        if isinstance(part, str):
            raise UnsupportedObjectError("open files in binary mode ('rb') to store them")
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts) if len(parts) != 1 else parts[0]


class BlobReader(io.RawIOBase):
    """A read-only, streaming file object over one blob; fetches one chunk at a time."""

    def __init__(self, db: Database, blob_id: str, size: int | None = None) -> None:
        super().__init__()
        self._db = db
        self._blob_id = blob_id
        self._size = size
        self._fetched = 0
        self._seq = 0
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bool:
        with self._db.connect() as conn:
            data = conn.execute(
                sa.select(blob_chunks.c.data).where(
                    (blob_chunks.c.blob_id == self._blob_id) & (blob_chunks.c.seq == self._seq)
                )
            ).scalar()
        if data is None:
            if self._size is not None and self._fetched < self._size:
                raise ObjectNotFoundError(
                    f"the stored file ended after {self._fetched} of {self._size} bytes: "
                    "it was replaced or dropped while being read; read it again"
                )
            return False
        self._fetched += len(data)
        self._seq += 1
        self._buffer = memoryview(bytes(data))
        return True

    def readinto(self, target) -> int:  # type: ignore[no-untyped-def,override]
        if not self._buffer and not self._next_chunk():
            return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def readall(self) -> bytes:
        out = bytearray(self._buffer)
        self._buffer = memoryview(b"")
        while self._next_chunk():
            out += self._buffer
            self._buffer = memoryview(b"")
        return bytes(out)
