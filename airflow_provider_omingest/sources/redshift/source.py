"""Amazon Redshift source: catalog views for full extraction, the DDL history for incremental.

Full extraction reads each schema with a fixed number of statements, whatever its size:
``pg_namespace`` (plus ``SVV_EXTERNAL_SCHEMAS``), ``pg_class`` with comments and view
definitions, ``SVV_MV_INFO``, ``SVV_ALL_COLUMNS``, ``SVV_REDSHIFT_COLUMNS`` (encodings, dist and
sort keys), ``SVV_TABLE_INFO`` (dist style, rows) and ``pg_constraint``; Spectrum schemas from
``SVV_EXTERNAL_TABLES``/``COLUMNS``. Statements that would read nothing are skipped.

Incremental extraction reads the DDL history once per run for every database:
``SYS_QUERY_HISTORY`` (successful DDL, UTILITY and CTAS statements), with ``STL_DDLTEXT`` for
statements longer than the 4,000 characters the history keeps. It needs a superuser (or a
user trusted to see every user's history); otherwise, or when the history does not reach back
far enough, it raises :class:`IncrementalUnsupported` so the engine runs a full extraction.

``redshift_connector`` is imported when the first connection opens, never at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_omingest.exceptions import IncrementalUnsupported, MissingDependency, SourceError
from airflow_provider_omingest.models.changes import ChangeSet, TableRef
from airflow_provider_omingest.models.entities import DatabaseSchema, Table
from airflow_provider_omingest.models.units import SchemaSnapshot
from airflow_provider_omingest.sources.base import Source, TableSelection, unit_snapshot
from airflow_provider_omingest.sources.redshift.ddl import (
    DdlEvent,
    DdlParseError,
    QualifiedName,
    parse_ddl,
    unescape_ddltext,
)
from airflow_provider_omingest.sources.redshift.mapping import (
    MV_INTERNAL_TABLE,
    ColumnRow,
    ConstraintRow,
    PhysicalColumnRow,
    RelationRow,
    build_table,
    group_by_table,
    properties_of,
    text_or_none,
)

if TYPE_CHECKING:
    from airflow_provider_omingest.config import Filters
    from airflow_provider_omingest.models.units import WorkUnit

__all__ = ["APPLICATION_NAME", "HISTORY_TEXT_LIMIT", "RedshiftSource"]

log = logging.getLogger(__name__)

#: Shown in Redshift's session and query views for this provider's connections.
APPLICATION_NAME = "airflow-provider-omingest"

#: ``SYS_QUERY_HISTORY.query_text`` keeps this many characters; longer texts come from STL_DDLTEXT.
HISTORY_TEXT_LIMIT = 4000

#: Above this many names, read the whole schema and filter in Python rather than bind each name.
MAX_BOUND_NAMES = 1000

#: Databases every cluster has that hold no user data.
_SYSTEM_DATABASES = ("padb_harvest", "template0", "template1", "sys:internal")

_DEFAULT_SCHEMA = "public"

# --------------------------------------------------------------------------- SQL

_NOW = "select getdate()"

_LIST_DATABASES = (
    "select datname from pg_database where not datistemplate and datname not in (%s, %s, %s, %s) order by datname"
)

_LIST_SCHEMAS = """
select nspname from pg_namespace
where substring(nspname, 1, 3) <> 'pg_' and nspname not in ('information_schema', 'catalog_history')
order by nspname
"""

_COUNT_TABLES = """
select n.nspname, count(c.oid)
from pg_namespace n
left join pg_class c on c.relnamespace = n.oid and c.relkind in ('r', 'v', 'm', 'p', 'f')
  and c.relname not like 'mv\\_tbl\\_\\_%%'
where n.nspname in ({names})
group by n.nspname
union all
select schemaname, count(*) from svv_external_tables where schemaname in ({names}) group by schemaname
"""

_SCHEMA = """
select n.nspname, d.description, e.databasename, e.eskind
from pg_namespace n
left join pg_description d on d.objoid = n.oid and d.objsubid = 0
left join svv_external_schemas e on e.schemaname = n.nspname
where n.nspname = %s
"""

_RELATIONS = """
select c.relname, c.relkind, d.description,
       case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end as view_definition
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_description d on d.objoid = c.oid and d.objsubid = 0
where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p', 'f'){names}
"""

_MV_INFO = """
select trim(name), autorefresh, autorewrite from svv_mv_info
where trim(database_name) = %s and trim(schema_name) = %s
"""

_COLUMNS = """
select table_name, column_name, ordinal_position, column_default, is_nullable, data_type,
       character_maximum_length, numeric_precision, numeric_scale, remarks
from svv_all_columns
where database_name = %s and schema_name = %s{names}
"""

_PHYSICAL_COLUMNS = """
select table_name, column_name, encoding, distkey, sortkey
from svv_redshift_columns
where database_name = %s and schema_name = %s{names}
"""

_TABLE_INFO = """
select trim("table"), diststyle, tbl_rows
from svv_table_info
where trim("database") = %s and trim("schema") = %s{names}
"""

_CONSTRAINTS = """
select c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid), fn.nspname, fc.relname
from pg_constraint con
join pg_class c on c.oid = con.conrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_class fc on fc.oid = con.confrelid
left join pg_namespace fn on fn.oid = fc.relnamespace
where n.nspname = %s and con.contype in ('p', 'u', 'f'){names}
"""

_LATE_BINDING_COLUMNS = """
select view_name, col_name, col_num, col_type
from pg_get_late_binding_view_cols() cols(view_schema name, view_name name, col_name name, col_type varchar, col_num int)
where view_schema = %s
"""

_EXTERNAL_TABLES = """
select tablename, location, input_format, output_format, serialization_lib, tabletype
from svv_external_tables
where schemaname = %s{names}
"""

_EXTERNAL_COLUMNS = """
select tablename, columnname, external_type, columnnum, part_key, is_nullable
from svv_external_columns
where schemaname = %s{names}
"""

_IS_SUPERUSER = "select usesuper from pg_user where usename = current_user"

_HISTORY = """
select 'window' as kind, null as database_name, min(start_time) as start_time, getdate() as end_time,
       null as transaction_id, null as session_id, null as query_text
from sys_query_history
union all
select 'ddl', trim(database_name), start_time, end_time, transaction_id, session_id, query_text
from sys_query_history
where trim(status) = 'success'
  and trim(query_type) in ('DDL', 'UTILITY', 'CTAS')
  and end_time >= %s
  and trim(database_name) in ({names})
order by 1, 4, 3
"""

_DDLTEXT = """
select xid, pid, starttime, sequence, text
from stl_ddltext
where xid in ({ids})
order by xid, pid, starttime, sequence
"""

_RESOLVE_NAMES = """
select n.nspname, c.relname
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'v', 'm', 'p', 'f') and c.relname in ({names})
"""


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def _name_filter(column: str, names: Sequence[str] | None) -> tuple[str, list[str]]:
    if not names:
        return "", []
    return f" and {column} in ({_placeholders(len(names))})", list(names)


@dataclass(frozen=True)
class _HistoryRow:
    database: str
    start_time: datetime
    end_time: datetime
    transaction_id: int
    session_id: int
    text: str

    @property
    def truncated(self) -> bool:
        # The text arrives blank-padded (char(4000)) and is stripped: allow for stripped blanks.
        return len(self.text) >= HISTORY_TEXT_LIMIT - 8


class RedshiftSource(Source):
    """Read metadata from an Amazon Redshift cluster (or Serverless workgroup) with ``redshift_connector``.

    One connection per database, opened on first use. Credentials are kept in
    ``connect_kwargs`` and never logged or shown in ``repr``.

    :param connect_kwargs: arguments for ``redshift_connector.connect`` (host, port, user,
        password, IAM settings, ssl, ...) except ``database``.
    :param database: the database to connect to first (the connection's database).
    :param databases: the databases to ingest; default: only ``database``.
    :param all_databases: list every database of the cluster instead (``pg_database``).
    :param trust_history_visibility: treat ``SYS_QUERY_HISTORY`` as complete for a user that is
        not a superuser (e.g. granted ``SYSLOG ACCESS UNRESTRICTED`` or ``sys:monitor``, with no
        DDL run by superusers); otherwise incremental runs need a superuser.
    :param default_schema: the schema that unqualified names in DDL statements refer to,
        besides any schema holding a table of that name now.
    """

    kind: ClassVar[str] = "redshift"

    def __init__(
        self,
        connect_kwargs: dict[str, Any],
        *,
        database: str,
        databases: Sequence[str] | None = None,
        all_databases: bool = False,
        trust_history_visibility: bool = False,
        default_schema: str = _DEFAULT_SCHEMA,
    ) -> None:
        self._connect_kwargs = {k: v for k, v in connect_kwargs.items() if k != "database"}
        # Without a name, redshift_connector walks the call stack (inspect.stack) to make one up,
        # which takes seconds in a process that imported Airflow.
        self._connect_kwargs.setdefault("application_name", APPLICATION_NAME)
        self.database = database
        self.databases = list(databases) if databases else None
        self.all_databases = all_databases
        self.trust_history_visibility = trust_history_visibility
        self.default_schema = default_schema
        self._connections: dict[str, Any] = {}
        #: Statements sent so far (all connections).
        self.statements = 0

    def __repr__(self) -> str:
        host = self._connect_kwargs.get("host") or self._connect_kwargs.get("cluster_identifier")
        return f"RedshiftSource(host={host!r}, database={self.database!r})"

    # ------------------------------------------------------------------ connections

    def _connection(self, database: str) -> Any:
        conn = self._connections.get(database)
        if conn is None:
            conn = self._connect(database)
            self._connections[database] = conn
        return conn

    def _connect(self, database: str) -> Any:
        try:
            import redshift_connector
        except ImportError as e:
            raise MissingDependency("redshift-connector (the Amazon Redshift driver)", "redshift") from e
        try:
            conn = redshift_connector.connect(database=database, **self._connect_kwargs)
        except Exception as e:
            raise SourceError(database, None, f"cannot connect: {type(e).__name__}: {e}") from e
        conn.autocommit = True
        return conn

    def _fetch(self, database: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._connection(database).cursor()
        try:
            self.statements += 1
            cursor.execute(sql, tuple(params) if params else None)
            return [tuple(row) for row in cursor.fetchall() or ()]
        finally:
            cursor.close()

    def close(self) -> None:
        """Close every connection."""
        connections, self._connections = self._connections, {}
        for conn in connections.values():
            try:
                conn.close()
            except Exception:
                log.debug("Closing a Redshift connection failed.", exc_info=True)

    # ------------------------------------------------------------------ listing

    def now(self) -> datetime:
        """Return the cluster's clock (``GETDATE()``, UTC)."""
        value = self._listing(self.database, _NOW)[0][0]
        return _as_utc(value)

    def list_databases(self) -> list[str]:
        """Return the configured databases, or every user database with ``all_databases``."""
        if self.databases:
            return list(self.databases)
        if not self.all_databases:
            return [self.database]
        return [r[0] for r in self._listing(self.database, _LIST_DATABASES, _SYSTEM_DATABASES)]

    def list_schemas(self, database: str) -> list[str]:
        """Return the schemas of ``database``, local and external, system schemas excluded.

        :param database: the database.
        """
        return [r[0] for r in self._listing(database, _LIST_SCHEMAS)]

    def count_tables(self, database: str, schemas: list[str]) -> dict[str, int]:
        """Return the number of tables and views per schema, in one statement.

        :param database: the database.
        :param schemas: the schemas to count.
        """
        if not schemas:
            return {}
        sql = _COUNT_TABLES.format(names=_placeholders(len(schemas)))
        counts = dict.fromkeys(schemas, 0)
        for schema, count in self._listing(database, sql, [*schemas, *schemas]):
            counts[schema] = counts.get(schema, 0) + int(count)
        return counts

    def _listing(self, database: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._fetch(database, sql, params)
        except SourceError:
            raise
        except Exception as e:
            raise SourceError(database, None, f"{type(e).__name__}: {e}") from e

    # ------------------------------------------------------------------ extraction

    def extract(self, unit: WorkUnit, filters: Filters, include_views: bool = True) -> Iterator[SchemaSnapshot]:
        """Yield one snapshot per schema of ``unit``, each read with a fixed number of statements.

        :param unit: the schemas (and optionally the slice or the tables) to read.
        :param filters: table filters; tables they reject are left out.
        :param include_views: whether to read views and materialized views.
        :raises SourceError: when a schema cannot be read (never an empty snapshot instead).
        """
        for schema in unit.schemas:
            selection = TableSelection.of(unit, schema, filters, include_views)
            before = self.statements
            try:
                schema_entity, tables = self._read_schema(unit, schema, selection)
            except (SourceError, MissingDependency):
                raise
            except Exception as e:
                raise SourceError(unit.database, schema, f"{type(e).__name__}: {e}") from e
            log.info("Read %d tables from %s.%s in %d statements.", len(tables), unit.database, schema,
                     self.statements - before)
            yield unit_snapshot(unit, schema, schema_entity, tables)

    def _read_schema(self, unit: WorkUnit, schema: str, selection: TableSelection) -> tuple[DatabaseSchema, list[Table]]:
        database = unit.database
        rows = self._fetch(database, _SCHEMA, [schema])
        if not rows:
            raise SourceError(database, schema, "the schema does not exist")
        _, description, external_database, _eskind = rows[0]
        schema_entity = DatabaseSchema(name=schema, description=text_or_none(description))
        if selection.asks_nothing:
            return schema_entity, []
        bound = selection.bindable_names(MAX_BOUND_NAMES)
        if external_database is not None:
            return schema_entity, self._read_external(database, schema, selection.keeps, bound)
        return schema_entity, self._read_local(database, schema, selection.keeps, bound)

    # ---- local schemas

    def _read_local(self, database: str, schema: str, keep: Any, bound: list[str] | None) -> list[Table]:
        relations, listed = self._relations(database, schema, keep, bound)
        if not relations:
            return []
        names = sorted(relations)
        # Bind the names only when some relations were left out: a whole schema needs no filter.
        bound = names if len(names) < listed and len(names) <= MAX_BOUND_NAMES else None
        if any(r.relkind == "v" for r in relations.values()):
            self._mark_materialized(database, schema, relations)
        columns = group_by_table(self._columns(database, schema, bound))
        tables_only = sorted(n for n, r in relations.items() if not r.is_view)
        physical: dict[str, list[PhysicalColumnRow]] = {}
        constraints: dict[str, list[ConstraintRow]] = {}
        if tables_only:
            tables_bound = tables_only if bound is not None else None
            physical = group_by_table(self._physical_columns(database, schema, tables_bound))
            self._add_table_info(database, schema, relations, tables_bound)
            constraints = group_by_table(self._constraints(database, schema, tables_bound))
        missing_views = {n for n, r in relations.items() if r.relkind == "v" and n not in columns}
        if missing_views:
            late = self._late_binding_columns(database, schema, missing_views)
            for view in late:
                relations[view].properties["late_binding"] = "true"
            columns.update(late)
        return [
            build_table(
                relations[name],
                columns.get(name, ()),
                database=database,
                physical=() if relations[name].is_view else physical.get(name, ()),
                constraints=constraints.get(name, ()),
            )
            for name in names
        ]

    def _relations(
        self, database: str, schema: str, keep: Any, bound: list[str] | None
    ) -> tuple[dict[str, RelationRow], int]:
        clause, params = _name_filter("c.relname", bound)
        relations: dict[str, RelationRow] = {}
        listed = 0
        for name, relkind, description, view_definition in self._fetch(
            database, _RELATIONS.format(names=clause), [schema, *params]
        ):
            if MV_INTERNAL_TABLE.match(name):
                continue
            listed += 1
            relkind = str(relkind)
            if not keep(name, relkind in ("v", "m")):
                continue
            relations[name] = RelationRow(
                name=name, relkind=relkind, description=text_or_none(description), view_definition=view_definition
            )
        return relations, listed

    def _mark_materialized(self, database: str, schema: str, relations: dict[str, RelationRow]) -> None:
        for name, autorefresh, autorewrite in self._fetch(database, _MV_INFO, [database, schema]):
            relation = relations.get(name)
            if relation is None:
                continue
            relation.materialized = True
            relation.properties.update(properties_of({"auto_refresh": autorefresh, "auto_rewrite": autorewrite}))

    def _columns(self, database: str, schema: str, bound: list[str] | None) -> list[ColumnRow]:
        clause, params = _name_filter("table_name", bound)
        return [
            ColumnRow(
                table_name=r[0], column_name=r[1], ordinal_position=int(r[2]), column_default=r[3],
                is_nullable=text_or_none(r[4]), data_type=str(r[5]), character_maximum_length=r[6],
                numeric_precision=r[7], numeric_scale=r[8], remarks=text_or_none(r[9]),
            )
            for r in self._fetch(database, _COLUMNS.format(names=clause), [database, schema, *params])
        ]

    def _physical_columns(self, database: str, schema: str, bound: list[str] | None) -> list[PhysicalColumnRow]:
        clause, params = _name_filter("table_name", bound)
        return [
            PhysicalColumnRow(table_name=r[0], column_name=r[1], encoding=text_or_none(r[2]),
                              distkey=bool(r[3]), sortkey=int(r[4] or 0))
            for r in self._fetch(database, _PHYSICAL_COLUMNS.format(names=clause), [database, schema, *params])
        ]

    def _add_table_info(
        self, database: str, schema: str, relations: dict[str, RelationRow], bound: list[str] | None
    ) -> None:
        clause, params = _name_filter('trim("table")', bound)
        for name, diststyle, rows in self._fetch(database, _TABLE_INFO.format(names=clause),
                                                 [database, schema, *params]):
            relation = relations.get(name)
            if relation is None:
                continue
            relation.properties.update(properties_of({"diststyle": diststyle}))
            relation.row_count = None if rows is None else int(rows)

    def _constraints(self, database: str, schema: str, bound: list[str] | None) -> list[ConstraintRow]:
        clause, params = _name_filter("c.relname", bound)
        return [
            ConstraintRow(table_name=r[0], name=r[1], contype=str(r[2]), definition=r[3],
                          referred_schema=r[4], referred_table=r[5])
            for r in self._fetch(database, _CONSTRAINTS.format(names=clause), [schema, *params])
        ]

    def _late_binding_columns(self, database: str, schema: str, views: set[str]) -> dict[str, list[ColumnRow]]:
        out: dict[str, list[ColumnRow]] = {}
        for view, column, position, type_ in self._fetch(database, _LATE_BINDING_COLUMNS, [schema]):
            if view in views:
                out.setdefault(view, []).append(
                    ColumnRow(table_name=view, column_name=column, ordinal_position=int(position), data_type=type_)
                )
        return out

    # ---- external (Spectrum) schemas

    def _read_external(self, database: str, schema: str, keep: Any, bound: list[str] | None) -> list[Table]:
        clause, params = _name_filter("tablename", bound)
        relations: dict[str, RelationRow] = {}
        for name, location, input_format, output_format, serde, tabletype in self._fetch(
            database, _EXTERNAL_TABLES.format(names=clause), [schema, *params]
        ):
            if not keep(name, False):
                continue
            relations[name] = RelationRow(
                name=name, relkind="r", external=True,
                properties=properties_of({"location": location, "input_format": input_format,
                                          "output_format": output_format, "serialization_lib": serde,
                                          "external_table_type": tabletype}),
            )
        if not relations:
            return []
        names = sorted(relations)
        clause, params = _name_filter("tablename", names if len(names) <= MAX_BOUND_NAMES else None)
        columns: dict[str, list[ColumnRow]] = {}
        partitions: dict[str, list[tuple[int, str]]] = {}
        for table, column, type_, position, part_key, nullable in self._fetch(
            database, _EXTERNAL_COLUMNS.format(names=clause), [schema, *params]
        ):
            if table not in relations:
                continue
            columns.setdefault(table, []).append(
                ColumnRow(table_name=table, column_name=column, ordinal_position=int(position), data_type=type_,
                          is_nullable=text_or_none(nullable) or "YES", external=True)
            )
            if part_key:
                partitions.setdefault(table, []).append((int(part_key), column))
        return [
            build_table(
                relations[name], columns.get(name, ()), database=database,
                partition_columns=tuple(c for _, c in sorted(partitions.get(name, ()))),
            )
            for name in names
        ]

    # ------------------------------------------------------------------ incremental

    def changes_since(self, since: datetime, databases: list[str]) -> ChangeSet:
        """Return the tables and schemas changed since ``since``, from the DDL history.

        One ``SYS_QUERY_HISTORY`` statement for every database, plus ``STL_DDLTEXT`` only when
        a statement was longer than the history keeps, plus one lookup per database only when
        statements used unqualified names.

        :param since: lower bound (watermark minus safety margin), timezone-aware.
        :param databases: the databases in scope.
        :raises IncrementalUnsupported: when the history is not fully visible to this user, does
            not reach back to ``since``, or holds a statement that cannot be read.
        """
        if not databases:
            return ChangeSet(method="SYS_QUERY_HISTORY", since=since, until=self.now())
        self._require_history_visibility()
        since_utc = since.astimezone(timezone.utc).replace(tzinfo=None)
        oldest, until, rows = self._read_history(since_utc, databases)
        if oldest is None or oldest > since_utc:
            raise IncrementalUnsupported(
                self.kind,
                f"SYS_QUERY_HISTORY only reaches back to {oldest or 'nothing'} (UTC), after the start of the "
                f"window {since_utc} (UTC); changes before that are no longer recorded",
            )
        method, texts, notes = "SYS_QUERY_HISTORY", [r.text for r in rows], []
        truncated = [i for i, r in enumerate(rows) if r.truncated]
        if truncated:
            method += " + STL_DDLTEXT"
            full = self._full_texts([rows[i] for i in truncated])
            for i in truncated:
                texts[i] = full[i_key(rows[i])]
        events = self._parse_history(rows, texts)
        changes = self._build_changes(events, notes)
        return ChangeSet(method=method, since=since, until=until, notes=notes, **changes)

    def _require_history_visibility(self) -> None:
        try:
            rows = self._fetch(self.database, _IS_SUPERUSER)
        except Exception as e:
            raise IncrementalUnsupported(self.kind, f"cannot check the user's privileges: {e}") from e
        if (rows and rows[0][0]) or self.trust_history_visibility:
            return
        raise IncrementalUnsupported(
            self.kind,
            "the connection's user is not a superuser, so SYS_QUERY_HISTORY and STL_DDLTEXT show only its own "
            "statements and DDL run by other users would be missed. Connect as a superuser, or grant the user "
            "'SYSLOG ACCESS UNRESTRICTED' (or the sys:monitor role) and set the connection extra "
            "trust_history_visibility=true (DDL run by superusers stays invisible to it)",
        )

    def _read_history(
        self, since: datetime, databases: list[str]
    ) -> tuple[datetime | None, datetime, list[_HistoryRow]]:
        sql = _HISTORY.format(names=_placeholders(len(databases)))
        try:
            fetched = self._fetch(self.database, sql, [since, *databases])
        except Exception as e:
            raise IncrementalUnsupported(self.kind, f"SYS_QUERY_HISTORY is not readable: {e}") from e
        oldest: datetime | None = None
        until = datetime.now(timezone.utc)
        rows: list[_HistoryRow] = []
        for kind, database, start, end, xid, pid, text in fetched:
            if kind == "window":
                oldest, until = start, _as_utc(end)
                continue
            rows.append(_HistoryRow(database=database, start_time=start, end_time=end, transaction_id=int(xid),
                                    session_id=int(pid), text=(text or "").rstrip()))
        return oldest, until, rows

    def _full_texts(self, rows: list[_HistoryRow]) -> dict[tuple[int, int, str], str]:
        ids = sorted({r.transaction_id for r in rows})
        try:
            fetched = self._fetch(self.database, _DDLTEXT.format(ids=_placeholders(len(ids))), ids)
        except Exception as e:
            raise IncrementalUnsupported(
                self.kind, f"a DDL statement longer than {HISTORY_TEXT_LIMIT} characters needs STL_DDLTEXT, "
                f"which is not readable: {e}"
            ) from e
        statements: dict[tuple[int, int, datetime], list[str]] = {}
        for xid, pid, start, _sequence, chunk in fetched:
            statements.setdefault((int(xid), int(pid), start), []).append(chunk or "")
        candidates = {key: unescape_ddltext("".join(chunks)).rstrip() for key, chunks in statements.items()}
        out: dict[tuple[int, int, str], str] = {}
        for row in rows:
            text = _match_full_text(row, candidates)
            if text is None:
                raise IncrementalUnsupported(
                    self.kind, f"a DDL statement of transaction {row.transaction_id} is longer than "
                    f"{HISTORY_TEXT_LIMIT} characters and STL_DDLTEXT no longer holds its full text"
                )
            out[i_key(row)] = text
        return out

    def _parse_history(self, rows: list[_HistoryRow], texts: list[str]) -> list[tuple[str, DdlEvent]]:
        events: list[tuple[str, DdlEvent]] = []
        for row, text in zip(rows, texts):
            try:
                events.extend((row.database, event) for event in parse_ddl(text))
            except DdlParseError as e:
                raise IncrementalUnsupported(self.kind, f"a DDL statement could not be read ({e})") from e
        return events

    def _build_changes(self, events: list[tuple[str, DdlEvent]], notes: list[str]) -> dict[str, Any]:
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
            for ref in _table_refs(database, event.name, resolved):
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
                rows = self._fetch(database, _RESOLVE_NAMES.format(names=_placeholders(len(ordered))), ordered)
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


# --------------------------------------------------------------------------- helpers


def i_key(row: _HistoryRow) -> tuple[int, int, str]:
    """Return the key that identifies one history row's statement."""
    return row.transaction_id, row.session_id, row.text[:200]


def _normalized(text: str) -> str:
    return " ".join(text.split())


def _match_full_text(row: _HistoryRow, candidates: dict[tuple[int, int, datetime], str]) -> str | None:
    prefix = _normalized(row.text)[:1000]
    for (xid, pid, _start), text in sorted(candidates.items(), key=lambda kv: str(kv[0][2])):
        if xid == row.transaction_id and pid == row.session_id and _normalized(text).startswith(prefix):
            return text
    for (xid, _pid, _start), text in candidates.items():
        if xid == row.transaction_id and _normalized(text).startswith(prefix):
            return text
    return None


def _spellings(name: str, quoted: bool) -> list[str]:
    """Return the names a DDL identifier may refer to (quoted names may be folded by Redshift)."""
    return [name] if not quoted or name == name.lower() else [name, name.lower()]


def _table_refs(database: str, name: QualifiedName, resolved: dict[tuple[str, str], list[str]]) -> list[TableRef]:
    db = name.database or database
    tables = _spellings(name.name, name.quoted[-1])
    if name.schema is not None:
        schemas = _spellings(name.schema, name.quoted[-2])
        return [TableRef(database=db, schema_name=s, table=t) for s in schemas for t in tables]
    return [
        TableRef(database=db, schema_name=s, table=t)
        for t in tables
        for s in resolved.get((database, t), [_DEFAULT_SCHEMA])
    ]


def _ref_key(ref: TableRef) -> tuple[str, str, str]:
    return ref.database, ref.schema_name, ref.table


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
