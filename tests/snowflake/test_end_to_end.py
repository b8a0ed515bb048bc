"""The whole pipeline in-process (no Airflow): fakesnow → SnowflakeSource → embedded SQLite catalog."""

from __future__ import annotations

import itertools

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from airflow_provider_omingest.config import Filters, IngestionSettings
from airflow_provider_omingest.engine.runner import run_ingestion
from airflow_provider_omingest.models.run import RunRequest


def test_full_runs_create_then_leave_unchanged_then_delete(admin, make_source, tmp_path):
    db = admin.database("e2e")
    q = f'"{db}"'
    for schema in ("SALES", "HR"):
        admin.sql(f"create schema {q}.{schema}")
    admin.sql(f"create table {q}.SALES.ORDERS (ID int primary key, AMOUNT number(10,2)) comment='orders'")
    admin.sql(f"create table {q}.SALES.ITEMS (ID int, ORDER_ID int)")
    admin.sql(f"create view {q}.SALES.BIG as select * from {q}.SALES.ORDERS where AMOUNT > 10")
    admin.sql(f"create table {q}.HR.PEOPLE (ID int, NAME varchar(50))")
    admin.sql(f"create table {q}.HR.TEAMS (ID int)")

    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    settings = IngestionSettings(
        service="snow", filters=Filters(database={"include": [f"^{db}$"]}), threads=2, max_delete_fraction=0.5,
    )

    runs = itertools.count(1)

    def run():
        return run_ingestion(lambda: make_source(include_tags=False), catalog, settings,
                             RunRequest(run_id=f"full-{next(runs)}", requested_mode="full"))

    first = run()
    assert first.status == "success", first
    assert first.totals.get("created") == 5

    second = run()
    assert second.status == "success" and second.totals.get("unchanged") == 5
    assert not second.totals.get("created") and not second.totals.get("updated")

    admin.sql(f"drop table {q}.SALES.ITEMS")
    admin.sql(f"comment on table {q}.HR.PEOPLE is 'staff'")
    third = run()
    assert third.status == "success"
    assert third.totals.get("deleted") == 1 and third.totals.get("updated") == 1
