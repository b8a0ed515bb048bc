"""Ingest BigQuery projects into the catalog: full the first time, then changes from the audit logs.

Needs an Airflow ``google_cloud_platform`` connection ``omingest_bigquery`` (see docs/bigquery.md)
and the extra: ``pip install 'airflow-provider-omingest[bigquery]'``.
"""

from airflow_provider_omingest import build_ingestion_dag

dag = build_ingestion_dag(
    "omingest_bigquery",
    source_conn_id="omingest_bigquery",
    catalog_conn_id="omingest_catalog",
    service="bigquery",
    filters={"schema": {"exclude": ["^tmp_", "^scratch"]}},
    threads=4,
    pool="bigquery",  # caps connections to the warehouse across DAGs: create it with `omingest pools`
    schedule="@hourly",
    tags=["bigquery"],
)
