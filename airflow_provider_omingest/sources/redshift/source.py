"""Amazon Redshift source: catalog views for full extraction, the DDL history for incremental.

Full extraction reads each schema with a fixed number of statements, whatever its size:
``pg_namespace`` (plus ``SVV_EXTERNAL_SCHEMAS``), ``pg_class`` with comments and view
definitions, ``SVV_MV_INFO``, ``pg_depend`` (what views read), ``SVV_ALL_COLUMNS``, ``SVV_REDSHIFT_COLUMNS`` (encodings, dist and
sort keys), ``SVV_TABLE_INFO`` (dist style, rows) and ``pg_constraint``; Spectrum schemas from
``SVV_EXTERNAL_TABLES``/``COLUMNS``. Statements that would read nothing are skipped.

Incremental extraction reads the DDL history once per run for every database
(:mod:`~airflow_provider_omingest.sources.redshift.history`: ``SYS_QUERY_HISTORY``, and
``SYS_QUERY_TEXT`` for statements longer than the 4,000 characters the history keeps). It needs
a superuser (or a user trusted to see every user's history); otherwise, or when the history does
not reach back far enough, it raises :class:`IncrementalUnsupported` so the engine runs a full
extraction.

Every connection starts with ``SET timezone TO 'UTC'`` (``GETDATE()`` returns the *session*
time zone, which a user or parameter group can change: GETDATE function,
https://docs.aws.amazon.com/redshift/latest/dg/r_GETDATE.html; timezone,
https://docs.aws.amazon.com/redshift/latest/dg/r_timezone_config.html) and, unless disabled,
``SET statement_timeout`` (it bounds planning, queueing, lock waits and execution:
https://docs.aws.amazon.com/redshift/latest/dg/r_statement_timeout.html).

``redshift_connector`` is imported when the first connection opens, never at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from airflow_provider_omingest.exceptions import MissingDependency, SourceError
from airflow_provider_omingest.models.changes import ChangeSet
from airflow_provider_omingest.models.entities import DatabaseSchema, Table, TableUpstream
from airflow_provider_omingest.models.fqn import build_fqn
from airflow_provider_omingest.sources.base import SchemaRead, Source, TableSelection, as_utc, timeout_seconds
from airflow_provider_omingest.sources.redshift.history import HISTORY_METHOD, RedshiftChangeReader
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
from airflow_provider_omingest.sources.sqlstate import is_transient_login_failure, is_transient_sqlstate
from airflow_provider_omingest.sources.view_lineage import with_parsed_lineage

__all__ = ["APPLICATION_NAME", "DEFAULT_STATEMENT_TIMEOUT", "RedshiftSource"]

log = logging.getLogger(__name__)

#: Shown in Redshift's session and query views for this provider's connections.
APPLICATION_NAME = "airflow-provider-omingest"

#: Seconds one statement may run by default (``statement_timeout``): far more than a metadata query needs.
DEFAULT_STATEMENT_TIMEOUT = 600.0

#: Databases every cluster has that hold no user data.
_SYSTEM_DATABASES = ("padb_harvest", "template0", "template1", "sys:internal")

_DEFAULT_SCHEMA = "public"

# --------------------------------------------------------------------------- SQL

# GETDATE() is in the session time zone, set to UTC when the connection opens.
_NOW = "select getdate()"
_SESSION_UTC = "set timezone to 'UTC'"

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
       case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end as view_definition, c.oid
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

# What each view of a schema reads, from the dependency catalogs Redshift keeps from PostgreSQL 8:
# a view's ``_RETURN`` rewrite rule depends internally ('i') on the view and normally on every
# relation its query reads (the pattern of AWS's admin view v_view_dependency,
# https://github.com/awslabs/amazon-redshift-utils/blob/master/src/AdminViews/v_view_dependency.sql).
# Late-binding views (WITH NO SCHEMA BINDING) have no such rows: "there is no dependency between
# the view and the objects it references" (https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_VIEW.html).
_VIEW_DEPENDENCIES = """
select distinct tgtobj.relname, srcnsp.nspname, srcobj.relname
from pg_class srcobj
join pg_depend srcdep on srcobj.oid = srcdep.refobjid
join pg_depend tgtdep on srcdep.objid = tgtdep.objid
join pg_class tgtobj on tgtdep.refobjid = tgtobj.oid and srcobj.oid <> tgtobj.oid
join pg_namespace srcnsp on srcnsp.oid = srcobj.relnamespace
join pg_namespace tgtnsp on tgtnsp.oid = tgtobj.relnamespace
where tgtdep.deptype = 'i' and tgtobj.relkind in ('v', 'm') and srcobj.relkind in ('r', 'v', 'm', 'p', 'f')
  and tgtnsp.nspname = %s{names}
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

def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def _name_filter(column: str, names: Sequence[str] | None) -> tuple[str, list[str]]:
    if not names:
        return "", []
    return f" and {column} in ({_placeholders(len(names))})", list(names)


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
    :param statement_timeout: seconds one statement may run, queueing and lock waits included;
        0: no limit.
    """

    kind: ClassVar[str] = "redshift"
    #: Above this many names, read the whole schema and filter in Python rather than bind each name.
    max_bound_names: ClassVar[int] = 1000

    def __init__(
        self,
        connect_kwargs: dict[str, Any],
        *,
        database: str,
        databases: Sequence[str] | None = None,
        all_databases: bool = False,
        trust_history_visibility: bool = False,
        default_schema: str = _DEFAULT_SCHEMA,
        statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
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
        self.statement_timeout = timeout_seconds("statement_timeout", statement_timeout, None)
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
        with self.reading(database, None):
            conn = redshift_connector.connect(database=database, **self._connect_kwargs)
            conn.autocommit = True
            self._start_session(conn)
        return conn

    def _start_session(self, conn: Any) -> None:
        """Set the session time zone to UTC and bound every statement (two statements per connection)."""
        statements = [_SESSION_UTC]
        if self.statement_timeout is not None:
            statements.append(f"set statement_timeout to {int(self.statement_timeout * 1000)}")
        cursor = conn.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()

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
        return as_utc(self._listing(self.database, _NOW)[0][0])

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
        with self.reading(database, None):
            return self._fetch(database, sql, params)

    # ------------------------------------------------------------------ errors

    def is_transient(self, error: BaseException) -> bool:
        """Return whether a retry can help: by the SQLSTATE Redshift reports (field ``C`` of the error)."""
        code = _sqlstate(error)
        if code:
            return is_transient_sqlstate(code)
        return is_transient_login_failure(str(error))

    def describe_error(self, error: BaseException) -> str:
        """Return the server's message (``M``) rather than the driver's whole error dictionary."""
        fields = error.args[0] if error.args and isinstance(error.args[0], dict) else None
        if fields and fields.get("M"):
            code = f" (SQLSTATE {fields['C']})" if fields.get("C") else ""
            return f"{type(error).__name__}: {fields['M']}{code}"
        return super().describe_error(error)

    # ------------------------------------------------------------------ extraction

    def read_schema(self, database: str, schema: str, selection: TableSelection) -> SchemaRead:
        """Read one schema with a fixed number of statements (local or Spectrum).

        :param database: the database.
        :param schema: the schema.
        :param selection: which relations to keep (and, for an incremental unit, to read).
        :raises SourceError: when the schema does not exist.
        """
        before = self.statements
        rows = self._fetch(database, _SCHEMA, [schema])
        if not rows:
            raise SourceError(database, schema, "the schema does not exist", retryable=False)
        _, description, external_database, _eskind = rows[0]
        read = SchemaRead(DatabaseSchema(name=schema, description=text_or_none(description)))
        if selection.asks_nothing:
            return read
        bound = selection.bindable_names(self.max_bound_names)
        if external_database is not None:
            read.tables, read.unreflectable = self._read_external(database, schema, selection.keeps, bound)
        else:
            read.tables, read.unreflectable = self._read_local(database, schema, selection.keeps, bound)
        log.debug("Read %s.%s in %d statements.", database, schema, self.statements - before)
        return read

    # ---- local schemas

    def _read_local(
        self, database: str, schema: str, keep: Any, bound: list[str] | None
    ) -> tuple[list[Table], dict[str, str]]:
        relations, listed = self._relations(database, schema, keep, bound)
        if not relations:
            return [], {}
        names = sorted(relations)
        # Bind the names only when some relations were left out: a whole schema needs no filter.
        bound = names if len(names) < listed and len(names) <= self.max_bound_names else None
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
        views = sorted(n for n, r in relations.items() if r.is_view)
        reads = self._view_dependencies(database, schema, views if bound is not None else None) if views else {}

        def build(name: str) -> Table:
            table = build_table(
                relations[name], columns.get(name, ()), database=database,
                physical=() if relations[name].is_view else physical.get(name, ()),
                constraints=constraints.get(name, ()),
            )
            return _with_lineage(table, reads.get(name), database, schema) if relations[name].is_view else table

        return self.build_tables(database, schema, names, build)

    def _relations(
        self, database: str, schema: str, keep: Any, bound: list[str] | None
    ) -> tuple[dict[str, RelationRow], int]:
        clause, params = _name_filter("c.relname", bound)
        relations: dict[str, RelationRow] = {}
        listed = 0
        for name, relkind, description, view_definition, oid in self._fetch(
            database, _RELATIONS.format(names=clause), [schema, *params]
        ):
            if MV_INTERNAL_TABLE.match(name):
                continue
            listed += 1
            relkind = str(relkind)
            if not keep(name, relkind in ("v", "m")):
                continue
            relations[name] = RelationRow(
                name=name, relkind=relkind, description=text_or_none(description), view_definition=view_definition,
                object_id=f"{database}/{oid}",
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

    def _view_dependencies(
        self, database: str, schema: str, views: list[str] | None
    ) -> dict[str, list[tuple[str, str]]]:
        """Return view -> the (schema, relation) pairs it reads, from ``pg_depend``, in one statement per schema.

        A materialized view's rows that name its internal table (``mv_tbl__…``) are left out.
        """
        clause, params = _name_filter("tgtobj.relname", views if views and len(views) <= self.max_bound_names
                                      else None)
        out: dict[str, list[tuple[str, str]]] = {}
        for view, ref_schema, ref_name in self._fetch(database, _VIEW_DEPENDENCIES.format(names=clause),
                                                     [schema, *params]):
            if not MV_INTERNAL_TABLE.match(ref_name):
                out.setdefault(view, []).append((ref_schema, ref_name))
        return out

    def _late_binding_columns(self, database: str, schema: str, views: set[str]) -> dict[str, list[ColumnRow]]:
        out: dict[str, list[ColumnRow]] = {}
        for view, column, position, type_ in self._fetch(database, _LATE_BINDING_COLUMNS, [schema]):
            if view in views:
                out.setdefault(view, []).append(
                    ColumnRow(table_name=view, column_name=column, ordinal_position=int(position), data_type=type_)
                )
        return out

    # ---- external (Spectrum) schemas

    def _read_external(
        self, database: str, schema: str, keep: Any, bound: list[str] | None
    ) -> tuple[list[Table], dict[str, str]]:
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
            return [], {}
        names = sorted(relations)
        clause, params = _name_filter("tablename", names if len(names) <= self.max_bound_names else None)
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
        return self.build_tables(database, schema, names, lambda name: build_table(
            relations[name], columns.get(name, ()), database=database,
            partition_columns=tuple(c for _, c in sorted(partitions.get(name, ()))),
        ))

    # ------------------------------------------------------------------ incremental

    def changes_since(self, since: datetime, databases: list[str]) -> ChangeSet:
        """Return the tables and schemas changed since ``since``, from the DDL history.

        One ``SYS_QUERY_HISTORY`` statement for every database, plus ``SYS_QUERY_TEXT`` only when
        a statement was longer than the history keeps, plus one lookup per database only when
        statements used unqualified names (:mod:`~airflow_provider_omingest.sources.redshift.history`).

        :param since: lower bound (watermark minus safety margin), timezone-aware.
        :param databases: the databases in scope.
        :raises IncrementalUnsupported: when the history is not fully visible to this user, does
            not reach back to ``since``, or holds a statement that cannot be read.
        """
        if not databases:
            return ChangeSet(method=HISTORY_METHOD, since=since, until=self.now())
        reader = RedshiftChangeReader(
            self._fetch, home=self.database, kind=self.kind, default_schema=self.default_schema,
            trust_history_visibility=self.trust_history_visibility,
        )
        return reader.changes_since(since, databases)


def _with_lineage(table: Table, reads: list[tuple[str, str]] | None, database: str, schema: str) -> Table:
    """Give a view its upstreams: those ``pg_depend`` names, else those its definition names.

    A view without dependency rows is a late-binding view (or a materialized view whose rows name
    only its internal table): its definition is parsed (sqlglot, dialect ``redshift``; unquoted and,
    as Redshift folds them by default, quoted names lower-cased). Redshift requires a late-binding
    view to name its tables with their schema (https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_VIEW.html),
    so what parsing finds is what the view reads. Column lineage is taken from the parsed definition.
    """
    parsed = with_parsed_lineage(table, "redshift", database, schema, normalize=True)
    if not reads:
        return parsed
    columns = {u.table: u.columns for u in parsed.upstreams}
    fqns = sorted({build_fqn(database, s, t) for s, t in reads})
    return table.model_copy(update={
        "upstreams": tuple(TableUpstream(table=fqn, columns=columns.get(fqn, ())) for fqn in fqns),
        "lineage_unparsed": None,
    })


def _sqlstate(error: BaseException) -> str | None:
    """Return the SQLSTATE of a ``redshift_connector`` error: its first argument is the server's fields."""
    fields = error.args[0] if error.args and isinstance(error.args[0], dict) else None
    return str(fields["C"]) if fields and fields.get("C") else None
