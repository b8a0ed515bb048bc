"""Sources: one package per warehouse (``redshift``, ``snowflake``, ``bigquery``) and the generic SQL
sources (``sql``). No Airflow imports.
"""

from __future__ import annotations

from airflow_provider_omingest.sources.base import Source

__all__ = ["Source"]
