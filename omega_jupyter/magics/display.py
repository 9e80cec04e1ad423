"""What the magics and widgets show: HTML tables, status badges, object cards and previews.

Every object here renders twice: ``_repr_html_`` for notebooks and ``__repr__`` as plain text
for terminals, logs and frontends without HTML.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from omega_jupyter.datasets.lazy import LazyFrame, LazySeries
from omega_jupyter.models.store import lineage_summary

PREVIEW_ROWS = 10
BADGE_COLOURS = {
    "queued": "#6c757d",
    "running": "#0d6efd",
    "succeeded": "#198754",
    "failed": "#dc3545",
    "cancelled": "#fd7e14",
}


def escape(value: Any) -> str:
    return html.escape(format_value(value))


def format_value(value: Any) -> str:
    """A short, human form of one cell."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if value is pd.NaT:
        return ""
    if isinstance(value, datetime | pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict | list):
        text = (
            ", ".join(f"{k}={v}" for k, v in value.items())
            if isinstance(value, dict)
            else (", ".join(map(str, value)))
        )
        return text if len(text) <= 80 else text[:77] + "…"
    return str(value)


def human_size(size: Any) -> str:
    try:
        number = float(size)
    except (TypeError, ValueError):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if number < 1024 or unit == "GB":
            return f"{number:.0f} {unit}" if unit == "B" else f"{number:.1f} {unit}"
        number /= 1024
    return ""


def badge(state: str) -> str:
    """A coloured run-state badge (HTML)."""
    colour = BADGE_COLOURS.get(state, "#6c757d")
    return (
        f'<span class="om-badge om-{html.escape(state)}" style="background:{colour};color:white;'
        f'padding:1px 6px;border-radius:8px;font-size:85%">{html.escape(state)}</span>'
    )


class Table:
    """Rows of dicts as an HTML table (and a plain-text one); ``.frame`` has the data.

    ``badges`` names columns whose values are run states shown as badges.
    """

    def __init__(
        self,
        rows: Sequence[dict[str, Any]],
        columns: Sequence[str],
        title: str = "",
        badges: Sequence[str] = (),
        empty: str = "nothing to show",
    ) -> None:
        self.rows = list(rows)
        self.columns = list(columns)
        self.title = title
        self.badges = set(badges)
        self.empty = empty

    @property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=self.columns)

    def __len__(self) -> int:
        return len(self.rows)

    def _repr_html_(self) -> str:
        title = f"<b>{html.escape(self.title)}</b>" if self.title else ""
        if not self.rows:
            return f"{title}<p><i>{html.escape(self.empty)}</i></p>"
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td style='text-align:left'>{self._cell(c, row.get(c))}</td>"
                for c in self.columns
            )
            + "</tr>"
            for row in self.rows
        )
        return (
            f"{title}<table class='om-table'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )

    def _cell(self, column: str, value: Any) -> str:
        if column in self.badges and value:
            return badge(str(value))
        return escape(value)

    def __repr__(self) -> str:
        lines = [self.title] if self.title else []
        if not self.rows:
            return "\n".join([*lines, self.empty])
        cells = [[format_value(r.get(c)) for c in self.columns] for r in self.rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(self.columns)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True)))
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
        return "\n".join(line.rstrip() for line in lines)


class Message:
    """One line of feedback (``stored sales@2``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return f"<span class='om-message'>{html.escape(self.text)}</span>"

    def __repr__(self) -> str:
        return self.text


def metadata_fields(meta: Any) -> list[dict[str, Any]]:
    """Field/value rows describing one stored object version."""
    km = meta.kind_meta or {}
    fields: list[tuple[str, Any]] = [
        ("name", meta.name),
        ("store", meta.store),
        ("kind", meta.kind),
        ("version", meta.version),
        ("size", human_size(meta.size)),
        ("created", meta.created),
        ("modified", meta.modified),
    ]
    if "rows" in km:
        fields.append(("rows", km["rows"]))
    if km.get("columns") and isinstance(km["columns"], list):
        cols = [f"{c.get('name')}: {c.get('dtype')}" for c in km["columns"] if isinstance(c, dict)]
        fields.append(("columns", ", ".join(cols)))
    for key in ("class", "format", "kernel", "cells"):
        if key in km:
            fields.append((key, km[key]))
    attrs = dict(meta.attributes or {})
    if attrs.get("tags"):
        fields.append(("tags", ", ".join(attrs.pop("tags"))))
    else:
        attrs.pop("tags", None)
    if attrs.get("lineage"):
        fields.append(("lineage", lineage_summary(attrs.pop("lineage"))))
    else:
        attrs.pop("lineage", None)
    if attrs:
        fields.append(("attributes", attrs))
    return [{"field": k, "value": v} for k, v in fields]


def metadata_table(meta: Any) -> Table:
    return Table(metadata_fields(meta), ["field", "value"], title=f"{meta.store}: {meta.name}")


def metadata_html(meta: Any) -> str:
    return metadata_table(meta)._repr_html_()


def metadata_text(meta: Any, *_args: Any) -> str:
    return f"{meta.store[:-1]} {meta.name}@{meta.version} ({meta.kind}, {human_size(meta.size)})"


# -- previews -----------------------------------------------------------------------------------
def frame_summary(frame: Any) -> tuple[tuple[int, ...], pd.Series]:
    shape = tuple(frame.shape)
    dtypes = frame.dtypes if hasattr(frame, "dtypes") else pd.Series([frame.dtype])
    if isinstance(dtypes, pd.Series):
        return shape, dtypes
    return shape, pd.Series([dtypes], index=[getattr(frame, "name", None) or "value"])


def preview_head(value: Any, rows: int = PREVIEW_ROWS) -> Any:
    """The first ``rows`` rows of a frame, series, lazy frame or array (never all of it)."""
    head = value.head(rows)
    return head.value if hasattr(head, "value") and not isinstance(head, pd.Series) else head


def preview_html(value: Any, title: str = "") -> str:
    """First rows, shape and dtypes of a frame-like value."""
    head = preview_head(value) if hasattr(value, "head") else value[:PREVIEW_ROWS]
    shape, dtypes = frame_summary(value)
    shape_text = " × ".join(str(n) for n in shape)
    frame = head if isinstance(head, pd.DataFrame) else pd.DataFrame(head)
    dtype_text = ", ".join(
        f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in dtypes.items()
    )
    caption = f"<b>{html.escape(title)}</b> " if title else ""
    more = shape[0] > len(frame) if shape else False
    return (
        f"<div class='om-preview'>{caption}<span>{type(value).__name__} · {shape_text}</span>"
        f"{frame.to_html(max_rows=PREVIEW_ROWS, max_cols=30)}"
        f"{'<i>… first ' + str(len(frame)) + ' rows shown</i>' if more else ''}"
        f"<div style='font-size:85%'>dtypes: {dtype_text}</div></div>"
    )


def preview_text(value: Any, title: str = "") -> str:
    head = preview_head(value) if hasattr(value, "head") else value[:PREVIEW_ROWS]
    shape, dtypes = frame_summary(value)
    frame = head if isinstance(head, pd.DataFrame) else pd.DataFrame(head)
    lines = [f"{title + ' · ' if title else ''}{type(value).__name__} {shape}"]
    lines.append(frame.to_string(max_rows=PREVIEW_ROWS, max_cols=30))
    if shape and shape[0] > len(frame):
        lines.append(f"… first {len(frame)} of {shape[0]} rows shown")
    lines.append("dtypes: " + ", ".join(f"{k}: {v}" for k, v in dtypes.items()))
    return "\n".join(lines)


def can_preview(value: Any) -> bool:
    import numpy as np

    return isinstance(value, pd.DataFrame | pd.Series | np.ndarray | LazyFrame | LazySeries)


# -- runs ---------------------------------------------------------------------------------------
def run_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows for a runs table from :meth:`RunStore.list`'s frame."""
    rows = []
    for r in frame.to_dict("records"):
        version = r.get("target_version")
        target = r["target"] if version is None or pd.isna(version) else f"{r['target']}@{version}"
        rows.append(
            {
                "id": r["id"],
                "kind": r["kind"],
                "action": r["action"],
                "target": target,
                "state": r["state"],
                "submitted": r["submitted"],
                "seconds": elapsed(r.get("started"), r.get("finished")),
                "progress": progress_text(r.get("progress")),
                "error": (r.get("error") or "")[:80],
            }
        )
    return rows


RUN_COLUMNS = [
    "id",
    "kind",
    "action",
    "target",
    "state",
    "submitted",
    "seconds",
    "progress",
    "error",
]


def progress_text(progress: Any) -> str:
    if isinstance(progress, dict) and "cells_total" in progress:
        return f"{progress.get('cells_done', 0)}/{progress['cells_total']} cells"
    return ""


def elapsed(start: Any, end: Any) -> str:
    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return ""
    return f"{(end - start).total_seconds():.2f}"


def run_html(handle: Any) -> str:
    record = handle.record
    return Table(run_rows(_record_frame(record)), RUN_COLUMNS, badges=["state"])._repr_html_()


def run_text(handle: Any, *_args: Any) -> str:
    record = handle.record
    extra = f": {record.error}" if record.error else ""
    return f"run {record.id} {record.action} {record.target}: {record.state}{extra}"


def _record_frame(record: Any) -> pd.DataFrame:
    return pd.DataFrame([record.__dict__])
