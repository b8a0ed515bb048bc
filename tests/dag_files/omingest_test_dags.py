"""DAGs the end-to-end tests run with ``dag.test()``; each test uses its own DAG id.

Connections ``wh`` (DuckDB demo warehouse), ``faulty_wh`` (the same, failing on chosen
schemas) and ``cat`` (SQLite catalog) are set per test through AIRFLOW_CONN_* variables.
"""

from airflow_provider_omingest import build_ingestion_dag

for _name, _conn in [("changes", "wh"), ("faulty", "faulty_wh"), ("threshold", "wh"), ("dry_run", "wh"),
                     ("incremental", "wh"), ("failed_incremental", "faulty_wh")]:
    globals()[f"dag_{_name}"] = build_ingestion_dag(
        f"omingest_test_{_name}", source_conn_id=_conn, catalog_conn_id="cat", service="demo",
        threads=2, tables_per_unit=10, min_tables_per_unit=1, retries=0,
    )
