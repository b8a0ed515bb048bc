"""Ingest a Snowflake account into the omingest catalog; see docs/snowflake.md.

Needs ``pip install 'airflow-provider-omingest[snowflake]'``, a ``snowflake`` connection
``snowflake_default`` (the one the official provider uses), a catalog connection and the pool
``snowflake`` (``omingest pools`` creates it).
"""

from airflow_provider_omingest import build_ingestion_dag

dag = build_ingestion_dag(
    "omingest_snowflake",
    source_conn_id="snowflake_default",
    catalog_conn_id="omingest_catalog",
    service="snowflake",
    filters={"database": {"exclude": ["^SNOWFLAKE_SAMPLE_DATA$"]}, "schema": {"exclude": ["^TMP_"]}},
    threads=4,
    pool="snowflake",  # caps connections to the warehouse across DAGs: create it with `omingest pools`
    schedule="@daily",
)
