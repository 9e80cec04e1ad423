"""Progress reporting from services to surfaces (CLI bars, widgets) without knowing either."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

Progress = Callable[[int, "int | None"], None]
"""Called with (units done, total units or None when unknown); units are rows or bytes."""


class _Sized(Protocol):
    num_rows: int


def track(items: Iterable[Any], progress: Progress | None, total: int | None) -> Iterator[Any]:
    """Yield ``items`` (record batches or frames), reporting the rows seen so far."""
    if progress is None:
        yield from items
        return
    done = 0
    progress(0, total)
    for item in items:
        yield item
        done += item.num_rows if hasattr(item, "num_rows") else len(item)
        progress(done, total)
