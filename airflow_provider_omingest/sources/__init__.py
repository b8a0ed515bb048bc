"""Sources: one module per warehouse (and a generic SQLAlchemy one). No Airflow imports."""

from __future__ import annotations

from airflow_provider_omingest.sources.base import Source

__all__ = ["Source"]
