"""pandas' ``DataFrame.query`` string form for lazy frames, read without evaluating it.

The text is parsed with Python's ``ast`` and only a small grammar is accepted: comparisons
(``== != < <= > >=``, chained ones, ``in``/``not in`` a list), ``and``/``or``/``not`` (and
``&``/``|``/``~`` between parenthesised tests), column names (bare or in backticks) and literals
(numbers, text, ``True``/``False``/``None``, lists of them). Each node becomes the lazy series
operation a user could have written by hand, so the result is the frame's ordinary filter plan.
Anything else is an ``InvalidFilterError`` that says what is supported; nothing is ever evaluated.
"""

from __future__ import annotations

import ast
from typing import Any

from omega_jupyter.exceptions import InvalidFilterError

SUPPORTED = (
    "comparisons (== != < <= > >=), `in`/`not in` a list, and/or/not (& | ~ between "
    "parenthesised tests), column names (`quoted name` for any name) and literals"
)
_COMPARE = {
    ast.Eq: "__eq__",
    ast.NotEq: "__ne__",
    ast.Lt: "__lt__",
    ast.LtE: "__le__",
    ast.Gt: "__gt__",
    ast.GtE: "__ge__",
}
_FLIPPED = {
    ast.Eq: ast.Eq,
    ast.NotEq: ast.NotEq,
    ast.Lt: ast.Gt,
    ast.LtE: ast.GtE,
    ast.Gt: ast.Lt,
    ast.GtE: ast.LtE,
}


def query_mask(frame: Any, text: str) -> Any:
    """The boolean lazy series that ``text`` (pandas query syntax) selects on ``frame``."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidFilterError("query() expects a non-empty expression string")
    source, names = _replace_backticks(text)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise InvalidFilterError(f"query {text!r} is not a valid expression: {exc.msg}") from None
    return _Reader(frame, names, text).test(tree.body)


def _replace_backticks(text: str) -> tuple[str, dict[str, str]]:
    """Backtick-quoted column names become placeholder identifiers; ``@`` is refused."""
    out: list[str] = []
    names: dict[str, str] = {}
    i, quote = 0, ""
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise InvalidFilterError(f"query {text!r}: unclosed backtick")
            placeholder = f"__omega_col_{len(names)}__"
            names[placeholder] = text[i + 1 : end]
            out.append(f" {placeholder} ")
            i = end
        elif ch == "@":
            raise InvalidFilterError(
                f"query {text!r}: local variables (@name) are not supported; "
                "put the value in the text or use frame[frame.col == value]"
            )
        else:
            out.append(ch)
        i += 1
    return "".join(out), names


class _Reader:
    def __init__(self, frame: Any, names: dict[str, str], text: str) -> None:
        self.frame, self.names, self.text = frame, names, text

    def fail(self, node: ast.AST, what: str) -> InvalidFilterError:
        part = ast.unparse(node)
        for placeholder, name in self.names.items():
            part = part.replace(placeholder, f"`{name}`")
        where = f" ({part})" if part else ""
        return InvalidFilterError(
            f"query {self.text!r}: {what}{where} is not supported; supported are {SUPPORTED}"
        )

    # -- boolean tests ----------------------------------------------------------------------
    def test(self, node: ast.AST) -> Any:
        if isinstance(node, ast.BoolOp):
            parts = [self.test(v) for v in node.values]
            result = parts[0]
            for part in parts[1:]:
                result = (result & part) if isinstance(node.op, ast.And) else (result | part)
            return result
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.Invert):
            return ~self.test(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd | ast.BitOr):
            left, right = self.test(node.left), self.test(node.right)
            return (left & right) if isinstance(node.op, ast.BitAnd) else (left | right)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if self.is_column(node):
            return self.column(node)  # a boolean column on its own; the mask check types it
        raise self.fail(node, type(node).__name__.lower())

    def compare(self, node: ast.Compare) -> Any:
        result = None
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            part = self.one_comparison(left, op, right)
            result = part if result is None else (result & part)
            left = right
        return result

    def one_comparison(self, left: ast.AST, op: ast.cmpop, right: ast.AST) -> Any:
        if isinstance(op, ast.In | ast.NotIn):
            if not self.is_column(left):
                raise self.fail(left, "`in` with something other than a column on the left")
            values = self.literal(right)
            if not isinstance(values, list):
                raise self.fail(right, "`in` with something other than a list on the right")
            mask = self.column(left).isin(values)
            return ~mask if isinstance(op, ast.NotIn) else mask
        if type(op) not in _COMPARE:
            raise self.fail(left, f"the operator {type(op).__name__}")
        for side in (left, right):
            if not self.is_column(side):
                self.literal(side)  # refuses an operand that is neither a column nor a literal
        if not self.is_column(left):
            if not self.is_column(right):
                raise self.fail(left, "a comparison without a column")
            left, right, op = right, left, _FLIPPED[type(op)]()
        column = self.column(left)
        other = self.column(right) if self.is_column(right) else self.literal(right)
        if isinstance(other, list):
            if not isinstance(op, ast.Eq | ast.NotEq):
                raise self.fail(right, "ordering comparison with a list")
            mask = column.isin(other)
            return ~mask if isinstance(op, ast.NotEq) else mask
        return getattr(column, _COMPARE[type(op)])(other)

    # -- operands -----------------------------------------------------------------------------
    def is_column(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id not in ("True", "False", "None")

    def column(self, node: ast.AST) -> Any:
        assert isinstance(node, ast.Name)
        return self.frame[self.names.get(node.id, node.id)]

    def literal(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and (
            node.value is None or isinstance(node.value, bool | int | float | str)
        ):
            return node.value
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
            and not isinstance(node.operand.value, bool)
        ):
            value = node.operand.value
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            values = [self.literal(item) for item in node.elts]
            if any(isinstance(v, list) for v in values):
                raise self.fail(node, "a nested list")
            return values
        raise self.fail(node, "the operand " + type(node).__name__.lower())
