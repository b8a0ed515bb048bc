"""The source contract: one instance per warehouse connection, used by one task at a time."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from airflow_provider_omingest.exceptions import IncrementalUnsupported
from airflow_provider_omingest.models.units import SchemaSnapshot

if TYPE_CHECKING:
    from airflow_provider_omingest.config import Filters
    from airflow_provider_omingest.models.changes import ChangeSet
    from airflow_provider_omingest.models.entities import DatabaseSchema, Table
    from airflow_provider_omingest.models.units import TableSlice, WorkUnit

__all__ = ["Source", "TableSelection", "unit_snapshot"]


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
    """

    #: Short name of the kind of source, shown in summaries ("postgresql", "snowflake", ...).
    kind: ClassVar[str] = "source"

    #: Safety margin used when the ingestion sets none: how late a change may show up in this
    #: source's change log, plus clock skew.
    default_safety_margin: ClassVar[timedelta] = timedelta(hours=1)

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

    @abc.abstractmethod
    def extract(self, unit: WorkUnit, filters: Filters, include_views: bool = True) -> Iterator[SchemaSnapshot]:
        """Yield one snapshot per schema of ``unit``.

        Tables filtered out by ``filters`` are left out; a full unit's snapshots are
        ``complete``. A schema that cannot be read raises
        :class:`~airflow_provider_omingest.exceptions.SourceError`: never an empty snapshot.
        """

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
        """
        raise IncrementalUnsupported(self.kind, "this source cannot compute table digests")

    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
