"""The source contract: one instance per warehouse connection, used by one task at a time.

Besides the contract, the rules every source follows live here once: the extract loop
(:meth:`Source.extract`, a template over :meth:`Source.read_schema`), a table that cannot be
read is recorded as unreflectable and the schema goes on (:meth:`Source.build_tables`), driver
failures become a :class:`~airflow_provider_omingest.exceptions.SourceError` that says whether a
retry can help (:meth:`Source.reading`), the source's clock is aware UTC (:func:`as_utc`), and
timeouts are validated the same way (:func:`timeout_seconds`).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_omingest.exceptions import (
    ConfigError,
    IncrementalUnsupported,
    MissingDependency,
    SourceError,
)
from airflow_provider_omingest.models.times import as_utc
from airflow_provider_omingest.models.units import SchemaSnapshot

if TYPE_CHECKING:
    from airflow_provider_omingest.config import Filters
    from airflow_provider_omingest.models.changes import ChangeSet
    from airflow_provider_omingest.models.entities import DatabaseSchema, Table
    from airflow_provider_omingest.models.units import TableSlice, WorkUnit

__all__ = ["SchemaRead", "Source", "TableSelection", "as_utc", "timeout_seconds", "unit_snapshot"]

log = logging.getLogger(__name__)

#: Errors that are ours, already carrying their context and their retry decision.
_OWN_ERRORS = (SourceError, MissingDependency, ConfigError, IncrementalUnsupported)


def timeout_seconds(setting: str, value: Any, default: float | None) -> float | None:
    """Return a timeout in seconds from a setting, ``default`` when it is unset; 0 means no limit.

    :param setting: the setting's name as the user wrote it (e.g. ``extra statement_timeout``).
    :param value: seconds, as a number or a string.
    :param default: the value when ``value`` is None or empty.
    :raises ConfigError: naming the setting and the value, when it is not a number of seconds >= 0.
    """
    if value is None or value == "":
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(setting, value, "expected a number of seconds (0 for no limit)") from None
    if not 0 <= seconds < float("inf"):  # also refuses NaN
        raise ConfigError(setting, value, "expected a number of seconds >= 0 (0 for no limit)")
    return seconds


@dataclass(frozen=True)
class TableSelection:
    """Which relations of one schema a work unit asks for: every source applies the same rule."""

    #: The only relations to keep (an incremental unit's named tables), or None for all.
    names: frozenset[str] | None
    table_slice: TableSlice | None
    filters: Filters
    include_views: bool = True

    @classmethod
    def of(cls, unit: WorkUnit, schema: str, filters: Filters, include_views: bool = True) -> TableSelection:
        """Return the selection of ``unit`` for ``schema``."""
        names = None if unit.only_tables is None else frozenset(unit.only_tables.get(schema, ()))
        return cls(names, unit.table_slice, filters, include_views)

    @property
    def asks_nothing(self) -> bool:
        """Return whether the unit names no table of this schema (nothing to read)."""
        return self.names is not None and not self.names

    def bindable_names(self, limit: int) -> list[str] | None:
        """Return the named relations to bind into a query, or None to read all and filter (over ``limit``)."""
        return sorted(self.names) if self.names is not None and len(self.names) <= limit else None

    def keeps(self, name: str, is_view: bool = False) -> bool:
        """Return whether the relation ``name`` is selected."""
        if is_view and not self.include_views:
            return False
        if self.names is not None and name not in self.names:
            return False
        if self.table_slice is not None and not self.table_slice.contains(name):
            return False
        return self.filters.keeps("table", name)


@dataclass
class SchemaRead:
    """What a source read of one schema: its entity, its tables, and the tables it could not read.

    ``unreflectable`` maps a table that exists but could not be read to the reason; such a
    table is kept as it is in the catalog, never deleted.
    """

    schema_entity: DatabaseSchema | None
    tables: list[Table] = field(default_factory=list)
    unreflectable: dict[str, str] = field(default_factory=dict)


def unit_snapshot(
    unit: WorkUnit,
    schema: str,
    schema_entity: DatabaseSchema | None,
    tables: list[Table],
    unreflectable: dict[str, str] | None = None,
) -> SchemaSnapshot:
    """Return the snapshot of one schema of ``unit`` (complete unless the unit named its tables)."""
    return SchemaSnapshot(
        database=unit.database,
        schema_name=schema,
        schema_entity=schema_entity,
        tables=tables,
        complete=unit.only_tables is None,
        table_slice=unit.table_slice,
        unreflectable=unreflectable or {},
    )


class Source(abc.ABC):
    """Read metadata from one warehouse over one connection.

    Listing methods are cheap (one query per database). :meth:`extract` reads whole schemas
    in bulk: the number of queries grows with the number of schemas, never with tables.
    A source is a context manager; leaving it closes its connection.

    A source implements :meth:`read_schema` (or :meth:`read_unit` to read several schemas in
    one go); :meth:`extract` is the same loop for all. Driver errors are classified by
    :meth:`is_transient` (override per driver).
    """

    #: Short name of the kind of source, shown in summaries ("postgresql", "snowflake", ...).
    kind: ClassVar[str] = "source"

    #: Safety margin used when the ingestion sets none: how late a change may show up in this
    #: source's change log, plus clock skew.
    default_safety_margin: ClassVar[timedelta] = timedelta(hours=1)

    #: Above this many table names, an incremental unit's names are not bound into the query:
    #: the schema is read whole and filtered in Python (override per source).
    max_bound_names: ClassVar[int] = 1000

    @abc.abstractmethod
    def now(self) -> datetime:
        """Return the source's clock (timezone-aware UTC)."""

    @abc.abstractmethod
    def list_databases(self) -> list[str]:
        """Return the names of the databases this connection can see."""

    @abc.abstractmethod
    def list_schemas(self, database: str) -> list[str]:
        """Return the schema names of ``database`` (system schemas excluded)."""

    @abc.abstractmethod
    def count_tables(self, database: str, schemas: list[str]) -> dict[str, int]:
        """Return the number of tables and views per schema, in one query per database."""

    # ------------------------------------------------------------------ extraction (template)

    def extract(self, unit: WorkUnit, filters: Filters, include_views: bool = True) -> Iterator[SchemaSnapshot]:
        """Yield one snapshot per schema of ``unit``.

        Tables filtered out by ``filters`` are left out; a full unit's snapshots are
        ``complete``. A table that cannot be read is listed as unreflectable and the schema
        goes on. A schema that cannot be read raises
        :class:`~airflow_provider_omingest.exceptions.SourceError`: never an empty snapshot.

        :param unit: the schemas (and optionally the slice or the tables) to read.
        :param filters: table filters; tables they reject are left out.
        :param include_views: whether to read views and materialized views.
        """
        selections = {s: TableSelection.of(unit, s, filters, include_views) for s in unit.schemas}
        for schema, read in self.read_unit(unit, selections):
            log.info("Read %d tables from %s.%s%s.", len(read.tables), unit.database, schema,
                     f" ({len(read.unreflectable)} could not be read)" if read.unreflectable else "")
            yield unit_snapshot(unit, schema, read.schema_entity, read.tables, read.unreflectable)

    def read_unit(self, unit: WorkUnit, selections: Mapping[str, TableSelection]) -> Iterator[tuple[str, SchemaRead]]:
        """Yield ``(schema, read)`` for each schema of ``unit``, in order.

        By default each schema is read by :meth:`read_schema`. Override to read a whole unit in
        fewer statements (PostgreSQL reads a unit in two).

        :param unit: the unit.
        :param selections: schema -> what to read of it.
        """
        for schema, selection in selections.items():
            with self.reading(unit.database, schema):
                read = self.read_schema(unit.database, schema, selection)
            yield schema, read

    def read_schema(self, database: str, schema: str, selection: TableSelection) -> SchemaRead:
        """Read one schema: its entity and the tables ``selection`` keeps.

        :param database: the database.
        :param schema: the schema.
        :param selection: which relations to keep (and, for an incremental unit, to read).
        :raises SourceError: when the schema does not exist or cannot be read.
        """
        raise NotImplementedError(f"{type(self).__qualname__} must implement read_schema or read_unit")

    def build_tables(
        self, database: str, schema: str, names: Iterable[str], build: Callable[[str], Table]
    ) -> tuple[list[Table], dict[str, str]]:
        """Build each table with ``build``; a table that fails goes to the unreflectable list.

        Partial failure is data: one table whose rows cannot be mapped (an odd type, a
        definition nobody expected) must not hide the others, nor be deleted from the catalog.

        :param database: the database (for the log).
        :param schema: the schema (for the log).
        :param names: the tables to build, in the order to return them.
        :param build: returns the table of one name.
        :return: the tables built, and name -> reason for those that could not be.
        """
        tables: list[Table] = []
        unreflectable: dict[str, str] = {}
        for name in names:
            try:
                tables.append(build(name))
            except Exception as e:  # noqa: BLE001 - one table that cannot be mapped must not hide the others
                unreflectable[name] = f"{type(e).__name__}: {e}"
                log.warning("Could not read %s.%s.%s (%s); it is kept as it is in the catalog.",
                            database, schema, name, unreflectable[name])
        return tables, unreflectable

    # ------------------------------------------------------------------ errors

    @contextmanager
    def reading(self, database: str, schema: str | None) -> Iterator[None]:
        """Turn a driver failure inside the block into a :class:`SourceError` for ``database``/``schema``.

        Our own errors (already classified) pass through unchanged.

        :param database: the database being read.
        :param schema: the schema being read, or None for a database-level read.
        """
        try:
            yield
        except _OWN_ERRORS:
            raise
        except Exception as e:
            raise self.source_error(database, schema, e) from e

    def source_error(self, database: str, schema: str | None, error: BaseException) -> SourceError:
        """Return the :class:`SourceError` for a driver failure, transient or terminal per :meth:`is_transient`."""
        return SourceError(database, schema, self.describe_error(error), retryable=self.is_transient(error))

    def describe_error(self, error: BaseException) -> str:
        """Return a one-line reason for a driver failure (no request details, no credentials)."""
        text = " ".join(str(error).split())
        return f"{type(error).__name__}: {text[:500]}" if text else type(error).__name__

    def is_transient(self, error: BaseException) -> bool:
        """Return whether a retry can help with ``error`` (override per driver; by default yes)."""
        return True

    # ------------------------------------------------------------------ incremental

    def changes_since(self, since: datetime, databases: list[str]) -> ChangeSet:
        """Return the tables changed and dropped since ``since``, in one query per account or database.

        Sources with a change log (audit views, DDL history, audit logs) implement this.
        Schema-level changes may be reported too; the engine also compares the schema listing
        with the catalog. Tables the change log names are fetched by name, so a table reported
        dropped that still exists is kept.

        :raises IncrementalUnsupported: with the reason, when changes cannot be read (missing
            grants, no history); the engine then runs a full extraction (mode ``auto``).
        """
        raise IncrementalUnsupported(self.kind, "this source has no change log")

    def table_digests(self, database: str, schemas: list[str]) -> dict[str, dict[str, str]]:
        """Return schema -> table -> a structural digest computed in the database.

        Sources without a change log but with a cheap way to hash each table's structure in
        the database implement this (one query per database or schema). The engine compares
        the digests with those stored in the catalog, fetches only tables whose digest
        changed, and treats tables missing from this listing as dropped. ``extract`` must set
        ``Table.source_digest`` to the same digest, read before the structure.

        :raises IncrementalUnsupported: when the dialect has no digest query.
        :raises SourceError: when the digests cannot be read; ``schema`` is set when the failure
            is known to concern one schema.
        """
        raise IncrementalUnsupported(self.kind, "this source cannot compute table digests")

    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> Source:  # noqa: PYI034 - Python 3.10 has no typing.Self
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
