"""The Snowflake ingestion DAG under ``dag.test()``: a full run, then an incremental run from ACCOUNT_USAGE."""

from __future__ import annotations

import json

import pytest

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from tests.snowflake.account_usage import AccountUsageTables
from tests.support.dag_runs import forget_watermark, load_dag, run_dag

pytestmark = pytest.mark.airflow


def test_full_then_incremental_run_under_dag_test(admin, fakesnow_kwargs, airflow_db, tmp_path, monkeypatch):
    db = admin.database("dagrun")
    au = AccountUsageTables(admin)
    for schema in ("S1", "S2"):
        admin.sql(f'create schema "{db}".{schema}')
    for name in ("ORDERS", "ITEMS", "MOVING"):
        au.create_table(db, "S1", name, "ID int")
    au.create_table(db, "S2", "PEOPLE", "ID int")
    monkeypatch.setenv("AIRFLOW_CONN_SNOWFLAKE_WH", json.dumps({
        "conn_type": "snowflake", "login": fakesnow_kwargs["user"], "password": fakesnow_kwargs["password"],
        "extra": {"account": fakesnow_kwargs["account"], "host": fakesnow_kwargs["host"],
                  "port": fakesnow_kwargs["port"], "protocol": "http", "omingest_include_tags": "false",
                  "session_parameters": dict(fakesnow_kwargs["session_parameters"]),
                  "network_timeout": fakesnow_kwargs["network_timeout"],
                  "omingest_exclude_databases": ["SNOWFLAKE"]}}))
    catalog_path = tmp_path / "catalog.db"
    monkeypatch.setenv("AIRFLOW_CONN_CAT", json.dumps({"conn_type": "sqlite", "host": str(catalog_path)}))
    monkeypatch.setenv("AIRFLOW__OMINGEST__SNAPSHOT_PATH", f"file://{tmp_path}/snapshots")
    dag = load_dag("snowflake")
    forget_watermark(dag.dag_id)

    dr, first = run_dag(dag)  # auto: no run succeeded yet, so full
    assert dr.state == "success" and first["mode"] == "full", first
    catalog = SqlCatalog(f"sqlite:///{catalog_path}")
    live = {t["fqn"] for t in catalog.list_tables("snowflake") if t["database"] == db}
    assert live == {f"snowflake.{db}.S1.ORDERS", f"snowflake.{db}.S1.ITEMS", f"snowflake.{db}.S1.MOVING",
                    f"snowflake.{db}.S2.PEOPLE"}

    au.create_table(db, "S2", "TEAMS", "ID int")
    au.drop(db, "S1", "ITEMS")
    au.rename(db, "S1", "MOVING", db, "S2", "MOVED")
    dr, second = run_dag(dag)
    assert dr.state == "success", second
    assert second["mode"] == "incremental" and second["change_method"] == "SNOWFLAKE.ACCOUNT_USAGE.TABLES"
    live = {t["fqn"] for t in catalog.list_tables("snowflake") if t["database"] == db}
    assert live == {f"snowflake.{db}.S1.ORDERS", f"snowflake.{db}.S2.PEOPLE", f"snowflake.{db}.S2.TEAMS",
                    f"snowflake.{db}.S2.MOVED"}
    assert catalog.history(f"snowflake.{db}.S2.MOVED")[0].changes == {"moved_from": f"snowflake.{db}.S1.MOVING"}
    catalog.close()
