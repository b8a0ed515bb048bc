"""Ingest an Amazon Redshift cluster into the omingest catalog; see docs/redshift.md.

Needs ``pip install 'airflow-provider-omingest[redshift]'``, a ``redshift`` connection
``redshift_default`` (the one the Amazon provider uses), a catalog connection and the pool
``redshift`` (``omingest pools`` creates it).
"""

from airflow_provider_omingest import build_ingestion_dag

dag = build_ingestion_dag(
    "omingest_redshift",
    source_conn_id="redshift_default",
    catalog_conn_id="omingest_catalog",
    service="redshift",
    filters={"schema": {"exclude": ["^pg_temp", "^tmp_"]}},
    threads=4,
    pool="redshift",  # caps connections to the warehouse across DAGs: create it with `omingest pools`
    schedule="@daily",
)
