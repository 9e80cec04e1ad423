"""Parsing ``key=value`` text shared by the surfaces (CLI options, magics, REST query strings):
notebook and script parameters, and ``col__op=value`` filters into the store's filter
keywords (one grammar for every surface: ``filter_values``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

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


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_LIST_OPS = ("in", "nin", "between")


def parse_filters(items: Iterable[str], specs: Mapping[Any, dict] | None = None) -> dict[str, Any]:
    """``["price__gte=10", "city=Zürich"]`` -> ``{"price__gte": 10, "city": "Zürich"}``: the
    filter text of the CLI (``-f``) and the magics, by the grammar of ``filter_values``."""
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidFilterError(
                f"bad filter {item!r}: use column__op=value, e.g. price__gte=10"
            )
        if key in pairs:
            raise InvalidFilterError(f"filter {key!r} is given twice")
        pairs[key] = raw
    return filter_values(pairs, specs)


def filter_values(
    pairs: Mapping[str, str], specs: Mapping[Any, dict] | None = None
) -> dict[str, Any]:
    """Filter text (``{"price__gte": "10"}``) to the store's filter keywords, typed by the
    column: the one grammar of every surface (CLI, magics, REST query strings; see
    docs/filters.md). ``specs``: column or named index level -> stored spec
    (``column_specs``); a column without a spec is parsed as JSON-ish text (numbers,
    true/false, null), and the store names an unknown column in its error.

    - ``isnull``: true/false (also 1/0, yes/no, on/off).
    - ``in``, ``nin``, ``between``: a JSON array, or comma-separated values (one value
      without a comma is a one-item list); each item typed like a single value.
    - a single value, by the column's type (of its categories' values for a category):
      ``null`` is a missing value; text and date/time columns take the text as it is;
      numbers must read as numbers; booleans as true/false (1/0, yes/no, on/off).
    - no value holds a NUL character, and an integer for an integer column fits the column's
      type (a value that cannot be stored cannot be compared either: an error, not no rows).
    """
    # the dataset package brings pandas and SQLAlchemy: imported here, not by ``om --help``
    from omega_jupyter.datasets.filters import split_filter

    out: dict[str, Any] = {}
    for key, raw in pairs.items():
        if "\x00" in raw:
            raise InvalidFilterError(f"{key}: filter values cannot hold a NUL character")
        column, op = split_filter(key)
        spec = (specs or {}).get(column)
        if op == "isnull":
            out[key] = _flag(raw, key)
        elif op in _LIST_OPS:
            out[key] = [_typed(item, spec, key) for item in _items(raw, key)]
        else:
            out[key] = _typed(raw, spec, key)
    return out


def _items(raw: str, key: str) -> list[Any]:
    text = raw.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            raise InvalidFilterError(f"{key}: malformed JSON list {text[:50]!r}") from None
        if not isinstance(value, list):
            raise InvalidFilterError(f"{key}: expected a JSON list, got {text[:50]!r}")
        return value
    return raw.split(",")


def _flag(raw: Any, key: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidFilterError(f"{key}: expects true or false, got {str(raw)[:50]!r}")


def _typed(raw: Any, spec: dict | None, key: str) -> Any:
    """One value, typed by ``spec`` (and checked against its range, ``_in_range``)."""
    return _in_range(_parsed(raw, spec, key), spec, key)


# The integer types of stored columns (``sql`` in a column spec) and the values they hold.
_INT_RANGES = {f"int{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (8, 16, 32, 64)}


def _in_range(value: Any, spec: dict | None, key: str) -> Any:
    """``value`` if the column's type can hold it. An integer beyond 64 bits for a float
    column becomes a float; for an integer column (or a column without a spec) it is an
    error, as is a value outside the integer column's type."""
    if not isinstance(value, int) or isinstance(value, bool):
        return value
    inner = (spec or {}).get("category", {}).get("inner", spec or {})
    sql = inner.get("sql", (spec or {}).get("sql"))
    low, high = _INT_RANGES.get(sql, _INT_RANGES["int64"])
    if low <= value <= high:
        return value
    if spec is not None and sql in ("float32", "float64"):
        return float(value)
    kind = sql if sql in _INT_RANGES else "a 64-bit integer"
    raise InvalidFilterError(f"{key}: {str(value)[:50]} is out of range for {kind}")


def _parsed(raw: Any, spec: dict | None, key: str) -> Any:
    """One value, typed by ``spec``. Items of a JSON list arrive typed already: a number or
    boolean for a text column becomes its JSON text."""
    if spec is None:
        return parse_value(raw) if isinstance(raw, str) else raw
    inner = spec.get("category", {}).get("inner", spec)
    sql = inner.get("sql", spec.get("sql"))
    textual = sql == "text" or "unit" in spec or "unit" in inner
    if not isinstance(raw, str):
        if textual and raw is not None and not isinstance(raw, str):
            return json.dumps(raw)
        return raw
    if raw.strip() == "null":
        return None
    if textual:
        return raw
    if sql == "bool":
        return _flag(raw, key)
    try:
        number = json.loads(raw)
    except ValueError:
        number = None
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise InvalidFilterError(f"{key}: {raw[:50]!r} is not a number")
    return number


def column_specs(kind_meta: Mapping[str, Any]) -> dict[Any, dict]:
    """Column name -> spec for a stored frame (index levels with names included)."""
    specs = {str(s["name"]): s for s in kind_meta.get("columns", [])}
    for level in kind_meta.get("index", {}).get("levels", []):
        if level.get("name") is not None:
            specs.setdefault(str(level["name"]), level)
    return specs


def parse_map(spec: str, common: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The members of a run group from the CLI's and the magics' ``--map``: ``key=a,b,c``
    (one member per value, typed like ``key=value``), or a file of one JSON object per line
    (``params.jsonl``) or a JSON list of objects. ``common`` parameters go to every member
    (a member's own win)."""
    key, sep, raw = spec.partition("=")
    if sep and key.strip().isidentifier() and not Path(spec).exists():
        values = [parse_value(v.strip()) for v in raw.split(",") if v.strip()]
        members = [{key.strip(): v} for v in values]
    else:
        path = Path(spec)
        if not path.is_file():
            raise InvalidParameterError(
                f"--map {spec!r}: give key=a,b,c or a file of JSON objects (one per line)"
            )
        members = _members_file(path)
    if not members:
        raise InvalidParameterError(f"--map {spec!r} names no members")
    return [{**(common or {}), **m} for m in members]


def _members_file(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("["):
            items = json.loads(text)
        else:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise InvalidParameterError(f"{path}: not JSON lines nor a JSON list ({exc})") from None
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise InvalidParameterError(f"{path}: member {n} is not a JSON object: {item!r}")
    return list(items)
