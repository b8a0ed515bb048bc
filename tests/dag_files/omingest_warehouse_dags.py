"""One DAG per warehouse stand-in, run with ``dag.test()`` by tests/<warehouse>/test_dag.py.

Connections ``snowflake_wh``, ``redshift_wh``, ``bigquery_wh`` (the stand-ins) and ``cat``
(a SQLite catalog) are set per test through AIRFLOW_CONN_* variables.
"""

from airflow_provider_omingest import build_ingestion_dag

for _warehouse in ("snowflake", "redshift", "bigquery"):
    globals()[f"dag_{_warehouse}"] = build_ingestion_dag(
        f"omingest_test_{_warehouse}", source_conn_id=f"{_warehouse}_wh", catalog_conn_id="cat",
        service=_warehouse, threads=2, retries=0, max_delete_fraction=0.5,
    )
