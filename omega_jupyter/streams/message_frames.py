"""Streams as DataFrames: eager (``Stream.to_frame``) and lazy (``Stream.getl``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from omega_jupyter.exceptions import UnsupportedObjectError
from omega_jupyter.streams.tables import messages

if TYPE_CHECKING:
    from omega_jupyter.streams.stream import Message, Stream

SAMPLE = 100  # messages looked at to infer the columns of a lazy frame


def messages_frame(items: list[Message]) -> pd.DataFrame:
    """Messages as a DataFrame indexed by ``offset``: one column per key when every message is
    a JSON object (else a single ``data`` column), then ``timestamp``."""
    index = pd.Index([m.offset for m in items], dtype="int64", name="offset")
    data = [m.data for m in items]
    if data and all(isinstance(d, dict) for d in data):
        frame = pd.DataFrame.from_records(data, index=index)
    else:
        frame = pd.DataFrame({"data": pd.Series(data, index=index, dtype=object)})
    label = "timestamp" if "timestamp" not in frame.columns else "_timestamp"
    stamps = pd.DatetimeIndex([m.timestamp for m in items], tz="UTC") if items else []
    frame[label] = pd.Series(stamps, index=index, dtype="datetime64[us, UTC]")
    return frame


def lazy_frame(stream: Stream) -> Any:
    """A lazy frame (as ``om.datasets.getl`` returns) over a stream of JSON objects: one column
    per key of the first messages, typed from their values, indexed by ``offset``. Filters,
    aggregates and ``.value`` run in the database against the messages as they are then."""
    # The lazy frame package takes about a second to import; to_frame() never needs it.
    from omega_jupyter.datasets.lazy import LazyFrame
    from omega_jupyter.datasets.lazy.plan import Column, IndexLayout, Plan, spec_for

    sample = [m.data for m in stream.read(limit=SAMPLE)]
    if not sample or not all(isinstance(d, dict) for d in sample):
        raise UnsupportedObjectError(
            f"stream {stream.name!r}: a lazy frame needs messages that are JSON objects "
            "(use Stream.to_frame() for other messages)"
        )
    base = (
        sa.select(messages.c.offset, messages.c.data)
        .where(messages.c.stream_id == stream.id)
        .subquery()
    )
    native = stream.db.is_postgres
    columns = []
    for key in dict.fromkeys(k for d in sample for k in d):
        dtype, accessor = _json_kind(stream.name, key, [d.get(key) for d in sample])
        expr = getattr(base.c.data[key], accessor)()
        columns.append(Column(key, spec_for(dtype, native), expr))
    offset = Column("offset", spec_for("int64", native), base.c.offset)
    plan = Plan(
        store=stream.store.datasets,
        base=base,
        columns=tuple(columns),
        index=IndexLayout("levels", levels=(offset,)),
        row=base.c.offset,
        columns_meta={"dtype": str(pd.Index([c.label for c in columns]).dtype), "name": None},
    )
    return LazyFrame(plan)


def _json_kind(stream: str, key: str, values: list[Any]) -> tuple[str, str]:
    """(pandas dtype, SQLAlchemy JSON accessor) for the sampled values of one key."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool}:
        return ("boolean", "as_boolean") if kinds else ("str", "as_string")
    if kinds <= {int}:
        return "Int64", "as_integer"
    if kinds <= {int, float}:
        return "float64", "as_float"
    if kinds <= {str}:
        return "str", "as_string"
    raise UnsupportedObjectError(
        f"stream {stream!r}: key {key!r} holds {sorted(k.__name__ for k in kinds)}; a lazy "
        "frame needs one scalar type per key (use Stream.to_frame())"
    )
