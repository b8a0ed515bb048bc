"""The Redshift ingestion DAG under ``dag.test()``: a full run, then an incremental run from SYS_QUERY_HISTORY."""

from __future__ import annotations

import json

import pytest

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from tests.redshift.conftest import RedshiftDatabase
from tests.support.dag_runs import forget_watermark, load_dag, run_dag

pytestmark = pytest.mark.airflow


@pytest.mark.parametrize("serverless", [False, True], ids=["provisioned", "serverless"])
def test_full_then_incremental_run_under_dag_test(make_redshift_db, airflow_db, tmp_path, monkeypatch,
                                                  serverless: bool) -> None:
    rs_db: RedshiftDatabase = make_redshift_db(serverless=serverless)
    rs_db.sql("CREATE SCHEMA app", "CREATE TABLE app.orders (id int)", "CREATE TABLE app.items (id int)",
              "CREATE TABLE app.src (id int)")
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT_WH", json.dumps({
        "conn_type": "redshift", "host": "127.0.0.1", "port": rs_db.proxy.port, "schema": rs_db.name,
        "login": "postgres", "password": "unused", "extra": {"ssl": False}}))
    catalog_path = tmp_path / "catalog.db"
    monkeypatch.setenv("AIRFLOW_CONN_CAT", json.dumps({"conn_type": "sqlite", "host": str(catalog_path)}))
    monkeypatch.setenv("AIRFLOW__OMINGEST__SNAPSHOT_PATH", f"file://{tmp_path}/snapshots")
    dag = load_dag("redshift")
    forget_watermark(dag.dag_id)

    dr, first = run_dag(dag)  # auto: no run succeeded yet, so full
    assert dr.state == "success" and first["mode"] == "full", first
    catalog = SqlCatalog(f"sqlite:///{catalog_path}")

    columns = ", ".join(f"id + {i} AS column_number_{i:04d}" for i in range(250))
    rs_db.sql(f"CREATE TABLE app.model AS SELECT {columns} FROM app.src",  # longer than 4,000 characters
              "DROP TABLE app.items", "ALTER TABLE app.orders RENAME TO orders_v2")
    rs_db.record("CREATE TABLE #stage (id int)")
    rs_db.record("DROP TABLE #stage")
    dr, second = run_dag(dag)
    assert dr.state == "success", second
    assert second["mode"] == "incremental" and second["change_method"] == "SYS_QUERY_HISTORY + SYS_QUERY_TEXT"
    live = {t["fqn"] for t in catalog.list_tables("redshift")}
    app = f"redshift.{rs_db.name}.app"
    assert {f"{app}.model", f"{app}.orders_v2", f"{app}.src"} <= live
    assert not {f"{app}.items", f"{app}.orders"} & live
    catalog.close()
