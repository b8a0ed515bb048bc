from airflow_provider_omingest import build_ingestion_dag

dag = build_ingestion_dag(
    "ingest_warehouse",
    source_conn_id="warehouse",            # an existing postgres/snowflake/redshift/... connection
    catalog_conn_id="omingest_catalog",    # where the catalog lives (postgres, sqlite or openmetadata)
    service="warehouse",
    filters={"schema": {"exclude": ["^tmp_"]}, "table": {"exclude": ["_bak$"]}},
    threads=4,
    pool="warehouse",                      # optional: caps connections across DAGs (`omingest pools`)
    schedule="@daily",
)
