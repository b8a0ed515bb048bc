"""Amazon Redshift: ``source`` (catalog views, connections), ``ddl`` (statement parser),
``mapping`` (rows to entities).

``redshift_connector`` is imported when a connection opens, never here.
"""

from __future__ import annotations

from airflow_provider_omingest.sources.redshift.source import RedshiftSource

__all__ = ["RedshiftSource"]
