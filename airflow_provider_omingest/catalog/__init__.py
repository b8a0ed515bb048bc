"""Catalogs: where metadata lives. No Airflow imports."""

from __future__ import annotations

from airflow_provider_omingest.catalog.base import Catalog, EntityWrite, HistoryEntry, RunRecord, StoredEntity

__all__ = ["Catalog", "EntityWrite", "HistoryEntry", "RunRecord", "StoredEntity"]
