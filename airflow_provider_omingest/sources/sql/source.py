"""A generic source for any database SQLAlchemy can reflect (PostgreSQL, SQLite, DuckDB, ...).

PostgreSQL 14 and later is read from ``pg_catalog`` in two statements per work unit, whatever
its number of schemas and tables (:mod:`~airflow_provider_omingest.sources.sql.postgres_reflection`).
DuckDB is read from its own catalog functions
(:mod:`~airflow_provider_omingest.sources.sql.duckdb_reflection`). Other databases, and older
PostgreSQL servers, are read schema by schema through the SQLAlchemy 2 ``Inspector.get_multi_*``
methods (one query per facet per schema), with dialect queries for what the Inspector only offers
per table on PostgreSQL (relation kinds, view definitions, partition keys, schema comments).

On PostgreSQL, DuckDB and SQLite, :meth:`SqlAlchemySource.table_digests` hashes each table's
structure in the database (:mod:`~airflow_provider_omingest.sources.sql.digests`) and
:meth:`SqlAlchemySource.extract` sets the same digests (PostgreSQL: in the statement that reads
the structure; DuckDB and SQLite: one more query per schema, read first).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import bindparam, create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.engine.reflection import Inspector, ObjectKind
from sqlalchemy.exc import NoSuchModuleError
from sqlalchemy.pool import QueuePool, StaticPool

from airflow_provider_omingest.exceptions import (
    ConfigError,
    IncrementalUnsupported,
    MissingDependency,
    SourceError,
)
from airflow_provider_omingest.models.entities import (
    Column,
    ConstraintType,
    DatabaseSchema,
    Table,
    TableConstraint,
    TableType,
    TableUpstream,
)
from airflow_provider_omingest.models.fqn import build_fqn
from airflow_provider_omingest.sources.base import (
    SchemaRead,
    Source,
    TableSelection,
    as_utc,
    timeout_seconds,
)
from airflow_provider_omingest.sources.sql import digests as sql_digests
from airflow_provider_omingest.sources.sql import duckdb_reflection, postgres_reflection
from airflow_provider_omingest.sources.sql.shared_engines import shared_engine
from airflow_provider_omingest.sources.sql.type_mapping import (
    TypeInfo,
    extend_postgres_type_names,
    map_sqlalchemy_type,
)
from airflow_provider_omingest.sources.sqlstate import is_transient_login_failure, is_transient_sqlstate
from airflow_provider_omingest.sources.view_lineage import with_parsed_lineage

if TYPE_CHECKING:
    from airflow_provider_omingest.models.units import WorkUnit

__all__ = ["DEFAULT_LOCK_TIMEOUT", "DEFAULT_STATEMENT_TIMEOUT", "SqlAlchemySource"]

log = logging.getLogger(__name__)

#: Keep function deciding, from a relation's name and whether it is a view, whether to read it.
KeepFn = Callable[[str, bool], bool]

#: Builds each named table; failures go to the unreflectable list (:meth:`Source.build_tables`).
BuildTables = Callable[[str, str, Sequence[str], Callable[[str], Table]], tuple[list[Table], dict[str, str]]]

#: Seconds one statement may run by default: far more than any metadata query needs.
DEFAULT_STATEMENT_TIMEOUT = 600.0
#: Seconds a statement may wait for a lock by default (a table locked by a long DDL or VACUUM FULL).
DEFAULT_LOCK_TIMEOUT = 30.0

#: PostgreSQL drivers that take libpq's ``options`` (session settings in the startup packet).
_LIBPQ_DRIVERS = frozenset({"psycopg", "psycopg2"})

#: DuckDB errors a retry cannot fix (a missing object, a refused statement).
_DUCKDB_TERMINAL = frozenset({"CatalogException", "BinderException", "ParserException", "PermissionException",
                              "NotImplementedException"})

_EXTRAS = {"postgresql": "postgres", "duckdb": "duckdb"}

#: SQLAlchemy dialects whose view definitions are parsed for lineage (read through the Inspector),
#: and sqlglot's name of those that differ. PostgreSQL's come from its dependency catalogs.
_PARSED_LINEAGE_DIALECTS = frozenset({"sqlite", "mysql", "mariadb", "oracle", "mssql"})
_SQLGLOT_DIALECTS = {"mssql": "tsql", "mariadb": "mysql"}

_GENERIC_SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "INFORMATION_SCHEMA", "performance_schema", "mysql", "sys", "pg_catalog", "temp"}
)


_PG_SCHEMAS = text(
    r"""
    select nspname from pg_catalog.pg_namespace
    where nspname <> 'information_schema' and nspname not like 'pg\_%'
    order by nspname
    """
)

_PG_COUNT_TABLES = text(
    """
    select n.nspname, count(c.oid)
    from pg_catalog.pg_namespace n
    left join pg_catalog.pg_class c
      on c.relnamespace = n.oid and c.relkind in ('r', 'p', 'v', 'm', 'f') and not c.relispartition
    where n.nspname in :schemas
    group by n.nspname
    """
).bindparams(bindparam("schemas", expanding=True))

_PG_SCHEMA = text(
    """
    select d.description
    from pg_catalog.pg_namespace n
    left join pg_catalog.pg_description d
      on d.objoid = n.oid and d.classoid = 'pg_catalog.pg_namespace'::regclass and d.objsubid = 0
    where n.nspname = :schema
    """
)

_PG_RELATIONS = text(
    """
    select c.relname as name,
           c.relkind::text as relkind,
           c.reltuples::bigint as row_estimate,
           case when c.relkind = 'p' then pg_catalog.pg_get_partkeydef(c.oid) end as partition_key,
           """
    + postgres_reflection.PARTITION_COLUMNS
    + """ as partition_columns,
           case when c.relkind in ('v', 'm') then pg_catalog.pg_get_viewdef(c.oid) end as view_definition,
           """
    + postgres_reflection.UPSTREAMS
    + """ as upstreams
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname = :schema
      and c.relkind in ('r', 'p', 'v', 'm', 'f')
      and not c.relispartition
    """
)

# The same, for the relations named (incremental units): view definitions of the others are not read.
_PG_NAMED_RELATIONS = text(_PG_RELATIONS.text + "  and c.relname = any(cast(:names as text[]))\n")


@dataclass
class _Relation:
    """A table or view as listed, before its columns and constraints are read."""

    name: str
    table_type: TableType
    view_definition: str | None = None
    row_count: int | None = None
    partition_columns: tuple[str, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)
    #: PostgreSQL: [schema, relation] pairs the view reads, from the dependency catalogs.
    upstreams: list[list[str]] | None = None

    @property
    def is_view(self) -> bool:
        return self.table_type in (TableType.VIEW, TableType.MATERIALIZED_VIEW)


#: Connections a shared engine keeps open once used (one per thread of a run, up to this many) ...
SHARED_POOL_SIZE = 8
#: ... and opens beyond that, closed again when returned.
SHARED_POOL_OVERFLOW = 56


class SqlAlchemySource(Source):
    """Read metadata from one database through SQLAlchemy, over one pooled connection.

    Every statement is bounded: on PostgreSQL by ``statement_timeout`` and ``lock_timeout``
    (session settings sent at connect, no extra round trip), on SQLite by ``lock_timeout`` (the
    busy timeout). DuckDB has no statement timeout and does not wait for a file another process
    holds: it fails at once. A SQLite or DuckDB file that does not exist is refused before
    connecting (both would create an empty database and every run would find 0 tables).

    :param url: SQLAlchemy URL, e.g. ``postgresql+psycopg://user@host/db`` or ``duckdb:///w.duckdb``.
    :param database_name: name to report for the database, instead of the one the server gives.
    :param engine_kwargs: extra arguments for :func:`sqlalchemy.create_engine`.
    :param digest_connections: PostgreSQL: connections that compute the digests of a database's
        schemas at once (the plan of an incremental run); the server spreads them over its cores.
    :param statement_timeout: seconds one statement may run (PostgreSQL); 0: no limit.
    :param lock_timeout: seconds a statement may wait for a lock (PostgreSQL, SQLite); 0: no limit.
    """

    kind: ClassVar[str] = "sqlalchemy"
    #: Above this many names, read the whole schema and filter in Python rather than bind each name.
    max_bound_names: ClassVar[int] = 5000

    def __init__(
        self,
        url: str | URL,
        *,
        database_name: str | None = None,
        engine_kwargs: dict[str, Any] | None = None,
        digest_connections: int = 2,
        statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
        lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        if not 1 <= digest_connections <= 16:
            raise ConfigError("digest_connections", digest_connections, "must be between 1 and 16")
        self.url = make_url(url)
        self.database_name = database_name
        self.engine_kwargs = dict(engine_kwargs or {})
        self.digest_connections = digest_connections
        self.statement_timeout = timeout_seconds("statement_timeout", statement_timeout, None)
        self.lock_timeout = timeout_seconds("lock_timeout", lock_timeout, None)
        self.kind = self.url.get_backend_name()  # type: ignore[misc]
        self._engine: Engine | None = None

    def __repr__(self) -> str:
        return f"SqlAlchemySource({self.url.render_as_string(hide_password=True)!r})"

    # ------------------------------------------------------------------ connection

    @property
    def engine(self) -> Engine:
        """Return the engine, creating it on first use (a server's engine is shared in the process)."""
        if self._engine is None:
            if self._shares_engine():
                self._engine = shared_engine(self._engine_key(), self._create_engine)
            else:
                self._engine = self._create_engine()
        return self._engine

    def _shares_engine(self) -> bool:
        """Share a server's engine; not a file database's (its pool would keep the file open)."""
        return self.kind not in ("sqlite", "duckdb") and not {"poolclass", "pool", "creator"} & set(self.engine_kwargs)

    def _engine_key(self) -> tuple[Any, ...]:
        return (
            self.url.render_as_string(hide_password=False),
            self.statement_timeout,
            self.lock_timeout,
            self.digest_connections,
            repr(sorted(self.engine_kwargs.items())),
        )

    def _create_engine(self) -> Engine:
        self._require_database_file()
        kwargs = {**self._pool_kwargs(), **self._dialect_kwargs(), **self.engine_kwargs}
        connect_args = {**self._timeout_connect_args(), **dict(self.engine_kwargs.get("connect_args") or {})}
        if connect_args:
            kwargs["connect_args"] = connect_args
        try:
            engine = create_engine(self.url, **kwargs)
        except (ImportError, NoSuchModuleError) as e:
            extra = _EXTRAS.get(self.kind)
            if extra is None:
                raise
            raise MissingDependency(f"The {self.kind} driver ({e})", extra) from e
        if engine.dialect.name == "postgresql":
            extend_postgres_type_names(engine.dialect)
            if self.url.get_driver_name() not in _LIBPQ_DRIVERS:
                event.listen(engine, "connect", self._set_postgres_timeouts)
        return engine

    def _require_database_file(self) -> None:
        """Refuse a SQLite or DuckDB file that does not exist: connecting would create an empty one."""
        if self.kind not in ("sqlite", "duckdb"):
            return
        path = self.url.database
        if not path or path == ":memory:" or path.startswith(("file:", "md:", "motherduck:")):
            return
        if not Path(path).expanduser().exists():
            raise ConfigError(
                f"{self.kind} database file", path,
                f"it does not exist. Check the path (the connection's host, or the URL); {self.kind} would "
                "create an empty database there and every run would find 0 tables. Create the database first "
                "if it is new.",
            )

    def _pool_kwargs(self) -> dict[str, Any]:
        if "poolclass" in self.engine_kwargs or "pool" in self.engine_kwargs:
            return {}
        if self.kind in ("sqlite", "duckdb") and self.url.database in (None, "", ":memory:"):
            return {"poolclass": StaticPool}
        if self._shares_engine():
            # Shared by the units of the process (one per thread) and the digest connections of
            # the plan: keep that many open; the pool's timeout bounds a wait for more.
            return {"poolclass": QueuePool, "pool_size": max(SHARED_POOL_SIZE, self.digest_connections),
                    "max_overflow": SHARED_POOL_OVERFLOW}
        return {"poolclass": QueuePool, "pool_size": 1, "max_overflow": 0}

    def _dialect_kwargs(self) -> dict[str, Any]:
        if self.kind != "postgresql":
            return {}
        # Reads only: autocommit saves the BEGIN and ROLLBACK round trips around every use of the
        # connection (each reading statement sees its own consistent snapshot of the catalog).
        kwargs: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}
        if self.url.get_driver_name() in ("psycopg", "psycopg2"):
            # psycopg's dialect looks the hstore type up on every new connection (three round
            # trips); metadata reads never decode hstore values.
            kwargs["use_native_hstore"] = False
        return kwargs

    def _postgres_settings(self) -> dict[str, int]:
        settings = {}
        if self.statement_timeout is not None:
            settings["statement_timeout"] = int(self.statement_timeout * 1000)
        if self.lock_timeout is not None:
            settings["lock_timeout"] = int(self.lock_timeout * 1000)
        return settings

    def _timeout_connect_args(self) -> dict[str, Any]:
        """Return the driver arguments that bound every statement (merged with the URL's own)."""
        if self.kind == "postgresql" and self.url.get_driver_name() in _LIBPQ_DRIVERS:
            # libpq's ``options`` sets the session settings in the startup packet: no round trip.
            options = " ".join(f"-c {k}={v}" for k, v in self._postgres_settings().items())
            given = self.url.query.get("options")
            given = " ".join(given) if isinstance(given, tuple) else given
            return {"options": f"{given} {options}".strip() if given else options} if options else {}
        if self.kind == "sqlite" and self.lock_timeout is not None and "timeout" not in self.url.query:
            return {"timeout": self.lock_timeout}
        return {}

    def _set_postgres_timeouts(self, dbapi_connection: Any, _record: Any) -> None:
        """Set the timeouts on a new connection of a driver without libpq options (one statement)."""
        settings = self._postgres_settings()
        if not settings:
            return
        cursor = dbapi_connection.cursor()
        try:
            for name, value in settings.items():
                cursor.execute(f"set {name} = {int(value)}")
        finally:
            cursor.close()

    def close(self) -> None:
        """Let go of the engine: dispose of its own, leave a shared one to the next source of the process."""
        if self._engine is not None and not self._shares_engine():
            self._engine.dispose()
        self._engine = None

    # ------------------------------------------------------------------ errors

    def is_transient(self, error: BaseException) -> bool:
        """Return whether a retry can help: by SQLSTATE (PostgreSQL), by DuckDB's or SQLite's error kind."""
        cause = getattr(error, "orig", None) or error
        code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if code:
            return is_transient_sqlstate(code)
        if self.kind == "postgresql":
            return is_transient_login_failure(str(cause))
        name = type(cause).__name__
        if name in _DUCKDB_TERMINAL:
            return False
        if type(cause).__module__ == "sqlite3":
            return "locked" in str(cause) or "busy" in str(cause)
        return True

    def describe_error(self, error: BaseException) -> str:
        """Return the driver's message without SQLAlchemy's statement and parameters."""
        cause = getattr(error, "orig", None) or error
        return super().describe_error(cause)

    # ------------------------------------------------------------------ listing

    def now(self) -> datetime:
        """Return the source's clock as an aware UTC datetime."""
        if self.kind == "postgresql":
            with self._listing(self.url.database or self.kind) as conn:
                return as_utc(conn.execute(text("select now()")).scalar_one())
        if self.kind == "duckdb":
            with self._listing(self.url.database or self.kind) as conn:
                return duckdb_reflection.duckdb_now(conn)
        return datetime.now(timezone.utc)

    def list_databases(self) -> list[str]:
        """Return the one database of the URL (or ``database_name`` when given)."""
        if self.database_name:
            return [self.database_name]
        if self.kind == "sqlite":
            database = self.url.database
            return [Path(database).stem if database and database != ":memory:" else "main"]
        if self.kind in ("postgresql", "duckdb"):
            with self._listing(self.url.database or self.kind) as conn:
                return [conn.execute(text("select current_database()")).scalar_one()]
        return [self.url.database or "default"]

    def list_schemas(self, database: str) -> list[str]:
        """Return the schemas of ``database``, system schemas excluded.

        :param database: the database (as returned by :meth:`list_databases`).
        """
        with self._listing(database) as conn:
            if self.kind == "postgresql":
                return list(conn.execute(_PG_SCHEMAS).scalars())
            if self.kind == "duckdb":
                return duckdb_reflection.list_duckdb_schemas(conn)
            return [s for s in inspect(conn).get_schema_names() if s not in _GENERIC_SYSTEM_SCHEMAS]

    def count_tables(self, database: str, schemas: list[str]) -> dict[str, int]:
        """Return the number of tables and views per schema.

        :param database: the database.
        :param schemas: the schemas to count.
        """
        if not schemas:
            return {}
        with self._listing(database) as conn:
            if self.kind == "postgresql":
                counts = dict.fromkeys(schemas, 0)
                counts.update({s: int(n) for s, n in conn.execute(_PG_COUNT_TABLES, {"schemas": schemas})})
                return counts
            if self.kind == "duckdb":
                return duckdb_reflection.count_duckdb_tables(conn, schemas)
            if self.kind == "sqlite":
                return {s: _count_sqlite_tables(conn, s) for s in schemas}
            return _count_generic_tables(conn, schemas)

    def table_digests(self, database: str, schemas: list[str]) -> dict[str, dict[str, str]]:
        """Return schema -> table -> structural digest, computed in the database in one query.

        Covers the relations :meth:`extract` reads (views and materialized views included,
        partitions left out); every schema asked for is a key, empty when it has no relations
        or does not exist. SQLite is read with one in-process query per schema.

        :param database: the database.
        :param schemas: the schemas to read.
        :raises IncrementalUnsupported: for dialects without a digest query.
        :raises SourceError: when the digests cannot be read (a lock held longer than
            ``lock_timeout``, a statement longer than ``statement_timeout``, ...); its ``schema``
            is set when one schema was being read.
        """
        self._require_digests()
        with self._listing(database, _only(schemas)) as conn:
            if not sql_digests.supports_digests(conn):
                version = ".".join(map(str, conn.dialect.server_version_info or ()))
            elif self.kind != "postgresql" or self.digest_connections == 1 or len(schemas) < 2:
                return sql_digests.read_table_digests(conn, schemas)
            else:
                return self._parallel_digests(conn, database, schemas)
        raise IncrementalUnsupported(
            self.kind, f"server version {version} has no digest query (PostgreSQL 14 or later); runs are full"
        )

    def _parallel_digests(self, conn: Connection, database: str, schemas: list[str]) -> dict[str, dict[str, str]]:
        """Split the schemas over ``digest_connections`` connections (``conn`` is one of them)."""
        groups = [schemas[i :: self.digest_connections] for i in range(min(self.digest_connections, len(schemas)))]

        def read(group: list[str]) -> dict[str, dict[str, str]]:
            with self._listing(database, _only(group)) as other:
                return sql_digests.read_table_digests(other, group)

        with ThreadPoolExecutor(max_workers=len(groups) - 1, thread_name_prefix="omingest-digests") as pool:
            others = [pool.submit(read, group) for group in groups[1:]]
            with self.reading(database, _only(groups[0])):
                digests = sql_digests.read_table_digests(conn, groups[0])
            for future in others:
                digests.update(future.result())
        return {s: digests[s] for s in schemas}

    def _require_digests(self) -> None:
        if self.kind not in sql_digests.DIGEST_DIALECTS:
            raise IncrementalUnsupported(self.kind, f"no digest query for dialect {self.kind}; runs are full")

    @contextmanager
    def _listing(self, database: str, schema: str | None = None) -> Iterator[Connection]:
        """Yield a connection; a failure to connect or to read becomes a classified :class:`SourceError`."""
        with self.reading(database, schema):
            engine = self.engine
            with engine.connect() as conn:
                yield conn

    # ------------------------------------------------------------------ extraction

    def read_unit(
        self, unit: WorkUnit, selections: Mapping[str, TableSelection]
    ) -> Iterator[tuple[str, SchemaRead]]:
        """Read the unit: PostgreSQL 14+ in two statements for all its schemas, others schema by schema.

        :param unit: the schemas (and optionally the slice or the tables) to read.
        :param selections: schema -> what to read of it.
        """
        engine = self.engine  # a missing driver or database file is not a schema failure
        if self.kind == "postgresql":
            reads: dict[str, SchemaRead] | None = None
            with self.reading(unit.database, ", ".join(unit.schemas)), engine.connect() as conn:
                if postgres_reflection.supports_bulk_reads(conn):
                    reads = self._read_postgres_unit(conn, unit.database, selections)
            if reads is not None:
                for schema in selections:
                    if schema not in reads:
                        raise SourceError(unit.database, schema, "the schema does not exist", retryable=False)
                    yield schema, reads[schema]
                return
        yield from super().read_unit(unit, selections)

    def _read_postgres_unit(
        self, conn: Connection, database: str, selections: Mapping[str, TableSelection]
    ) -> dict[str, SchemaRead]:
        """Read a whole unit from pg_catalog: one listing, then one read of the selected relations."""
        # An incremental unit names its tables: list only those (a bounded number of names).
        named = [sel.bindable_names(self.max_bound_names) for sel in selections.values()]
        names = None if any(n is None for n in named) else sorted({name for n in named for name in n or ()})
        listings = postgres_reflection.list_relations(conn, list(selections), names)
        wanted: dict[int, tuple[str, str]] = {}
        for schema, selection in selections.items():
            listing = listings.get(schema)
            if listing is None or selection.asks_nothing:
                continue
            for name, (oid, is_view) in listing.relations.items():
                if selection.keeps(name, is_view):
                    wanted[oid] = (schema, name)
        rows = postgres_reflection.read_relations(conn, wanted)
        builder = postgres_reflection.TableBuilder(database)
        reads: dict[str, SchemaRead] = {}
        for schema, listing in listings.items():
            schema_rows = rows.get(schema, {})
            tables, unreflectable = self.build_tables(
                database, schema, sorted(schema_rows), lambda name, r=schema_rows: builder.build(r[name], name)
            )
            reads[schema] = SchemaRead(listing.schema, tables, unreflectable)
        return reads

    def read_schema(self, database: str, schema: str, selection: TableSelection) -> SchemaRead:
        """Read one schema (DuckDB, SQLite, other dialects, PostgreSQL before 14).

        :param database: the database.
        :param schema: the schema.
        :param selection: which relations to keep; an incremental unit's names are read alone.
        """
        bound = selection.bindable_names(self.max_bound_names)
        names = None if bound is None else tuple(bound)
        with self.engine.connect() as conn:
            # Digests first: a DDL racing the reads leaves an older digest, refetched next run.
            digests = self._schema_digests(conn, schema, names)
            if self.kind == "duckdb":
                schema_entity, tables, unreflectable = _read_duckdb(
                    conn, database, schema, selection.keeps, self.build_tables)
            else:
                schema_entity, tables, unreflectable = _read_with_inspector(
                    conn, database, schema, selection.keeps, names, self.build_tables)
        if digests:
            tables = [t.model_copy(update={"source_digest": digests.get(t.name)}) for t in tables]
        return SchemaRead(schema_entity, tables, unreflectable)

    def _schema_digests(self, conn: Connection, schema: str, names: tuple[str, ...] | None = None) -> dict[str, str]:
        if self.kind not in sql_digests.DIGEST_DIALECTS or not sql_digests.supports_digests(conn):
            return {}
        return sql_digests.read_table_digests(conn, [schema], tables=names)[schema]


def _only(schemas: Sequence[str]) -> str | None:
    """Return the schema when exactly one is read (a failure then names it), else None."""
    return schemas[0] if len(schemas) == 1 else None


# ---------------------------------------------------------------------- counting


def _count_sqlite_tables(conn: Connection, schema: str) -> int:
    quoted = conn.dialect.identifier_preparer.quote_identifier(schema)
    query = (
        f"select count(*) from {quoted}.sqlite_master "
        "where type in ('table', 'view') and name not like 'sqlite\\_%' escape '\\'"
    )
    return int(conn.execute(text(query)).scalar_one())


def _count_generic_tables(conn: Connection, schemas: list[str]) -> dict[str, int]:
    query = text(
        "select table_schema, count(*) from information_schema.tables "
        "where table_schema in :schemas group by table_schema"
    ).bindparams(bindparam("schemas", expanding=True))
    counts = dict.fromkeys(schemas, 0)
    try:
        with conn.begin_nested():
            counts.update({s: int(n) for s, n in conn.execute(query, {"schemas": schemas})})
    except Exception:
        log.debug("information_schema.tables unavailable; counting through the Inspector.", exc_info=True)
        insp = inspect(conn)
        for s in schemas:
            counts[s] = len(insp.get_table_names(schema=s)) + len(insp.get_view_names(schema=s))
    return counts


# ---------------------------------------------------------------------- DuckDB


def _read_duckdb(
    conn: Connection, database: str, schema: str, keep: KeepFn, build_tables: BuildTables
) -> tuple[DatabaseSchema, list[Table], dict[str, str]]:
    schema_entity = duckdb_reflection.read_duckdb_schema(conn, schema)
    if schema_entity is None:
        raise SourceError(database, schema, "the schema does not exist", retryable=False)
    rows = duckdb_reflection.read_duckdb_rows(conn, schema, keep)
    tables, unreflectable = build_tables(
        database, schema, sorted(rows.relations),
        lambda name: duckdb_reflection.build_duckdb_table(rows, name, database, schema),
    )
    return schema_entity, tables, unreflectable


# ---------------------------------------------------------------------- Inspector-based


def _read_with_inspector(
    conn: Connection, database: str, schema: str, keep: KeepFn, names: tuple[str, ...] | None,
    build_tables: BuildTables,
) -> tuple[DatabaseSchema, list[Table], dict[str, str]]:
    insp = inspect(conn)
    if conn.dialect.name == "postgresql":
        schema_entity = _pg_schema(conn, schema)
        relations = _pg_relations(conn, schema, names) if schema_entity else {}
    else:
        schema_entity = _generic_schema(insp, schema)
        relations = _generic_relations(insp, schema) if schema_entity else {}
    if schema_entity is None:
        raise SourceError(database, schema, "the schema does not exist", retryable=False)
    kept = {name: rel for name, rel in relations.items() if keep(name, rel.is_view)}
    if not kept:
        return schema_entity, [], {}
    if conn.dialect.name != "postgresql":
        _fill_view_definitions(insp, schema, kept)
    # Relations listed by name (``names``) are not the whole schema: the bulk reads filter by name.
    all_kept = len(kept) == len(relations) and (names is None or conn.dialect.name != "postgresql")
    tables, unreflectable = _build_tables(insp, conn, database, schema, kept, all_kept=all_kept,
                                          build_tables=build_tables)
    return schema_entity, tables, unreflectable


def _pg_schema(conn: Connection, schema: str) -> DatabaseSchema | None:
    row = conn.execute(_PG_SCHEMA, {"schema": schema}).first()
    return None if row is None else DatabaseSchema(name=schema, description=row[0])


def _pg_relations(conn: Connection, schema: str, names: tuple[str, ...] | None = None) -> dict[str, _Relation]:
    relations: dict[str, _Relation] = {}
    if names is None:
        rows = conn.execute(_PG_RELATIONS, {"schema": schema})
    else:
        rows = conn.execute(_PG_NAMED_RELATIONS, {"schema": schema, "names": list(names)})
    for row in rows:
        table_type = postgres_reflection.RELKINDS[row.relkind]
        relations[row.name] = _Relation(
            name=row.name,
            table_type=table_type,
            view_definition=row.view_definition.strip() if row.view_definition else None,
            row_count=postgres_reflection.row_count(table_type, row.row_estimate),
            partition_columns=tuple(row.partition_columns or ()),
            properties={"partition_key": row.partition_key} if row.partition_key else {},
            upstreams=row.upstreams,
        )
    return relations


def _generic_schema(insp: Inspector, schema: str) -> DatabaseSchema | None:
    if schema not in insp.get_schema_names():
        return None
    return DatabaseSchema(name=schema)


def _generic_relations(insp: Inspector, schema: str) -> dict[str, _Relation]:
    relations = {name: _Relation(name, TableType.REGULAR) for name in insp.get_table_names(schema=schema)}
    relations.update({name: _Relation(name, TableType.VIEW) for name in insp.get_view_names(schema=schema)})
    try:
        matviews = insp.get_materialized_view_names(schema=schema)
    except NotImplementedError:
        matviews = []
    relations.update({name: _Relation(name, TableType.MATERIALIZED_VIEW) for name in matviews})
    return relations


def _fill_view_definitions(insp: Inspector, schema: str, relations: dict[str, _Relation]) -> None:
    # Dialects other than PostgreSQL offer view definitions per view only.
    for rel in relations.values():
        if rel.is_view:
            definition = insp.get_view_definition(rel.name, schema=schema)
            rel.view_definition = definition.strip() if definition else None


def _build_tables(
    insp: Inspector,
    conn: Connection,
    database: str,
    schema: str,
    relations: dict[str, _Relation],
    *,
    all_kept: bool,
    build_tables: BuildTables,
) -> tuple[list[Table], dict[str, str]]:
    names = sorted(relations)
    filter_names = None if all_kept or len(names) > SqlAlchemySource.max_bound_names else names
    has_views = any(rel.is_view for rel in relations.values())
    opts: dict[str, Any] = {
        "schema": schema,
        "filter_names": filter_names,
        "kind": ObjectKind.ANY if has_views else ObjectKind.TABLE,
    }
    columns = _by_name(insp.get_multi_columns(**opts))
    primary_keys = _by_name(insp.get_multi_pk_constraint(**opts))
    uniques = _by_name(insp.get_multi_unique_constraints(**opts))
    foreign_keys = _by_name(insp.get_multi_foreign_keys(**opts))
    comments = _multi_or_empty(insp.get_multi_table_comment, opts)
    fk_default_schema = (
        conn.dialect.default_schema_name if conn.dialect.name == "postgresql" else None
    ) or schema
    type_cache: dict[Any, TypeInfo] = {}  # a schema has thousands of columns and a few dozen types
    lineage_dialect = _SQLGLOT_DIALECTS.get(conn.dialect.name, conn.dialect.name) \
        if conn.dialect.name in _PARSED_LINEAGE_DIALECTS else None

    def build(name: str) -> Table:
        rel = relations[name]
        constraints = [
            *_primary_key(primary_keys.get(name)),
            *sorted((_unique(u) for u in uniques.get(name, ())), key=_name_and_columns),
            *sorted(
                (_foreign_key(fk, database, fk_default_schema) for fk in foreign_keys.get(name, ())),
                key=_name_and_columns,
            ),
        ]
        table = Table(
            name=name,
            table_type=rel.table_type,
            description=(comments.get(name) or {}).get("text"),
            columns=tuple(_column(c, conn, i, type_cache) for i, c in enumerate(columns.get(name, ()), start=1)),
            constraints=tuple(constraints),
            view_definition=rel.view_definition,
            partition_columns=rel.partition_columns,
            properties=rel.properties,
            row_count=rel.row_count,
        )
        if rel.upstreams is not None:
            return table.model_copy(update={"upstreams": tuple(
                TableUpstream(table=build_fqn(database, s, t)) for s, t in rel.upstreams)})
        if rel.is_view and lineage_dialect is not None:
            return with_parsed_lineage(table, lineage_dialect, database, schema)
        return table

    return build_tables(database, schema, names, build)


def _name_and_columns(constraint: TableConstraint) -> tuple[str, tuple[str, ...]]:
    return constraint.name or "", constraint.columns


def _by_name(items: Any) -> dict[str, Any]:
    return {table: value for (_schema, table), value in dict(items).items()}


def _multi_or_empty(method: Callable[..., Any], opts: dict[str, Any]) -> dict[str, Any]:
    try:
        return _by_name(method(**opts))
    except NotImplementedError:
        return {}


def _column(
    col: dict[str, Any], conn: Connection, position: int, type_cache: dict[Any, TypeInfo] | None = None
) -> Column:
    info = _mapped_type(col["type"], conn, type_cache)
    default = col.get("default")
    return info.column(
        col["name"],
        nullable=bool(col.get("nullable", True)),
        default=None if default is None else str(default),
        description=col.get("comment") or None,
        ordinal_position=position,
    )


def _mapped_type(type_: Any, conn: Connection, cache: dict[Any, TypeInfo] | None) -> TypeInfo:
    """Map a reflected type, reusing the result for an equal type (same class, same attributes).

    Types whose attributes are not all hashable (enums, domains' inner types are compared by
    identity) are mapped each time.
    """
    if cache is None:
        return map_sqlalchemy_type(type_, conn.dialect)
    try:
        key = (type(type_), tuple(sorted(vars(type_).items())))
        info = cache.get(key)
    except TypeError:
        return map_sqlalchemy_type(type_, conn.dialect)
    if info is None:
        info = cache[key] = map_sqlalchemy_type(type_, conn.dialect)
    return info


def _primary_key(pk: dict[str, Any] | None) -> list[TableConstraint]:
    if not pk or not pk.get("constrained_columns"):
        return []
    return [
        TableConstraint(
            constraint_type=ConstraintType.PRIMARY_KEY,
            columns=tuple(pk["constrained_columns"]),
            name=pk.get("name"),
        )
    ]


def _unique(uc: dict[str, Any]) -> TableConstraint:
    return TableConstraint(
        constraint_type=ConstraintType.UNIQUE,
        columns=tuple(uc["column_names"]),
        name=uc.get("name"),
    )


def _foreign_key(fk: dict[str, Any], database: str, default_schema: str) -> TableConstraint:
    return TableConstraint(
        constraint_type=ConstraintType.FOREIGN_KEY,
        columns=tuple(fk["constrained_columns"]),
        name=fk.get("name"),
        referred_table=build_fqn(database, fk.get("referred_schema") or default_schema, fk["referred_table"]),
        referred_columns=tuple(fk["referred_columns"]),
    )
