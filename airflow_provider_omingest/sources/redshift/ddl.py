"""Read Redshift DDL statement text: which tables and schemas a statement creates, changes or drops.

Used by the Redshift source's incremental extraction, on the text of ``SYS_QUERY_HISTORY`` (and
``STL_DDLTEXT`` for statements longer than its 4,000 characters). A small tokenizer rather than
one regular expression per statement, so that what OpenMetadata's regexes miss is handled:
quoted identifiers with spaces, dots or quotes, comments, several statements in one text,
``ALTER TABLE … RENAME TO`` (old name dropped, new name created), ``SET SCHEMA``,
``CREATE``/``DROP``/``ALTER SCHEMA``, ``SELECT … INTO`` after a ``WITH`` clause, and temporary
tables: a name that begins with ``#`` is a temporary table (Redshift's CREATE TABLE reference,
parameter *table_name*: https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html),
like one created ``TEMP``; statements on them (``CREATE TABLE #stage``, ``DROP TABLE #stage``,
``SELECT … INTO #t``) change nothing a catalog holds and yield no event.

Unquoted identifiers are folded to lower case, as Redshift does; quoted ones keep their
spelling (the source also reports their lower-case form, because Redshift folds quoted
identifiers too unless ``enable_case_sensitive_identifier`` is on).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DdlEvent",
    "DdlParseError",
    "QualifiedName",
    "Token",
    "parse_ddl",
    "split_column_list",
    "tokenize",
    "unescape_ddltext",
]

EventKind = Literal["changed", "dropped", "schema_created", "schema_dropped"]

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<line_comment>--[^\n]*)
  | (?P<block_comment>/\*.*?(?:\*/|\Z))
  | (?P<qident>"(?:[^"]|"")*(?:"|\Z))
  | (?P<string>[Ee]?'(?:[^'\\]|''|\\.)*(?:'|\Z))
  | (?P<dollar>\$(?P<tag>[A-Za-z_]*)\$.*?(?:\$(?P=tag)\$|\Z))
  | (?P<tempident>\#[^\W\d][\w$]*)
  | (?P<word>[^\W\d][\w$]*)
  | (?P<number>\d+(?:\.\d*)?)
  | (?P<punct>::|[.,();=*])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_TABLE_KINDS = ("table", "view")
_TEMP_WORDS = frozenset({"temp", "temporary", "local"})
_STL_ESCAPES = {"\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\t": "\t"}


class DdlParseError(ValueError):
    """A statement that changes tables or schemas could not be read (e.g. cut off)."""


@dataclass(frozen=True)
class Token:
    """A token: ``kind`` is word, qident, string, number, punct or other; ``value`` is unescaped."""

    kind: str
    value: str

    @property
    def keyword(self) -> str | None:
        """Return the lower-cased word, or None for anything that is not an unquoted word."""
        return self.value.lower() if self.kind == "word" else None

    @property
    def is_identifier(self) -> bool:
        return self.kind in ("word", "qident", "tempident")


@dataclass(frozen=True)
class QualifiedName:
    """A one- to three-part name as written: ``[database.][schema.]name``.

    ``quoted`` says, per part, whether it was written in double quotes.
    """

    parts: tuple[str, ...]
    quoted: tuple[bool, ...]

    @property
    def name(self) -> str:
        return self.parts[-1]

    @property
    def schema(self) -> str | None:
        return self.parts[-2] if len(self.parts) >= 2 else None

    @property
    def database(self) -> str | None:
        return self.parts[-3] if len(self.parts) >= 3 else None

    @property
    def is_temporary(self) -> bool:
        """Return whether the name is a temporary table's (``#name``: session-local, never catalogued)."""
        return self.parts[-1].startswith("#") and not self.quoted[-1]

    def parent(self) -> QualifiedName:
        """Return the name without its last part (the table of a ``COMMENT ON COLUMN``)."""
        return QualifiedName(self.parts[:-1], self.quoted[:-1])

    def sibling(self, name: QualifiedName) -> QualifiedName:
        """Return ``name``'s last part in this name's schema (the target of ``RENAME TO``)."""
        return QualifiedName(self.parts[:-1] + name.parts[-1:], self.quoted[:-1] + name.quoted[-1:])

    def moved_to(self, schema: QualifiedName) -> QualifiedName:
        """Return this name moved to ``schema`` (the target of ``SET SCHEMA``)."""
        return QualifiedName(schema.parts[-1:] + self.parts[-1:], schema.quoted[-1:] + self.quoted[-1:])


@dataclass(frozen=True)
class DdlEvent:
    """One effect of a statement on a table or schema.

    :param kind: ``changed`` (created, altered, commented, re-created), ``dropped`` (dropped or
        renamed away), ``schema_created`` or ``schema_dropped``.
    :param name: the table (or, for schema events, the schema) as written.
    :param cascade: a ``DROP … CASCADE``: dependent views may have vanished unnamed.
    """

    kind: EventKind
    name: QualifiedName
    cascade: bool = False


# --------------------------------------------------------------------------- tokens


def unescape_ddltext(text: str) -> str:
    """Undo the escaping of ``STL_DDLTEXT.text`` (backslash and newline are stored escaped).

    :param text: the chunks of one statement already joined in ``sequence`` order.
    """
    return re.sub(r"\\[\\nrt]", lambda m: _STL_ESCAPES[m.group(0)], text)


def tokenize(text: str) -> list[Token]:
    """Split SQL text into tokens, dropping spaces and comments.

    :param text: one or more SQL statements.
    """
    tokens: list[Token] = []
    for match in _TOKEN_RE.finditer(text):
        kind = match.lastgroup
        value = match.group(0)
        if kind in ("space", "line_comment", "block_comment"):
            continue
        if kind == "qident":
            if not value.endswith('"') or len(value) < 2:
                tokens.append(Token("cut", value))
                continue
            value = value[1:-1].replace('""', '"')
        elif kind == "dollar":
            kind = "string"
        tokens.append(Token(kind or "other", value))
    return tokens


def _statements(tokens: list[Token]) -> Iterator[list[Token]]:
    depth, start = 0, 0
    for i, tok in enumerate(tokens):
        if tok.kind != "punct":
            continue
        if tok.value == "(":
            depth += 1
        elif tok.value == ")":
            depth = max(0, depth - 1)
        elif tok.value == ";" and depth == 0:
            if i > start:
                yield tokens[start:i]
            start = i + 1
    if start < len(tokens):
        yield tokens[start:]


# --------------------------------------------------------------------------- parser


class _Cursor:
    """Walks the tokens of one statement."""

    def __init__(self, tokens: list[Token], statement: str) -> None:
        self.tokens, self.pos, self.statement = tokens, 0, statement

    def peek(self, offset: int = 0) -> Token | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def peek_keyword(self, offset: int = 0) -> str | None:
        tok = self.peek(offset)
        return tok.keyword if tok else None

    def accept(self, *keywords: str) -> bool:
        """Consume the keywords if they come next, in order."""
        for offset, kw in enumerate(keywords):
            if self.peek_keyword(offset) != kw:
                return False
        self.pos += len(keywords)
        return True

    def accept_punct(self, value: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "punct" and tok.value == value:
            self.pos += 1
            return True
        return False

    def name(self, max_parts: int = 3) -> QualifiedName:
        """Read a qualified name, or raise :class:`DdlParseError`."""
        parts: list[str] = []
        quoted: list[bool] = []
        while True:
            tok = self.peek()
            if tok is None or not tok.is_identifier:
                raise DdlParseError(f"expected a name in: {self.statement[:200]!r}")
            parts.append(tok.value if tok.kind == "qident" else tok.value.lower())  # unquoted: folded
            quoted.append(tok.kind == "qident")
            self.pos += 1
            if not self.accept_punct("."):
                break
        if len(parts) > max_parts:
            raise DdlParseError(f"a name has more than {max_parts} parts in: {self.statement[:200]!r}")
        return QualifiedName(tuple(parts), tuple(quoted))

    def names(self) -> list[QualifiedName]:
        """Read a comma-separated list of names."""
        out = [self.name()]
        while self.accept_punct(","):
            out.append(self.name())
        return out

    def rest_has(self, keyword: str) -> bool:
        return any(t.keyword == keyword for t in self.tokens[self.pos :])


def parse_ddl(text: str) -> list[DdlEvent]:
    """Return what the statements in ``text`` do to tables and schemas.

    Statements that change neither (SELECT, GRANT, VACUUM, CREATE FUNCTION, …) yield nothing.

    :param text: the statement text, possibly holding several statements.
    :raises DdlParseError: when a statement that changes a table or schema cannot be read, for
        instance because the text was cut off before the name.
    """
    events: list[DdlEvent] = []
    tokens = tokenize(text)
    for statement in _statements(tokens):
        if any(t.kind == "cut" for t in statement):
            raise DdlParseError(f"the statement text is cut off: {text[:200]!r}")
        events.extend(_parse_statement(_Cursor(statement, text)))
    return [e for e in events if e.kind in ("schema_created", "schema_dropped") or not e.name.is_temporary]


def _parse_statement(cur: _Cursor) -> list[DdlEvent]:
    head = cur.peek_keyword()
    if head == "create":
        cur.pos += 1
        return _parse_create(cur)
    if head == "alter":
        cur.pos += 1
        return _parse_alter(cur)
    if head == "drop":
        cur.pos += 1
        return _parse_drop(cur)
    if head == "comment" and cur.accept("comment", "on"):
        return _parse_comment(cur)
    if head == "select":
        return _parse_select_into(cur)
    if head == "with" and _skip_with_clause(cur) and cur.peek_keyword() == "select":
        return _parse_select_into(cur)
    return []


def _accept_if_not_exists(cur: _Cursor) -> None:
    cur.accept("if", "not", "exists")


def _parse_create(cur: _Cursor) -> list[DdlEvent]:
    cur.accept("or", "replace")
    temporary = False
    while cur.peek_keyword() in _TEMP_WORDS:
        temporary = True
        cur.pos += 1
    cur.accept("external") or cur.accept("materialized")
    kind = cur.peek_keyword()
    if kind in _TABLE_KINDS:
        cur.pos += 1
        _accept_if_not_exists(cur)
        return [] if temporary else [DdlEvent("changed", cur.name())]
    if kind == "schema":
        cur.pos += 1
        _accept_if_not_exists(cur)
        cur.accept("authorization")  # CREATE SCHEMA AUTHORIZATION user: named after the user
        return [DdlEvent("schema_created", cur.name())]
    return []


def _parse_alter(cur: _Cursor) -> list[DdlEvent]:
    if cur.accept("schema"):
        old = cur.name()
        if cur.accept("rename", "to"):
            return [DdlEvent("schema_dropped", old), DdlEvent("schema_created", cur.name())]
        return []
    cur.accept("external") or cur.accept("materialized")
    if cur.peek_keyword() not in _TABLE_KINDS:
        return []
    cur.pos += 1
    cur.accept("if", "exists")
    cur.accept("only")
    name = cur.name()
    if cur.accept("rename", "to"):
        return [DdlEvent("dropped", name), DdlEvent("changed", name.sibling(cur.name()))]
    if cur.accept("set", "schema"):
        return [DdlEvent("dropped", name), DdlEvent("changed", name.moved_to(cur.name()))]
    return [DdlEvent("changed", name)]


def _parse_drop(cur: _Cursor) -> list[DdlEvent]:
    if cur.accept("schema"):
        cur.accept("if", "exists")
        cascade = cur.rest_has("cascade")
        return [DdlEvent("schema_dropped", n, cascade) for n in cur.names()]
    cur.accept("external") or cur.accept("materialized")
    if cur.peek_keyword() not in _TABLE_KINDS:
        return []
    cur.pos += 1
    cur.accept("if", "exists")
    names = cur.names()
    cascade = cur.rest_has("cascade")
    return [DdlEvent("dropped", n, cascade) for n in names]


def _parse_comment(cur: _Cursor) -> list[DdlEvent]:
    if cur.accept("column"):
        column = cur.name(max_parts=4)
        if len(column.parts) < 2:
            raise DdlParseError(f"COMMENT ON COLUMN without a table in: {cur.statement[:200]!r}")
        return [DdlEvent("changed", column.parent())]
    cur.accept("materialized") or cur.accept("external")
    if cur.peek_keyword() in _TABLE_KINDS:
        cur.pos += 1
        return [DdlEvent("changed", cur.name())]
    if cur.accept("constraint"):
        cur.name()
        if cur.accept("on"):
            return [DdlEvent("changed", cur.name())]
    return []


def _skip_with_clause(cur: _Cursor) -> bool:
    """Skip ``WITH [RECURSIVE] name [(columns)] AS (query) [, ...]``; return whether it was read whole.

    SELECT INTO may start with a WITH clause (Redshift's SELECT INTO reference:
    https://docs.aws.amazon.com/redshift/latest/dg/r_SELECT_INTO.html).
    """
    cur.accept("with")
    cur.accept("recursive")
    while True:
        tok = cur.peek()
        if tok is None or not tok.is_identifier:
            return False
        cur.pos += 1
        if cur.peek() is not None and cur.peek().kind == "punct" and cur.peek().value == "(":
            _skip_parentheses(cur)
        if not cur.accept("as") or not _skip_parentheses(cur):
            return False
        if not cur.accept_punct(","):
            return True


def _skip_parentheses(cur: _Cursor) -> bool:
    """Skip one balanced parenthesised group at the cursor; return whether there was one."""
    tok = cur.peek()
    if tok is None or tok.kind != "punct" or tok.value != "(":
        return False
    depth = 0
    while (tok := cur.peek()) is not None:
        cur.pos += 1
        if tok.kind == "punct" and tok.value == "(":
            depth += 1
        elif tok.kind == "punct" and tok.value == ")":
            depth -= 1
            if depth == 0:
                return True
    return False


def _parse_select_into(cur: _Cursor) -> list[DdlEvent]:
    depth = 0
    start = cur.pos
    for i, tok in enumerate(cur.tokens[start:], start=start):
        if tok.kind == "punct" and tok.value in "()":
            depth += 1 if tok.value == "(" else -1
        elif depth == 0 and tok.keyword == "from":
            return []
        elif depth == 0 and tok.keyword == "into":
            cur.pos = i + 1
            temporary = False
            while cur.peek_keyword() in _TEMP_WORDS:
                temporary = True
                cur.pos += 1
            cur.accept("table")
            return [] if temporary else [DdlEvent("changed", cur.name())]
    return []


# --------------------------------------------------------------------------- column lists


def split_column_list(definition: str, after_keyword: str | None = None) -> tuple[str, ...]:
    """Return the names in the first parenthesised list of ``definition``.

    Used on ``pg_get_constraintdef`` output such as ``FOREIGN KEY (a, "B c") REFERENCES t(x)``.

    :param definition: the text to read.
    :param after_keyword: read the list that follows this keyword (e.g. ``references``) instead.
    """
    tokens = tokenize(definition)
    start = 0
    if after_keyword is not None:
        keyword_at = [i for i, t in enumerate(tokens) if t.keyword == after_keyword]
        if not keyword_at:
            return ()
        start = keyword_at[0] + 1
    names: list[str] = []
    inside = False
    for tok in tokens[start:]:
        if tok.kind == "punct" and tok.value == "(":
            inside = True
        elif tok.kind == "punct" and tok.value == ")" and inside:
            break
        elif inside and tok.is_identifier:
            names.append(tok.value if tok.kind == "qident" else tok.value.lower())
    return tuple(names)
