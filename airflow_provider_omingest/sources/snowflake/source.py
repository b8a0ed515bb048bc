"""Snowflake source: bulk extraction per schema, changes from ``SNOWFLAKE.ACCOUNT_USAGE``.

Full extraction reads each schema with a fixed number of statements, whatever the number of
tables: ``INFORMATION_SCHEMA.SCHEMATA``, ``TABLES`` and ``COLUMNS`` filtered by equality on
the schema (one ``INFORMATION_SCHEMA`` query spanning schemas with ``OR`` was measured 70×
slower), ``SHOW VIEWS`` for definitions (``INFORMATION_SCHEMA.VIEWS`` hides those of views
the role does not own), ``SHOW PRIMARY KEYS / UNIQUE KEYS / IMPORTED KEYS`` for constraints,
``SHOW DYNAMIC TABLES`` / ``SHOW EXTERNAL TABLES`` only when the schema has such tables, and one
``ACCOUNT_USAGE.TAG_REFERENCES`` query per work unit for tags. ``SHOW`` output is paged by
10,000 rows; an ``INFORMATION_SCHEMA`` query that returns "too much data" is split by table
names.

Incremental extraction reads ``ACCOUNT_USAGE.TABLES`` and ``SCHEMATA`` **once per run** for
every database (OpenMetadata scans the view once per schema). ACCOUNT_USAGE lags real time by
up to about 3 hours: keep the safety margin at least :data:`ACCOUNT_USAGE_LATENCY`.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_omingest.exceptions import (
    ConfigError,
    IncrementalUnsupported,
    MissingDependency,
    SourceError,
)
from airflow_provider_omingest.models.changes import ChangeSet
from airflow_provider_omingest.models.entities import Table, TableType
from airflow_provider_omingest.sources.base import SchemaRead, Source, TableSelection, as_utc, timeout_seconds
from airflow_provider_omingest.sources.snowflake.mapping import (
    Relation,
    TagIndex,
    ViewDependencies,
    build_table,
    constraints_from_show,
    dependencies_from_rows,
    object_ids_from_rows,
    relations_from_rows,
    resolve_changes,
    schema_entity,
    tag_index,
    view_lineage,
)
from airflow_provider_omingest.sources.sqlstate import is_transient_sqlstate

if TYPE_CHECKING:
    from airflow_provider_omingest.models.units import WorkUnit

__all__ = [
    "ACCOUNT_USAGE_LATENCY",
    "ACCOUNT_USAGE_RETENTION",
    "DEFAULT_ACCOUNT_USAGE",
    "DEFAULT_STATEMENT_TIMEOUT",
    "SnowflakeConfig",
    "SnowflakeSource",
    "is_too_much_data",
    "query_split_by_names",
]

log = logging.getLogger(__name__)

_VIEW_TYPES = frozenset({TableType.VIEW, TableType.SECURE_VIEW, TableType.MATERIALIZED_VIEW})

#: Where the account usage views live (a database role can be granted a copy elsewhere).
DEFAULT_ACCOUNT_USAGE = "SNOWFLAKE.ACCOUNT_USAGE"
#: Documented worst-case latency of ``ACCOUNT_USAGE.TABLES`` (45 minutes to 3 hours): the
#: smallest safety margin that cannot miss a change.
ACCOUNT_USAGE_LATENCY = timedelta(hours=3)
#: ``ACCOUNT_USAGE`` keeps one year of history.
ACCOUNT_USAGE_RETENTION = timedelta(days=365)

#: Seconds a statement may run by default (``STATEMENT_TIMEOUT_IN_SECONDS``): far more than a metadata query needs.
DEFAULT_STATEMENT_TIMEOUT = 600

#: Snowflake error number of "Information schema query returned too much data".
TOO_MUCH_DATA_ERRNO = 90030
#: Largest page ``SHOW ... LIMIT`` accepts.
SHOW_PAGE_SIZE = 10_000

_EXTRA = "snowflake"
_SYSTEM_SCHEMAS = frozenset({"INFORMATION_SCHEMA"})
_LOCATION_RE = re.compile(r'^(?:[A-Za-z_][A-Za-z0-9_$]*|"[^"]+")(?:\.(?:[A-Za-z_][A-Za-z0-9_$]*|"[^"]+"))?$')

Row = dict[str, Any]


# ------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SnowflakeConfig:
    """How to connect: the fields of an Airflow ``snowflake`` connection, secrets out of ``repr``.

    :param account: account identifier (``orgname-account`` or ``locator``).
    :param user: login name.
    :param password: password, or the passphrase of an encrypted private key.
    :param private_key_file: path of a PEM private key (key-pair authentication).
    :param private_key_content: PEM private key text, or its base64 encoding.
    :param role: role to use; it needs the grants listed in ``docs/snowflake.md``.
    :param warehouse: warehouse for ``INFORMATION_SCHEMA`` and ``ACCOUNT_USAGE`` queries.
    :param database: default database of the session.
    :param schema: default schema of the session.
    :param region: legacy region part of the account locator.
    :param authenticator: ``snowflake`` (default), ``externalbrowser``, ``oauth``, ...
    :param token: OAuth access token (``authenticator='oauth'``).
    :param insecure_mode: turn off OCSP certificate checks.
    :param ocsp_fail_open: let connections through when the OCSP responder is unreachable.
    :param session_parameters: session parameters set at login.
    :param host: explicit host (private link, or a local stand-in).
    :param port: explicit port.
    :param protocol: ``https`` (default) or ``http``.
    :param login_timeout: seconds to wait for the login.
    :param network_timeout: seconds to wait for a request.
    :param statement_timeout: seconds a statement may run, sent as the session parameter
        ``STATEMENT_TIMEOUT_IN_SECONDS`` (https://docs.snowflake.com/en/sql-reference/parameters);
        None: :data:`DEFAULT_STATEMENT_TIMEOUT` unless ``session_parameters`` sets it; 0: no limit
        (Snowflake's own default is two days).
    """

    account: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    private_key_file: str | None = None
    private_key_content: str | None = field(default=None, repr=False)
    role: str | None = None
    warehouse: str | None = None
    database: str | None = None
    schema: str | None = None
    region: str | None = None
    authenticator: str | None = None
    token: str | None = field(default=None, repr=False)
    insecure_mode: bool = False
    ocsp_fail_open: bool | None = None
    session_parameters: dict[str, Any] | None = None
    host: str | None = None
    port: int | None = None
    protocol: str | None = None
    login_timeout: int | None = None
    network_timeout: int | None = None
    statement_timeout: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "statement_timeout",
                           timeout_seconds("statement_timeout", self.statement_timeout, None))
        if not self.account:
            raise ConfigError("account", self.account, "set the Snowflake account identifier (extra 'account')")
        if self.private_key_file and self.private_key_content:
            raise ConfigError(
                "private_key_file", self.private_key_file,
                "private_key_file and private_key_content are mutually exclusive. Please remove one.",
            )

    def connect_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments of ``snowflake.connector.connect`` (secrets included)."""
        kwargs: dict[str, Any] = {
            "account": self.account,
            "user": self.user,
            "password": self.password,
            "role": self.role,
            "warehouse": self.warehouse,
            "database": self.database,
            "schema": self.schema,
            "region": self.region,
            "authenticator": self.authenticator,
            "token": self.token,
            "session_parameters": self._session_parameters(),
            "host": self.host,
            "port": self.port,
            "protocol": self.protocol,
            "login_timeout": self.login_timeout,
            "network_timeout": self.network_timeout,
            "application": "omingest",
        }
        if self.insecure_mode:
            kwargs["insecure_mode"] = True
        if self.ocsp_fail_open is not None:
            kwargs["ocsp_fail_open"] = self.ocsp_fail_open
        private_key = self._private_key_der()
        if private_key is not None:
            kwargs["private_key"] = private_key
            kwargs.pop("password")
        return {k: v for k, v in kwargs.items() if v is not None and v != ""}

    def _session_parameters(self) -> dict[str, Any]:
        """Return the session parameters with the statement timeout (the explicit setting wins)."""
        parameters = dict(self.session_parameters or {})
        given = any(k.upper() == "STATEMENT_TIMEOUT_IN_SECONDS" for k in parameters)
        if self.statement_timeout is not None or not given:
            for key in [k for k in parameters if k.upper() == "STATEMENT_TIMEOUT_IN_SECONDS"]:
                del parameters[key]
            seconds = DEFAULT_STATEMENT_TIMEOUT if self.statement_timeout is None else self.statement_timeout
            parameters["STATEMENT_TIMEOUT_IN_SECONDS"] = int(seconds)
        return parameters

    def _private_key_der(self) -> bytes | None:
        """Load the private key (file or content; PEM or base64 PEM) as unencrypted PKCS#8 DER."""
        if not self.private_key_file and not self.private_key_content:
            return None
        try:
            from cryptography.hazmat.primitives import serialization
        except ImportError as e:  # pragma: no cover - cryptography comes with the connector
            raise MissingDependency("cryptography (for Snowflake key-pair authentication)", _EXTRA) from e
        pem = self._private_key_pem()
        passphrase = self.password.strip().encode() if self.password else None
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except (TypeError, ValueError) as e:
            where = "private_key_file" if self.private_key_file else "private_key_content"
            # never include the key or the passphrase in the message
            raise ConfigError(where, "<hidden>", f"not a usable PEM private key ({type(e).__name__}); "
                              "check the key and its passphrase (the connection password)") from None
        return key.private_bytes(
            encoding=serialization.Encoding.DER,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )

    def _private_key_pem(self) -> bytes:
        if self.private_key_file:
            from pathlib import Path

            path = Path(self.private_key_file)
            if not path.is_file() or path.stat().st_size == 0:
                raise ConfigError("private_key_file", self.private_key_file, "not a readable, non-empty file")
            return path.read_bytes()
        content = (self.private_key_content or "").strip()
        if "-----BEGIN" in content:
            return content.encode()
        import base64
        import binascii

        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("private_key_content", "<hidden>", "neither a PEM key nor base64 of one") from None


# --------------------------------------------------------------------------------------- helpers


def quote_ident(name: str) -> str:
    """Quote a Snowflake identifier exactly as stored (case preserved)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal for ``SHOW ... FROM '<name>'``."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def is_too_much_data(error: BaseException) -> bool:
    """Return whether ``error`` is Snowflake's "Information schema query returned too much data"."""
    return getattr(error, "errno", None) == TOO_MUCH_DATA_ERRNO or "returned too much data" in str(error)


def query_split_by_names(
    run: Callable[[Sequence[str] | None], list[Row]],
    list_names: Callable[[], list[str]],
    names: Sequence[str] | None = None,
) -> list[Row]:
    """Run an ``INFORMATION_SCHEMA`` query, splitting it by table names while it returns too much data.

    :param run: runs the query for some table names (``None``: the whole schema).
    :param list_names: lists the schema's table names (a cheap ``SHOW``), used on the first split.
    :param names: the names to query (``None``: the whole schema).
    """
    try:
        return run(names)
    except Exception as e:
        if not is_too_much_data(e):
            raise
        if names is None:
            names = list_names()
        if len(names) <= 1:
            raise
        log.info("INFORMATION_SCHEMA returned too much data for %d tables: splitting in two.", len(names))
    mid = len(names) // 2
    return (query_split_by_names(run, list_names, names[:mid])
            + query_split_by_names(run, list_names, names[mid:]))


def _in_list(prefix: str, names: Sequence[str]) -> tuple[str, dict[str, str]]:
    params = {f"{prefix}{i}": n for i, n in enumerate(names)}
    return ", ".join(f"%({k})s" for k in params), params


# ---------------------------------------------------------------------------------------- source


class SnowflakeSource(Source):
    """Read metadata from a Snowflake account over one connection.

    :param config: how to connect.
    :param account_usage: ``DATABASE.SCHEMA`` of the account usage views (``TABLES``,
        ``SCHEMATA``, ``TAG_REFERENCES``), e.g. a copy shared with a less privileged role.
    :param include_tags: read object and column tags from ``TAG_REFERENCES``.
    :param include_constraints: read primary, unique and foreign keys.
    :param rescan_altered_schemas: in incremental runs, extract whole every schema holding a
        table altered in the window that was created before it. ``ACCOUNT_USAGE.TABLES``
        cannot tell a rename from another ``ALTER``, and only a whole schema shows that the
        old name is gone. Costs bytes, not round trips (a schema is read in the same
        number of statements whole or in part).
    :param exclude_databases: databases never listed (the shared ``SNOWFLAKE`` database).
    :param include_object_ids: read each table's ``TABLE_ID`` from ``ACCOUNT_USAGE.TABLES`` (one
        query per work unit), so that a table moved to another schema or database is seen as moved.
    :param include_lineage: read what each view reads from ``ACCOUNT_USAGE.OBJECT_DEPENDENCIES``
        (one query per work unit); views it does not know yet (it lags up to three hours) are parsed.
    """

    kind: ClassVar[str] = "snowflake"
    #: ACCOUNT_USAGE views lag real time by up to ~3 hours; add an hour for clock skew.
    default_safety_margin: ClassVar[timedelta] = ACCOUNT_USAGE_LATENCY + timedelta(hours=1)
    #: Rows per ``SHOW`` page (Snowflake's maximum).
    show_page_size: ClassVar[int] = SHOW_PAGE_SIZE
    #: Above this many names, read the whole schema and filter in Python rather than bind names.
    max_bound_names: ClassVar[int] = 1000

    def __init__(
        self,
        config: SnowflakeConfig,
        *,
        account_usage: str = DEFAULT_ACCOUNT_USAGE,
        include_tags: bool = True,
        include_constraints: bool = True,
        rescan_altered_schemas: bool = True,
        exclude_databases: Sequence[str] = ("SNOWFLAKE",),
        include_object_ids: bool = True,
        include_lineage: bool = True,
    ) -> None:
        if not _LOCATION_RE.match(account_usage or ""):
            raise ConfigError("account_usage", account_usage, "expected DATABASE.SCHEMA, e.g. SNOWFLAKE.ACCOUNT_USAGE")
        self.config = config
        self.account_usage = account_usage
        self.include_tags = include_tags
        self.include_constraints = include_constraints
        self.rescan_altered_schemas = rescan_altered_schemas
        self.exclude_databases = frozenset(exclude_databases)
        self.include_object_ids = include_object_ids
        self.include_lineage = include_lineage
        #: Statements sent to Snowflake by this source (round trips), for tests and summaries.
        self.round_trips = 0
        self._conn: Any = None
        self._tags: dict[tuple[str, str], TagIndex] | None = None
        self._tags_scope: tuple[str, tuple[str, ...]] | None = None
        self._tags_unavailable: str | None = None
        self._ids_unavailable: str | None = None
        self._unit_tags: dict[tuple[str, str], TagIndex] = {}
        self._unit_ids: dict[tuple[str, str], dict[str, str]] = {}
        self._unit_deps: dict[tuple[str, str, str], ViewDependencies] | None = None
        self._deps_unavailable: str | None = None

    def __repr__(self) -> str:
        return f"SnowflakeSource(account={self.config.account!r}, user={self.config.user!r})"

    # ------------------------------------------------------------------ connection

    def _connection(self) -> Any:
        if self._conn is None:
            try:
                import snowflake.connector
            except ImportError as e:
                raise MissingDependency("snowflake-connector-python", _EXTRA) from e
            self._conn = snowflake.connector.connect(**self.config.connect_kwargs())
        return self._conn

    def _run(self, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
        connection = self._connection()  # raises MissingDependency without the client
        from snowflake.connector import DictCursor

        cursor = connection.cursor(DictCursor)
        try:
            self.round_trips += 1
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _show(self, command: str) -> list[Row]:
        """Run a ``SHOW`` command page by page (``LIMIT n FROM 'last name'``)."""
        rows: list[Row] = []
        seen: set[str] = set()
        after: str | None = None
        while True:
            sql = f"{command} LIMIT {self.show_page_size}" + (f" FROM {quote_literal(after)}" if after else "")
            page = self._run(sql)
            fresh = [r for r in page if r["name"] not in seen]
            rows.extend(fresh)
            seen.update(r["name"] for r in fresh)
            if len(page) < self.show_page_size or not fresh:
                return rows
            after = page[-1]["name"]

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    # ------------------------------------------------------------------ listing

    def now(self) -> datetime:
        """Return Snowflake's clock (aware UTC)."""
        with self.reading(self.config.database or self.config.account, None):
            value = self._run("SELECT CURRENT_TIMESTAMP() AS NOW")[0]["NOW"]
        return as_utc(value)

    def list_databases(self) -> list[str]:
        """Return the databases the role can see, without excluded ones (``SNOWFLAKE``)."""
        with self.reading(self.config.account, None):
            rows = self._show("SHOW TERSE DATABASES")
        return sorted(r["name"] for r in rows if r["name"] not in self.exclude_databases)

    def list_schemas(self, database: str) -> list[str]:
        """Return the schemas of ``database`` without ``INFORMATION_SCHEMA``.

        :param database: the database, as listed.
        """
        with self.reading(database, None):
            rows = self._show(f"SHOW TERSE SCHEMAS IN DATABASE {quote_ident(database)}")
        return sorted(r["name"] for r in rows if r["name"].upper() not in _SYSTEM_SCHEMAS)

    def count_tables(self, database: str, schemas: list[str]) -> dict[str, int]:
        """Return tables and views per schema, in one ``INFORMATION_SCHEMA`` query per database.

        :param database: the database.
        :param schemas: the schemas to count.
        """
        counts = dict.fromkeys(schemas, 0)
        if not schemas:
            return counts
        sql = (
            f"SELECT TABLE_SCHEMA, COUNT(*) AS N FROM {quote_ident(database)}.INFORMATION_SCHEMA.TABLES "
            "WHERE TABLE_TYPE <> 'TEMPORARY TABLE' GROUP BY TABLE_SCHEMA"
        )
        with self.reading(database, None):
            try:
                rows = self._run(sql)
            except Exception as e:
                if not is_too_much_data(e):
                    raise
                rows = [{"TABLE_SCHEMA": s, "N": len(self._object_names(database, s))} for s in schemas]
        for row in rows:
            if row["TABLE_SCHEMA"] in counts:
                counts[row["TABLE_SCHEMA"]] = int(row["N"])
        return counts

    def _object_names(self, database: str, schema: str) -> list[str]:
        rows = self._show(f"SHOW TERSE OBJECTS IN SCHEMA {quote_ident(database)}.{quote_ident(schema)}")
        return sorted(r["name"] for r in rows)

    # ------------------------------------------------------------------ extraction

    def read_unit(self, unit: WorkUnit, selections: Mapping[str, TableSelection]) -> Iterator[tuple[str, SchemaRead]]:
        """Read the unit's schemas one by one, with its tags and object ids read once for the whole unit.

        :param unit: the schemas (and optionally the slice or the tables) to read.
        :param selections: schema -> what to read of it.
        """
        self._unit_tags = self._tags_for(unit)
        self._unit_ids = self._object_ids_for(unit, selections)
        self._unit_deps = self._dependencies_for(unit, selections)
        try:
            yield from super().read_unit(unit, selections)
        finally:
            self._unit_tags, self._unit_ids, self._unit_deps = {}, {}, None

    def read_schema(self, database: str, schema: str, selection: TableSelection) -> SchemaRead:
        """Read one schema in a fixed number of statements.

        :param database: the database.
        :param schema: the schema.
        :param selection: which relations to keep (and, for an incremental unit, to read).
        :raises SourceError: when the schema does not exist or the role cannot see it.
        """
        schema_row = self._schema_row(database, schema)
        tags = self._unit_tags.get((database, schema))
        read = SchemaRead(schema_entity(schema_row, tags))
        if selection.asks_nothing:
            return read
        names = selection.bindable_names(self.max_bound_names)
        bound = None if names is None else tuple(names)
        relations = self._relations(database, schema, bound, selection.include_views)
        # temporary tables are session-local: never catalogued
        kept = {name: rel for name, rel in relations.items()
                if rel.table_type is not TableType.LOCAL and selection.keeps(rel.name, rel.is_view)}
        if not kept:
            return read
        columns = self._columns(database, schema, sorted(kept) if bound is not None else None)
        constraints = self._constraints(database, schema, kept)
        ids = self._unit_ids.get((database, schema), {})
        read.tables, read.unreflectable = self.build_tables(database, schema, sorted(kept), lambda name: build_table(
            kept[name], columns.get(name, []), constraints.get(name, []), tags, object_id=ids.get(name)))
        read.tables = [self._with_lineage(t, database, schema) for t in read.tables]
        return read

    def _with_lineage(self, table: Table, database: str, schema: str) -> Table:
        """Give a view its upstreams: from ``OBJECT_DEPENDENCIES``, else (a view too new for it) its definition."""
        if table.table_type not in _VIEW_TYPES:
            return table
        return view_lineage(table, (self._unit_deps or {}).get((database, schema, table.name)), database, schema)

    def _dependencies_for(
        self, unit: WorkUnit, selections: Mapping[str, TableSelection]
    ) -> dict[tuple[str, str, str], ViewDependencies] | None:
        """Return (database, schema, view) -> what it reads, in one ``OBJECT_DEPENDENCIES`` query per unit.

        OBJECT_DEPENDENCIES (https://docs.snowflake.com/en/sql-reference/account-usage/object_dependencies)
        has one row per dependency of a referencing object (a view) on a referenced one (a table or
        view), named by database, schema and object name, with their domains and object ids. Its
        latency is up to three hours: a view created or replaced since has no rows of its own yet,
        and its definition is parsed instead (:func:`~.mapping.view_lineage`). Reading it needs the
        SNOWFLAKE database role OBJECT_VIEWER or IMPORTED PRIVILEGES on the SNOWFLAKE database
        (https://docs.snowflake.com/en/sql-reference/snowflake-db-roles). Optional: a failure is
        logged once and every view's definition is parsed.
        """
        if not self.include_lineage or self._deps_unavailable:
            return None
        if all(not sel.include_views or sel.asks_nothing for sel in selections.values()):
            return None
        named = [sel.bindable_names(self.max_bound_names) for sel in selections.values()]
        names = None if any(n is None for n in named) else sorted({n for group in named for n in group or ()})
        schemas, params = _in_list("s", unit.schemas)
        sql = (
            "SELECT REFERENCING_SCHEMA, REFERENCING_OBJECT_NAME, REFERENCING_OBJECT_ID, REFERENCED_DATABASE, "
            f"REFERENCED_SCHEMA, REFERENCED_OBJECT_NAME FROM {self.account_usage}.OBJECT_DEPENDENCIES "
            f"WHERE REFERENCING_DATABASE = %(database)s AND REFERENCING_SCHEMA IN ({schemas}) "
            "AND REFERENCING_OBJECT_DOMAIN IN ('VIEW', 'MATERIALIZED VIEW') "
            "AND (REFERENCED_OBJECT_DOMAIN LIKE '%%TABLE' OR REFERENCED_OBJECT_DOMAIN LIKE '%%VIEW')"
        )
        query_params: dict[str, Any] = {"database": unit.database, **params}
        if names:
            view_list, view_params = _in_list("t", names)
            sql += f" AND REFERENCING_OBJECT_NAME IN ({view_list})"
            query_params.update(view_params)
        try:
            rows = self._run(sql, query_params)
        except Exception as e:  # noqa: BLE001 - dependencies are optional: logged, parsed instead
            self._deps_unavailable = _reason(e)
            log.warning("View lineage comes from parsing view definitions: %s.OBJECT_DEPENDENCIES cannot be read "
                        "(%s). Grant the role the SNOWFLAKE database role OBJECT_VIEWER (or IMPORTED "
                        "PRIVILEGES on the SNOWFLAKE database) for exact dependencies, or set include_lineage=False.",
                        self.account_usage, self._deps_unavailable)
            return None
        return dependencies_from_rows(unit.database, rows)

    def _schema_row(self, database: str, schema: str) -> Row:
        rows = self._run(
            f"SELECT SCHEMA_NAME, COMMENT FROM {quote_ident(database)}.INFORMATION_SCHEMA.SCHEMATA "
            "WHERE SCHEMA_NAME = %(schema)s",
            {"schema": schema},
        )
        if not rows:
            raise SourceError(database, schema, "the schema does not exist or the role cannot see it",
                              retryable=False)
        return rows[0]

    def _relations(
        self, database: str, schema: str, names: Sequence[str] | None, include_views: bool
    ) -> dict[str, Relation]:
        where = f"{quote_ident(database)}.INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = %(schema)s"

        def run(batch: Sequence[str] | None) -> list[Row]:
            if batch is None:
                return self._run(f"SELECT * FROM {where}", {"schema": schema})
            placeholders, params = _in_list("t", batch)
            return self._run(f"SELECT * FROM {where} AND TABLE_NAME IN ({placeholders})",
                             {"schema": schema, **params})

        table_rows = query_split_by_names(run, lambda: self._object_names(database, schema), names)
        in_schema = f"IN SCHEMA {quote_ident(database)}.{quote_ident(schema)}"
        view_rows = self._show(f"SHOW VIEWS {in_schema}") if include_views else []
        if names is not None:
            wanted = set(names)
            view_rows = [r for r in view_rows if r["name"] in wanted]
        has_dynamic = any(str(r.get("IS_DYNAMIC") or "").upper() in ("YES", "Y") for r in table_rows)
        has_external = any(str(r.get("TABLE_TYPE") or "").upper() == "EXTERNAL TABLE" for r in table_rows)
        relations = relations_from_rows(
            table_rows,
            view_rows,
            dynamic_rows=self._optional_show(f"SHOW DYNAMIC TABLES {in_schema}") if has_dynamic else (),
            external_rows=self._optional_show(f"SHOW EXTERNAL TABLES {in_schema}") if has_external else (),
        )
        if not include_views:
            relations = {n: r for n, r in relations.items() if not r.is_view}
        return relations

    def _optional_show(self, command: str) -> list[Row]:
        """Run an optional ``SHOW``; a failure leaves the facet blank (logged) instead of failing the schema."""
        try:
            return self._show(command)
        except Exception as e:  # noqa: BLE001 - an optional facet never fails the schema
            log.warning("%s failed (%s): the details it gives are left out.", command.split(" IN ")[0], _reason(e))
            return []

    def _columns(self, database: str, schema: str, names: Sequence[str] | None) -> dict[str, list[Row]]:
        select = (
            "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, DATA_TYPE, "
            "CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, COMMENT "
            f"FROM {quote_ident(database)}.INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = %(schema)s"
        )
        order = " ORDER BY TABLE_NAME, ORDINAL_POSITION"

        def run(batch: Sequence[str] | None) -> list[Row]:
            if batch is None:
                return self._run(select + order, {"schema": schema})
            placeholders, params = _in_list("t", batch)
            return self._run(f"{select} AND TABLE_NAME IN ({placeholders}){order}", {"schema": schema, **params})

        out: dict[str, list[Row]] = defaultdict(list)
        for row in query_split_by_names(run, lambda: self._object_names(database, schema), names):
            out[row["TABLE_NAME"]].append(row)
        return out

    def _constraints(self, database: str, schema: str, kept: dict[str, Relation]) -> dict[str, list[Any]]:
        if not self.include_constraints or all(r.is_view for r in kept.values()):
            return {}
        in_schema = f"IN SCHEMA {quote_ident(database)}.{quote_ident(schema)}"
        return constraints_from_show(
            self._run(f"SHOW PRIMARY KEYS {in_schema}"),
            self._run(f"SHOW UNIQUE KEYS {in_schema}"),
            self._run(f"SHOW IMPORTED KEYS {in_schema}"),
        )

    def _tags_for(self, unit: WorkUnit) -> dict[tuple[str, str], TagIndex]:
        """Return the tags of the unit's schemas, read in one ``TAG_REFERENCES`` query per unit.

        ``TAG_REFERENCES`` is granted to the SNOWFLAKE database role GOVERNANCE_VIEWER, not to
        OBJECT_VIEWER (SNOWFLAKE database roles: https://docs.snowflake.com/en/sql-reference/snowflake-db-roles).
        """
        if not self.include_tags or self._tags_unavailable:
            return {}
        scope = (unit.database, tuple(unit.schemas))
        if self._tags is not None and self._tags_scope == scope:
            return self._tags
        placeholders, params = _in_list("s", unit.schemas)
        sql = (
            "SELECT TAG_NAME, TAG_VALUE, OBJECT_DATABASE, OBJECT_SCHEMA, OBJECT_NAME, COLUMN_NAME, DOMAIN "
            f"FROM {self.account_usage}.TAG_REFERENCES "
            "WHERE OBJECT_DATABASE = %(database)s AND OBJECT_DELETED IS NULL "
            f"AND (OBJECT_SCHEMA IN ({placeholders}) OR (DOMAIN = 'SCHEMA' AND OBJECT_NAME IN ({placeholders})))"
        )
        try:
            rows = self._run(sql, {"database": unit.database, **params})
        except Exception as e:  # noqa: BLE001 - tags are optional: logged, left out
            self._tags_unavailable = _reason(e)
            log.warning("Tags are left out: %s.TAG_REFERENCES cannot be read (%s). Grant the role the SNOWFLAKE "
                        "database role GOVERNANCE_VIEWER (OBJECT_VIEWER does not cover TAG_REFERENCES) or IMPORTED "
                        "PRIVILEGES on database SNOWFLAKE, or set include_tags=False.",
                        self.account_usage, self._tags_unavailable)
            return {}
        self._tags, self._tags_scope = tag_index(rows), scope
        return self._tags

    def _object_ids_for(
        self, unit: WorkUnit, selections: Mapping[str, TableSelection]
    ) -> dict[tuple[str, str], dict[str, str]]:
        """Return (database, schema) -> table -> ``TABLE_ID``, in one ``ACCOUNT_USAGE.TABLES`` query per unit.

        ``INFORMATION_SCHEMA`` has no table id; ``ACCOUNT_USAGE.TABLES`` keeps one row per
        ``TABLE_ID`` with the table's current name (TABLES view:
        https://docs.snowflake.com/en/sql-reference/account-usage/tables). It lags up to 90 minutes: a
        table created or renamed since has no id yet and gets it the next time it is read. Ids are
        optional: a failure is logged and they are left out.
        """
        if not self.include_object_ids or self._ids_unavailable:
            return {}
        schemas, schema_params = _in_list("s", unit.schemas)
        named = [sel.bindable_names(self.max_bound_names) for sel in selections.values()]
        names = None if any(n is None for n in named) else sorted({n for group in named for n in group or ()})
        if names == []:
            return {}
        sql = (
            f"SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ID, CREATED FROM {self.account_usage}.TABLES "
            f"WHERE TABLE_CATALOG = %(database)s AND DELETED IS NULL AND TABLE_SCHEMA IN ({schemas})"
        )
        params: dict[str, Any] = {"database": unit.database, **schema_params}
        if names is not None:
            table_list, table_params = _in_list("t", names)
            sql += f" AND TABLE_NAME IN ({table_list})"
            params.update(table_params)
        try:
            rows = self._run(sql, params)
        except Exception as e:  # noqa: BLE001 - object ids are optional: logged, left out
            self._ids_unavailable = _reason(e)
            log.warning("Table ids are left out (moves between schemas are then found by full runs only): "
                        "%s.TABLES cannot be read (%s). Grant the role the SNOWFLAKE database role OBJECT_VIEWER, "
                        "or set include_object_ids=False.", self.account_usage, self._ids_unavailable)
            return {}
        return object_ids_from_rows(unit.database, rows)

    # ------------------------------------------------------------------ incremental

    def changes_since(self, since: datetime, databases: list[str]) -> ChangeSet:
        """Return what changed since ``since`` in one ``ACCOUNT_USAGE`` query for every database.

        Names re-created in the window (``CREATE OR REPLACE``, drop and create) are changed,
        never dropped. ACCOUNT_USAGE lags up to :data:`ACCOUNT_USAGE_LATENCY`: a change made
        less than that before the run may only show in the next run, which the safety margin
        (at least 3 hours) covers.

        :param since: lower bound (watermark minus safety margin).
        :param databases: databases to report on.
        :raises IncrementalUnsupported: when the account usage views cannot be read (grants)
            or ``since`` is older than their one-year retention.
        """
        since = as_utc(since)
        if datetime.now(timezone.utc) - since > ACCOUNT_USAGE_RETENTION - timedelta(days=1):
            raise IncrementalUnsupported(self.kind, f"{since.isoformat()} is beyond the one-year history "
                                         f"of {self.account_usage}")
        rows = self._change_rows(since, databases)
        clock = next((r["AT"] for r in rows if r["KIND"] == "CLOCK"), None)
        resolved = resolve_changes(r for r in rows if r["KIND"] != "CLOCK")
        notes = [(
            f"{self.account_usage} lags up to {ACCOUNT_USAGE_LATENCY}; changes in the last hours may "
            "only be reported by the next run (keep the safety margin at least 3 hours)."
        )]
        created_schemas = list(resolved.created_schemas)
        if self.rescan_altered_schemas and resolved.altered_before_window:
            rescan = sorted({(r.database, r.schema_name) for r in resolved.altered_before_window})
            created_schemas.extend(s for s in rescan if s not in created_schemas)
            notes.append(
                f"{len(resolved.altered_before_window)} existing tables were altered or renamed; schemas "
                f"{', '.join('.'.join(s) for s in rescan)} are extracted whole so that renamed-away names are deleted."
            )
        log.info("%s: %d changed, %d dropped tables since %s.", self.account_usage,
                 len(resolved.changed), len(resolved.dropped), since.isoformat())
        return ChangeSet(
            method=f"{self.account_usage}.TABLES",
            since=since,
            until=as_utc(clock) if isinstance(clock, datetime) else self.now(),
            changed=resolved.changed,
            dropped=resolved.dropped,
            created_schemas=created_schemas,
            dropped_schemas=resolved.dropped_schemas,
            object_ids=resolved.object_ids,
            notes=notes,
        )

    def _change_rows(self, since: datetime, databases: list[str]) -> list[Row]:
        clock = ("SELECT 'CLOCK' AS KIND, NULL AS TABLE_CATALOG, NULL AS TABLE_SCHEMA, NULL AS TABLE_NAME, "
                 "NULL AS TABLE_TYPE, NULL AS IS_DELETED, NULL AS CREATED_BEFORE, NULL AS TABLE_ID, NULL AS CREATED, "
                 "CURRENT_TIMESTAMP() AS AT")
        params: dict[str, Any] = {"since": since}
        sql = clock
        if databases:
            placeholders, names = _in_list("d", databases)
            params.update(names)
            au = self.account_usage
            sql = f"""
            SELECT 'TABLE' AS KIND, TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE,
                   DELETED IS NOT NULL AS IS_DELETED, CREATED < %(since)s AS CREATED_BEFORE, TABLE_ID, CREATED,
                   NULL AS AT
            FROM {au}.TABLES
            WHERE TABLE_CATALOG IN ({placeholders}) AND (LAST_DDL >= %(since)s OR DELETED >= %(since)s)
            UNION ALL
            SELECT 'SCHEMA', CATALOG_NAME, SCHEMA_NAME, NULL, NULL,
                   DELETED IS NOT NULL, CREATED < %(since)s, NULL, NULL, NULL
            FROM {au}.SCHEMATA
            WHERE CATALOG_NAME IN ({placeholders}) AND (CREATED >= %(since)s OR DELETED >= %(since)s)
            UNION ALL
            {clock}
            """
        try:
            return self._run(sql, params)
        except (MissingDependency, ConfigError):
            raise
        except Exception as e:
            if _is_sql_error(e):
                raise IncrementalUnsupported(
                    self.kind,
                    f"{self.account_usage}.TABLES/SCHEMATA cannot be read ({_reason(e)}); grant the role the "
                    "SNOWFLAKE database role OBJECT_VIEWER (or IMPORTED PRIVILEGES on database SNOWFLAKE), or "
                    "point account_usage at a copy it can read",
                ) from e
            raise self.source_error(", ".join(databases) or self.config.account, None, e) from e

    # ------------------------------------------------------------------ errors

    def is_transient(self, error: BaseException) -> bool:
        """Return whether a retry can help: by Snowflake's SQLSTATE and error number.

        Terminal: the SQLSTATE classes of a refused statement (``42``: object does not exist or
        not authorized, insufficient privileges, syntax; ``28``: authentication) and the login
        errors below. Everything else (network, statement timeout 000630, canceled 000604,
        warehouse suspended or busy) is transient.
        """
        errno = getattr(error, "errno", None)
        if errno in _TERMINAL_ERRNOS:
            return False
        sqlstate = getattr(error, "sqlstate", None)
        if sqlstate:
            return is_transient_sqlstate(sqlstate)
        return True

    def describe_error(self, error: BaseException) -> str:
        """Return the first line of the connector's message and the error number."""
        return _reason(error)


# ------------------------------------------------------------------------------------ internals

#: Snowflake error numbers a retry cannot fix: object does not exist or not authorized (2003, 2043),
#: insufficient privileges (3001), and login refused (390100 incorrect user or password, 390144 JWT
#: invalid, 390201 role not granted or warehouse not usable, 390422 network policy).
_TERMINAL_ERRNOS = frozenset({2003, 2043, 3001, 390100, 390144, 390201, 390422})


def _is_sql_error(error: BaseException) -> bool:
    """Return whether Snowflake refused the statement (missing object or privilege), not the network."""
    try:
        from snowflake.connector.errors import ProgrammingError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, ProgrammingError)


def _reason(error: BaseException) -> str:
    """Return a one-line reason for an error, without the connector's multi-line context."""
    text = getattr(error, "raw_msg", None) or str(error)
    errno = getattr(error, "errno", None)
    first = str(text).strip().splitlines()[0] if str(text).strip() else type(error).__name__
    return f"{first} (Snowflake error {errno})" if errno else first


