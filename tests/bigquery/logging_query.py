"""Evaluate a Cloud Logging query against log entries, as the Logging API does (the part our filters use).

The stand-in must answer the filter it is sent, not ignore it: a filter that leaves a method out
must leave its entries out. Rules, from the Logging query language reference
(https://cloud.google.com/logging/docs/view/logging-query-language):

- A query is comparisons joined by ``AND``, ``OR`` and ``NOT`` (operators in capitals; a sequence
  of comparisons without an operator is an implicit ``AND``), grouped with parentheses.
- Precedence: ``NOT`` first, then ``OR``, then ``AND`` ("The NOT operator has the highest
  precedence, followed by OR and AND in that order"): ``a AND b OR c`` is ``a AND (b OR c)``.
- A comparison is ``field OP value`` with ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` or ``:`` (has:
  substring for text). ``field:*`` tests that the field is present. A value may be a list,
  ``field=("a" OR "b")``, true when any value matches.
- Field paths are dot-separated; a part with special characters is quoted (``metadata."@type"``).
  A missing field matches no comparison (``NOT`` then makes it true).
- String comparisons are not case sensitive; ``timestamp`` compares as a time (RFC 3339).

Anything else (global restrictions, regular expressions, functions) raises :class:`FilterError`,
which the stand-in answers with 400, so an unsupported filter fails a test loudly instead of
matching everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

__all__ = ["FilterError", "compile_filter"]

Predicate = Callable[[Mapping[str, Any]], bool]

_TOKEN = re.compile(r"""
    (?P<space>\s+|--[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<op>>=|<=|!=|=~|!~|[=<>:])
  | (?P<paren>[()])
  | (?P<dot>\.)
  | (?P<star>\*)
  | (?P<word>[A-Za-z0-9_@$+\-]+)
""", re.VERBOSE)


class FilterError(ValueError):
    """A query the stand-in cannot evaluate (invalid, or outside what it models)."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FilterError(f"unexpected character {text[pos]!r} at {pos}")
        pos = m.end()
        if m.lastgroup != "space":
            value = m.group(0)
            if m.lastgroup == "string":
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            out.append((m.lastgroup or "", value))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens, self.i = _tokens(text), 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        i = self.i + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise FilterError("unexpected end of the query")
        self.i += 1
        return tok

    def is_word(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and tok == ("word", word)

    # expression := or_group { [AND] or_group }        (AND binds loosest)
    def expression(self) -> Predicate:
        parts = [self.or_group()]
        while self.peek() is not None and self.peek() != ("paren", ")"):
            if self.is_word("AND"):
                self.take()
            parts.append(self.or_group())
        return lambda e: all(p(e) for p in parts)

    # or_group := unary { OR unary }
    def or_group(self) -> Predicate:
        parts = [self.unary()]
        while self.is_word("OR"):
            self.take()
            parts.append(self.unary())
        return lambda e: any(p(e) for p in parts)

    # unary := [NOT] primary                            (NOT binds tightest)
    def unary(self) -> Predicate:
        if self.is_word("NOT"):
            self.take()
            inner = self.unary()
            return lambda e: not inner(e)
        return self.primary()

    def primary(self) -> Predicate:
        if self.peek() == ("paren", "("):
            self.take()
            inner = self.expression()
            if self.take() != ("paren", ")"):
                raise FilterError("a parenthesis is not closed")
            return inner
        path = self.field()
        kind, op = self.take()
        if kind != "op":
            raise FilterError(f"a bare value ({'.'.join(path)}) is a global restriction: not modelled")
        if op in ("=~", "!~"):
            raise FilterError("regular expressions are not modelled")
        if op == ":" and self.peek() == ("star", "*"):
            self.take()
            return lambda e: _lookup(e, path) is not None
        values = self.values()
        return lambda e: _compare(_lookup(e, path), op, values, path)

    def field(self) -> list[str]:
        parts = []
        while True:
            kind, value = self.take()
            if kind not in ("word", "string"):
                raise FilterError(f"expected a field name, got {value!r}")
            parts.append(value)
            if self.peek() != ("dot", "."):
                return parts
            self.take()

    def values(self) -> list[str]:
        if self.peek() == ("paren", "("):
            self.take()
            values = [self.value()]
            while self.is_word("OR"):
                self.take()
                values.append(self.value())
            if self.take() != ("paren", ")"):
                raise FilterError("a value list is not closed")
            return values
        return [self.value()]

    def value(self) -> str:
        kind, value = self.take()
        if kind not in ("word", "string"):
            raise FilterError(f"expected a value, got {value!r}")
        return value


def _lookup(entry: Mapping[str, Any], path: list[str]) -> Any:
    node: Any = entry
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _timestamp(text: str) -> datetime:
    text = text.strip().rstrip("Z")
    head, _, frac = text.partition(".")
    value = datetime.fromisoformat(f"{head}.{frac[:6].ljust(6, '0')}" if frac else head)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _compare(actual: Any, op: str, values: list[str], path: list[str]) -> bool:
    if actual is None:
        return False  # a missing field matches no comparison
    results = []
    for value in values:
        if path == ["timestamp"]:
            left, right = _timestamp(str(actual)), _timestamp(value)
        elif isinstance(actual, bool):
            left, right = str(actual).lower(), value.lower()
        elif isinstance(actual, (int, float)):
            left, right = float(actual), float(value)
        else:
            left, right = str(actual).lower(), value.lower()  # string comparisons are not case sensitive
        if op == ":":
            results.append(isinstance(left, str) and right in left)
        elif op == "=":
            results.append(left == right)
        elif op == "!=":
            results.append(left != right)
        elif op == ">=":
            results.append(left >= right)
        elif op == "<=":
            results.append(left <= right)
        elif op == ">":
            results.append(left > right)
        else:
            results.append(left < right)
    return any(results)


def compile_filter(text: str) -> Predicate:
    """Return a predicate over log entries (LogEntry JSON) for a Logging query.

    :raises FilterError: for a query the stand-in cannot evaluate.
    """
    if not text.strip():
        return lambda e: True
    parser = _Parser(text)
    predicate = parser.expression()
    if parser.peek() is not None:
        raise FilterError(f"unexpected {parser.peek()[1]!r}")
    return predicate
