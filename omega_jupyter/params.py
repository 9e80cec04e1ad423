"""Parsing ``key=value`` text shared by the surfaces (CLI options, magics): notebook and script
parameters, and ``col__op=value`` filters into the store's filter keywords."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from omega_jupyter.datasets.filters import split_filter
from omega_jupyter.exceptions import InvalidFilterError, InvalidParameterError

_LITERALS = {"true": True, "false": False, "null": None, "none": None}


def parse_value(raw: str) -> Any:
    """A number, bool, null or JSON list/object when ``raw`` reads as one, else the text."""
    text = raw.strip()
    if text.lower() in _LITERALS:
        return _LITERALS[text.lower()]
    try:
        return json.loads(text)
    except ValueError:
        return raw


def parse_pairs(items: Iterable[str] | None) -> dict[str, Any]:
    """``["x=1", "name=abc"]`` -> ``{"x": 1, "name": "abc"}`` (numbers, bools, JSON parsed)."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise InvalidParameterError(f"{item!r}: write parameters as key=value")
        params[key.strip()] = parse_value(raw)
    return params


def _as_text(raw: str, op: str) -> Any:
    """A value for a text or date/time column: scalars stay text; lists are JSON lists."""
    if op in ("in", "nin", "between"):
        value = parse_value(raw)
        if isinstance(value, list):
            return [v if v is None or isinstance(v, str) else json.dumps(v) for v in value]
        return value
    if op == "isnull":
        return parse_value(raw)
    return raw


def parse_filters(items: Iterable[str], specs: Mapping[Any, dict] | None = None) -> dict[str, Any]:
    """``["price__gte=10", "city=Zürich"]`` -> ``{"price__gte": 10, "city": "Zürich"}``.

    ``specs`` (column name -> stored column spec) keeps values for text and date/time columns
    as text, so ``code=007`` or ``day__gte=2024-01-01`` mean what they say.
    """
    filters: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidFilterError(
                f"bad filter {item!r}: use column__op=value, e.g. price__gte=10"
            )
        if key in filters:
            raise InvalidFilterError(f"filter {key!r} is given twice")
        column, op = split_filter(key)
        spec = (specs or {}).get(column)
        textual = spec is not None and (spec.get("sql") == "text" or "unit" in spec)
        filters[key] = _as_text(raw, op) if textual else parse_value(raw)
    return filters


def column_specs(kind_meta: Mapping[str, Any]) -> dict[Any, dict]:
    """Column name -> spec for a stored frame (index levels with names included)."""
    specs = {str(s["name"]): s for s in kind_meta.get("columns", [])}
    for level in kind_meta.get("index", {}).get("levels", []):
        if level.get("name") is not None:
            specs.setdefault(str(level["name"]), level)
    return specs
