"""Read Redshift's DDL history: which tables and schemas changed since a point in time.

One ``SYS_QUERY_HISTORY`` statement per run for every database (successful statements of the
query types that carry DDL), plus one ``SYS_QUERY_TEXT`` statement only when a statement is
longer than the 4,000 characters the history keeps, plus one name lookup per database only
when statements used unqualified names. What the vendor documents and this module relies on:

- ``SYS_QUERY_HISTORY`` (https://docs.aws.amazon.com/redshift/latest/dg/SYS_QUERY_HISTORY.html):
  one row per query; ``query_type`` values include ``DDL``, ``UTILITY`` (``COMMENT``), ``CTAS``;
  ``status`` values are lowercase (``success``); ``query_text`` is ``character(4000)`` "and
  might be truncated"; superusers see every row, other users only their own. Its times are
  read as UTC (the session time zone is UTC, set at connect).
- ``SYS_QUERY_TEXT`` (https://docs.aws.amazon.com/redshift/latest/dg/SYS_QUERY_TEXT.html): the
  text of every query (DDL and utility statements included) in 4,000-character rows numbered by
  ``sequence``, with the same ``query_id``; on provisioned clusters and Serverless alike.
  ``STL_DDLTEXT`` is not used: it holds no CTAS and does not exist on Serverless.
- A CTAS names its target at the start of its text, so a truncated CTAS whose full text is no
  longer kept still names its table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_omingest.exceptions import IncrementalUnsupported
from airflow_provider_omingest.models.changes import ChangeSet, TableRef
from airflow_provider_omingest.sources.base import as_utc
from airflow_provider_omingest.sources.redshift.ddl import (
    DdlEvent,
    DdlParseError,
    QualifiedName,
    parse_ddl,
    unescape_ddltext,
)

__all__ = ["DDL_QUERY_TYPES", "HISTORY_METHOD", "HISTORY_TEXT_LIMIT", "HistoryRow", "RedshiftChangeReader"]

#: ``ChangeSet.method`` of changes read from the history.
HISTORY_METHOD = "SYS_QUERY_HISTORY"

#: ``SYS_QUERY_HISTORY.query_text`` keeps this many characters; longer texts come from SYS_QUERY_TEXT.
HISTORY_TEXT_LIMIT = 4000

#: The documented ``query_type`` values whose statements can create, change or drop a table or schema.
DDL_QUERY_TYPES = ("DDL", "UTILITY", "CTAS")

#: Runs one statement on a database's connection and returns its rows.
Fetch = Callable[[str, str, Sequence[Any]], list[tuple[Any, ...]]]

_IS_SUPERUSER = "select usesuper from pg_user where usename = current_user"

_HISTORY = """
select 'window' as kind, null as query_id, null as query_type, null as database_name,
       min(start_time) as start_time, getdate() as end_time, null as transaction_id, null as session_id,
       null as query_text
from sys_query_history
union all
select 'ddl', query_id, trim(query_type), trim(database_name), start_time, end_time, transaction_id, session_id,
       query_text
from sys_query_history
where trim(status) = 'success'
  and trim(query_type) in ({types})
  and end_time >= %s
  and trim(database_name) in ({names})
order by 1, 6, 5
"""

_QUERY_TEXT = """
select query_id, sequence, text
from sys_query_text
where query_id in ({ids})
order by query_id, sequence
"""

_RESOLVE_NAMES = """
select n.nspname, c.relname
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'v', 'm', 'p', 'f') and c.relname in ({names})
"""


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


@dataclass(frozen=True)
class HistoryRow:
    """One successful statement of ``SYS_QUERY_HISTORY``."""

    database: str
    query_id: int
    query_type: str
    start_time: datetime
    end_time: datetime
    text: str

    @property
    def truncated(self) -> bool:
        """Return whether the history may have cut the text (it arrives blank-padded and is stripped)."""
        return len(self.text) >= HISTORY_TEXT_LIMIT - 8


class RedshiftChangeReader:
    """Find the tables and schemas changed since a point in time in the DDL history.

    :param fetch: runs a statement on a database's connection (the source's).
    :param home: the database whose connection reads the history (the views span every database).
    :param kind: the source's kind, for :class:`IncrementalUnsupported`.
    :param default_schema: the schema unqualified names refer to, besides the schemas holding a
        relation of that name now.
    :param trust_history_visibility: treat the history as complete for a user that is not a superuser.
    """

    def __init__(self, fetch: Fetch, *, home: str, kind: str, default_schema: str,
                 trust_history_visibility: bool) -> None:
        self.fetch, self.home, self.kind = fetch, home, kind
        self.default_schema = default_schema
        self.trust_history_visibility = trust_history_visibility

    def changes_since(self, since: datetime, databases: list[str]) -> ChangeSet:
        """Return what the history says changed since ``since`` in ``databases``.

        :raises IncrementalUnsupported: when the history is not fully visible to this user, does
            not reach back to ``since``, or holds a statement that cannot be read.
        """
        self._require_history_visibility()
        since_utc = as_utc(since).replace(tzinfo=None)
        oldest, until, rows = self._read_history(since_utc, databases)
        if oldest is None or oldest > since_utc:
            raise IncrementalUnsupported(
                self.kind,
                f"SYS_QUERY_HISTORY only reaches back to {oldest or 'nothing'} (UTC), after the start of the "
                f"window {since_utc} (UTC); changes before that are no longer recorded",
            )
        method, notes = HISTORY_METHOD, []
        truncated = [r for r in rows if r.truncated]
        full: dict[int, str] = {}
        if truncated:
            method += " + SYS_QUERY_TEXT"
            full = self._full_texts(truncated)
        events: list[tuple[str, DdlEvent]] = []
        for row in rows:
            cut = row.truncated and row.query_id not in full
            events.extend((row.database, e) for e in self._parse(row, full.get(row.query_id, row.text), cut, notes))
        return ChangeSet(method=method, since=since, until=until, notes=notes, **self._build(events, notes))

    def _parse(self, row: HistoryRow, text: str, cut: bool, notes: list[str]) -> list[DdlEvent]:
        if cut and row.query_type != "CTAS":
            raise IncrementalUnsupported(
                self.kind, f"a DDL statement (query {row.query_id}) is longer than {HISTORY_TEXT_LIMIT} characters "
                "and SYS_QUERY_TEXT no longer holds its full text")
        try:
            events = parse_ddl(text)
        except DdlParseError as e:
            raise IncrementalUnsupported(self.kind, f"a DDL statement could not be read ({e})") from e
        if cut:
            # A CTAS names its target first: the first 4,000 characters are enough.
            notes.append(f"query {row.query_id} (CTAS) was read from the first {HISTORY_TEXT_LIMIT} characters "
                         "SYS_QUERY_HISTORY keeps: SYS_QUERY_TEXT no longer holds it")
        return events

    # ------------------------------------------------------------------ reading

    def _require_history_visibility(self) -> None:
        try:
            rows = self.fetch(self.home, _IS_SUPERUSER, ())
        except Exception as e:
            raise IncrementalUnsupported(self.kind, f"cannot check the user's privileges: {e}") from e
        if (rows and rows[0][0]) or self.trust_history_visibility:
            return
        raise IncrementalUnsupported(
            self.kind,
            "the connection's user is not a superuser, so SYS_QUERY_HISTORY and SYS_QUERY_TEXT show only its own "
            "statements and DDL run by other users would be missed. Connect as a superuser, or grant the user "
            "'SYSLOG ACCESS UNRESTRICTED' (or the sys:monitor role) and set the connection extra "
            "trust_history_visibility=true (DDL run by superusers stays invisible to it)",
        )

    def _read_history(self, since: datetime, databases: list[str]) -> tuple[datetime | None, datetime, list[HistoryRow]]:
        sql = _HISTORY.format(types=", ".join(f"'{t}'" for t in DDL_QUERY_TYPES),
                              names=_placeholders(len(databases)))
        try:
            fetched = self.fetch(self.home, sql, [since, *databases])
        except Exception as e:
            raise IncrementalUnsupported(self.kind, f"SYS_QUERY_HISTORY is not readable: {e}") from e
        oldest: datetime | None = None
        until = datetime.now(timezone.utc)
        rows: list[HistoryRow] = []
        for kind, query_id, query_type, database, start, end, _xid, _pid, text in fetched:
            if kind == "window":
                oldest, until = start, as_utc(end)
                continue
            rows.append(HistoryRow(database=database, query_id=int(query_id), query_type=str(query_type),
                                   start_time=start, end_time=end, text=(text or "").rstrip()))
        return oldest, until, rows

    def _full_texts(self, rows: list[HistoryRow]) -> dict[int, str]:
        """Return query id -> full text from ``SYS_QUERY_TEXT`` (chunks joined in ``sequence`` order)."""
        ids = sorted({r.query_id for r in rows})
        try:
            fetched = self.fetch(self.home, _QUERY_TEXT.format(ids=_placeholders(len(ids))), ids)
        except Exception as e:
            raise IncrementalUnsupported(
                self.kind, f"a DDL statement longer than {HISTORY_TEXT_LIMIT} characters needs SYS_QUERY_TEXT, "
                f"which is not readable: {e}"
            ) from e
        chunks: dict[int, list[str]] = {}
        for query_id, _sequence, chunk in fetched:
            chunks.setdefault(int(query_id), []).append(chunk or "")
        # Every row but the last is a full 4,000 characters; only the last is blank-padded.
        return {qid: unescape_ddltext("".join(parts)).rstrip() for qid, parts in chunks.items()}

    # ------------------------------------------------------------------ events -> changes

    def _build(self, events: list[tuple[str, DdlEvent]], notes: list[str]) -> dict[str, Any]:
        resolved = self._resolve_unqualified(events, notes)
        changed: dict[TableRef, None] = {}
        dropped: dict[TableRef, None] = {}
        created_schemas: dict[tuple[str, str], None] = {}
        dropped_schemas: dict[tuple[str, str], None] = {}
        cascades = 0
        for database, event in events:
            cascades += event.cascade and event.kind == "dropped"
            if event.kind in ("schema_created", "schema_dropped"):
                target = created_schemas if event.kind == "schema_created" else dropped_schemas
                for name in _spellings(event.name.parts[-1], event.name.quoted[-1]):
                    target[(event.name.database or database, name)] = None
                continue
            target_tables = changed if event.kind == "changed" else dropped
            for ref in _table_refs(database, event.name, resolved, self.default_schema):
                target_tables[ref] = None
        if cascades:
            notes.append(
                f"{cascades} DROP … CASCADE statement(s) in the window: views depending on the dropped tables "
                "were dropped too without being named; the next full run removes them from the catalog"
            )
        return {
            "changed": sorted(changed, key=_ref_key),
            "dropped": sorted(dropped, key=_ref_key),
            "created_schemas": sorted(created_schemas),
            "dropped_schemas": sorted(dropped_schemas),
        }

    def _resolve_unqualified(
        self, events: list[tuple[str, DdlEvent]], notes: list[str]
    ) -> dict[tuple[str, str], list[str]]:
        """Return (database, name) -> schemas for names written without a schema.

        The history does not keep the session's ``search_path``: an unqualified name is taken
        to be in ``default_schema`` and in every schema that holds a relation of that name now.
        """
        wanted: dict[str, set[str]] = {}
        for database, event in events:
            if event.kind in ("changed", "dropped") and event.name.schema is None:
                wanted.setdefault(database, set()).update(_spellings(event.name.name, event.name.quoted[-1]))
        resolved: dict[tuple[str, str], list[str]] = {}
        for database, names in wanted.items():
            found: dict[str, set[str]] = {n: {self.default_schema} for n in names}
            ordered = sorted(names)
            try:
                rows = self.fetch(database, _RESOLVE_NAMES.format(names=_placeholders(len(ordered))), ordered)
            except Exception as e:
                raise IncrementalUnsupported(self.kind, f"cannot look up unqualified table names: {e}") from e
            for schema, name in rows:
                found.setdefault(name, set()).add(schema)
            resolved.update({(database, n): sorted(s) for n, s in found.items()})
            notes.append(
                f"{len(names)} table name(s) in {database} were written without a schema; looked for in "
                f"{self.default_schema!r} and in the schemas holding them now"
            )
        return resolved


def _spellings(name: str, quoted: bool) -> list[str]:
    """Return the names a DDL identifier may refer to (quoted names may be folded by Redshift)."""
    return [name] if not quoted or name == name.lower() else [name, name.lower()]


def _table_refs(
    database: str, name: QualifiedName, resolved: dict[tuple[str, str], list[str]], default_schema: str
) -> list[TableRef]:
    db = name.database or database
    tables = _spellings(name.name, name.quoted[-1])
    if name.schema is not None:
        schemas = _spellings(name.schema, name.quoted[-2])
        return [TableRef(database=db, schema_name=s, table=t) for s in schemas for t in tables]
    return [
        TableRef(database=db, schema_name=s, table=t)
        for t in tables
        for s in resolved.get((database, t), [default_schema])
    ]


def _ref_key(ref: TableRef) -> tuple[str, str, str]:
    return ref.database, ref.schema_name, ref.table
