"""The BigQuery ingestion DAG under ``dag.test()``: a full run, then an incremental run from the audit logs."""

from __future__ import annotations

import json

import pytest

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from tests.bigquery.standin import BigQueryStandin, StandinTable, field_
from tests.support.dag_runs import forget_watermark, load_dag, run_dag

pytestmark = pytest.mark.airflow

P = "proj-a"


def test_full_then_incremental_run_under_dag_test(standin: BigQueryStandin, airflow_db, tmp_path,
                                                  monkeypatch) -> None:
    standin.create_dataset(P, "sales")
    for name in ("orders", "temp_export", "staging"):
        standin.create_table(P, "sales", StandinTable(name, [field_("id")]))
    monkeypatch.setenv("AIRFLOW_CONN_BIGQUERY_WH", json.dumps({
        "conn_type": "google_cloud_platform",
        "extra": {"is_anonymous": True, "project": P, "api_endpoint": standin.url, "retry_deadline": 2,
                  "request_timeout": 5}}))
    catalog_path = tmp_path / "catalog.db"
    monkeypatch.setenv("AIRFLOW_CONN_CAT", json.dumps({"conn_type": "sqlite", "host": str(catalog_path)}))
    monkeypatch.setenv("AIRFLOW__OMINGEST__SNAPSHOT_PATH", f"file://{tmp_path}/snapshots")
    dag = load_dag("bigquery")
    forget_watermark(dag.dag_id)

    dr, first = run_dag(dag)  # auto: no run succeeded yet, so full
    assert dr.state == "success" and first["mode"] == "full", first
    catalog = SqlCatalog(f"sqlite:///{catalog_path}")
    assert len(catalog.list_tables("bigquery")) == 3

    standin.tick(5_000)
    standin.create_table(P, "sales", StandinTable("by_query", [field_("id")]), via="jobs.query")
    standin.expire_table(P, "sales", "temp_export")
    standin.alter_table(P, "sales", "orders", via="jobs.query", fields=[field_("id"), field_("note")])
    dr, second = run_dag(dag)
    assert dr.state == "success", second
    assert second["mode"] == "incremental" and second["change_method"].startswith("Cloud Logging")
    live = {t["name"] for t in catalog.list_tables("bigquery")}
    assert live == {"orders", "staging", "by_query"}
    orders = catalog.get("bigquery.proj-a.sales.orders")
    assert [c["name"] for c in orders["columns"]] == ["id", "note"]
    catalog.close()
