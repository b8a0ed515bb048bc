"""What crosses stage boundaries: snapshots, work units, unit results.

Everything here is small and JSON-serialisable except :class:`SchemaSnapshot`, which holds
whole tables and is passed between tasks by reference (see ``snapshot_store``).
"""

from __future__ import annotations

import zlib

from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_omingest.models.entities import DatabaseSchema, Table
from airflow_provider_omingest.models.run import Mode

__all__ = [
    "CHANGED_NAMES_LIMIT",
    "Mode",
    "SchemaSnapshot",
    "TableSlice",
    "UnitResult",
    "WorkUnit",
]


#: At most this many table names per kind of change (created, updated, deleted) travel in a unit's
#: result and in a run's Asset event; the counts are always complete.
CHANGED_NAMES_LIMIT = 100


class TableSlice(BaseModel):
    """Part ``index`` of ``count`` of a schema's tables, chosen by a stable hash of the name.

    Lets one huge schema be split over several work units without passing table names
    through XCom.
    """

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=0)
    count: int = Field(ge=1)

    def contains(self, table_name: str) -> bool:
        """Return whether ``table_name`` falls in this slice."""
        return zlib.crc32(table_name.encode("utf-8")) % self.count == self.index


class SchemaSnapshot(BaseModel):
    """What the source reported for one schema (or one slice of it).

    ``complete`` is true when the snapshot covers every table in scope (a full extraction):
    only then may a table missing from it be treated as deleted. ``unreflectable`` names
    tables that exist but could not be read, with the reason; they are never deleted.
    """

    database: str
    schema_name: str
    schema_entity: DatabaseSchema | None = None
    tables: list[Table] = Field(default_factory=list)
    complete: bool = True
    table_slice: TableSlice | None = None
    unreflectable: dict[str, str] = Field(default_factory=dict)


class WorkUnit(BaseModel):
    """What one mapped task instance does: some schemas of one database, or a slice of one."""

    model_config = ConfigDict(frozen=True)

    unit_id: str
    database: str
    schemas: tuple[str, ...]
    mode: Mode = "full"
    table_slice: TableSlice | None = None
    only_tables: dict[str, tuple[str, ...]] | None = Field(
        default=None, description="Incremental: schema -> the changed tables to fetch."
    )
    estimated_tables: int = 0


class UnitResult(BaseModel):
    """Outcome of the update stage for one unit: counts and delete candidates."""

    unit_id: str
    database: str
    schemas: tuple[str, ...]
    created: dict[str, int] = Field(default_factory=dict, description="Per schema.")
    updated: dict[str, int] = Field(default_factory=dict)
    unchanged: dict[str, int] = Field(default_factory=dict)
    unreflectable: dict[str, int] = Field(default_factory=dict)
    lineage_unparsed: dict[str, int] = Field(
        default_factory=dict, description="Per schema: views read whose definition did not parse (no lineage)."
    )
    delete_candidates: list[str] = Field(
        default_factory=list, description="Fully qualified names of tables that vanished."
    )
    changed_tables: dict[str, list[str]] = Field(
        default_factory=dict,
        description=f"'created' / 'updated' -> the first {CHANGED_NAMES_LIMIT} fully qualified names of each.",
    )
    scope_size: int = Field(0, description="Live catalog tables in this unit's scope before the update.")
    fetched: int = Field(0, description="Tables read from the source for this unit.")
    dry_run: bool = False
