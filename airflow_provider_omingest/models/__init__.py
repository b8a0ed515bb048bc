"""Pydantic entities, fully qualified names and fingerprints."""

from __future__ import annotations

from airflow_provider_omingest.models.entities import (
    Column,
    ColumnUpstream,
    ConstraintType,
    Database,
    DatabaseSchema,
    Table,
    TableConstraint,
    TableType,
    TableUpstream,
    fingerprint_of,
    table_fqn,
)
from airflow_provider_omingest.models.fqn import build_fqn, quote_part, split_fqn
from airflow_provider_omingest.models.lineage import ColumnLineage, LineageEdge, TableLineage
from airflow_provider_omingest.models.units import Mode, SchemaSnapshot, TableSlice, UnitResult, WorkUnit

__all__ = [
    "Column",
    "ColumnLineage",
    "ColumnUpstream",
    "ConstraintType",
    "Database",
    "DatabaseSchema",
    "LineageEdge",
    "Mode",
    "SchemaSnapshot",
    "Table",
    "TableConstraint",
    "TableLineage",
    "TableSlice",
    "TableType",
    "TableUpstream",
    "UnitResult",
    "WorkUnit",
    "build_fqn",
    "fingerprint_of",
    "quote_part",
    "split_fqn",
    "table_fqn",
]
