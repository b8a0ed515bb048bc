"""Lineage between tables: which tables a view reads, and which columns feed which.

A view's upstreams travel inside its :class:`~airflow_provider_omingest.models.entities.Table`
(``upstreams``), so they are versioned with the view. A catalog answers
:meth:`~airflow_provider_omingest.catalog.base.Catalog.lineage` with edges between fully qualified
names as it stores them (``service.database.schema.table``).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["ColumnLineage", "LineageEdge", "TableLineage"]


class ColumnLineage(BaseModel):
    """Columns of the upstream table that feed one column of the downstream table (names, not FQNs)."""

    upstream_columns: list[str]
    downstream_column: str


class LineageEdge(BaseModel):
    """``upstream`` feeds ``downstream`` (both table FQNs as the catalog uses them)."""

    upstream: str
    downstream: str
    columns: list[ColumnLineage] = Field(default_factory=list)


class TableLineage(BaseModel):
    """The edges that end at ``fqn`` (``upstream``) and those that start from it (``downstream``)."""

    fqn: str
    upstream: list[LineageEdge] = Field(default_factory=list)
    downstream: list[LineageEdge] = Field(default_factory=list)
