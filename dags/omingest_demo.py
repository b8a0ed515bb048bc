"""Demo: ingest the embedded DuckDB warehouse into the embedded SQLite catalog.

``omingest demo`` creates both and the connections below; see the README.
"""

from airflow_provider_omingest import build_ingestion_dag

dag = build_ingestion_dag(
    "omingest_demo",
    source_conn_id="omingest_demo_warehouse",
    catalog_conn_id="omingest_demo_catalog",
    service="demo",
    threads=2,
    tables_per_unit=10,
    schedule="@daily",
)
