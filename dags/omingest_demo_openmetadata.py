"""Demo: ingest the embedded DuckDB warehouse into an OpenMetadata server.

Needs the ``openmetadata`` connection (type ``openmetadata``: host = server URL, password =
a bot's JWT); see docs/openmetadata.md.
"""

from airflow_provider_omingest import build_ingestion_dag

dag = build_ingestion_dag(
    "omingest_demo_openmetadata",
    source_conn_id="omingest_demo_warehouse",
    catalog_conn_id="openmetadata",
    service="omingest_demo",
    threads=2,
    tables_per_unit=10,
    schedule="@daily",
    tags=["openmetadata"],
)
