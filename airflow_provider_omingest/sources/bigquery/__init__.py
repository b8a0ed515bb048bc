"""Google BigQuery: ``source`` (REST API reads), ``audit`` (Cloud Logging audit entries),
``mapping`` (rows to entities).

The Google clients are imported when first needed, never here.
"""

from __future__ import annotations

from airflow_provider_omingest.sources.bigquery.source import BigQuerySource

__all__ = ["BigQuerySource"]
