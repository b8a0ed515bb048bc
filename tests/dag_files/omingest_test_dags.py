"""DAGs the end-to-end tests run with ``dag.test()``; each test uses its own DAG id.

Connections ``wh`` (DuckDB demo warehouse), ``faulty_wh`` (the same, failing on chosen
schemas) and ``cat`` (SQLite catalog) are set per test through AIRFLOW_CONN_* variables.
"""

from datetime import timedelta

from airflow_provider_omingest import build_ingestion_dag

for _name, _conn in [("changes", "wh"), ("faulty", "faulty_wh"), ("threshold", "wh"), ("dry_run", "wh"),
                     ("incremental", "wh"), ("failed_incremental", "faulty_wh"), ("assets", "wh")]:
    globals()[f"dag_{_name}"] = build_ingestion_dag(
        f"omingest_test_{_name}", source_conn_id=_conn, catalog_conn_id="cat", service="demo",
        threads=2, tables_per_unit=10, min_tables_per_unit=1, retries=0,
    )

# Configuration errors fail at once: these would be retried twice (1 s apart) if they were transient.
dag_missing_connection = build_ingestion_dag(
    "omingest_test_missing_connection", source_conn_id="no_such_connection", catalog_conn_id="cat",
    service="demo", retries=2, retry_delay=timedelta(seconds=1),
)
dag_missing_file = build_ingestion_dag(
    "omingest_test_missing_driver", source_conn_id="wh_unknown_type", catalog_conn_id="cat",
    service="demo", retries=2, retry_delay=timedelta(seconds=1),
)
