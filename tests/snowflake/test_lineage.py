"""Snowflake view lineage: ``ACCOUNT_USAGE.OBJECT_DEPENDENCIES`` once per unit, parsing for views it lags on.

Through the real Snowflake connector against fakesnow, with ``TABLES`` and ``OBJECT_DEPENDENCIES``
kept by :mod:`tests.snowflake.account_usage` as Snowflake documents them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from airflow_provider_omingest.config import Filters, IngestionSettings
from airflow_provider_omingest.engine.runner import run_ingestion
from airflow_provider_omingest.models.entities import ColumnUpstream, Table, TableType
from airflow_provider_omingest.models.run import RunRequest
from airflow_provider_omingest.models.units import WorkUnit
from airflow_provider_omingest.sources.snowflake.mapping import dependencies_from_rows, view_lineage
from tests.snowflake.account_usage import AccountUsageTables, ObjectDependencies


@pytest.fixture
def shop(admin):
    """Tables in two schemas and a view joining them, its dependencies caught up."""
    db = admin.database("lineage")
    tables = AccountUsageTables(admin)
    deps = ObjectDependencies(tables)
    for schema in ("CORE", "CRM"):
        admin.sql(f'create schema "{db}".{schema}')
    tables.create_table(db, "CORE", "ORDERS", "ID int, CUSTOMER_ID int, AMOUNT float")
    tables.create_table(db, "CRM", "CUSTOMERS", "ID int, NAME varchar")
    deps.create_view(db, "CORE", "ORDER_NAMES",
                     f'select o.ID, c.NAME from "{db}".CORE.ORDERS o join "{db}".CRM.CUSTOMERS c on c.ID = o.CUSTOMER_ID',
                     [(db, "CORE", "ORDERS"), (db, "CRM", "CUSTOMERS")])
    deps.create_view(db, "CRM", "NAMES", f'select NAME from "{db}".CRM.CUSTOMERS', [(db, "CRM", "CUSTOMERS")])
    deps.catch_up()
    return db, tables, deps


def _views(source, db: str, *schemas: str, **unit) -> dict[str, Table]:
    snaps = source.extract(WorkUnit(unit_id="u", database=db, schemas=schemas, **unit), Filters())
    return {f"{s.schema_name}.{t.name}": t for s in snaps for t in s.tables if t.table_type is TableType.VIEW}


def _counting(source) -> list[str]:
    """Record the statements ``source`` sends."""
    sent: list[str] = []
    run = source._run

    def spy(sql, params=None):
        sent.append(sql)
        return run(sql, params)

    source._run = spy
    return sent


def test_dependencies_are_read_once_per_unit_and_give_each_view_its_tables(shop, make_source):
    db, _, _ = shop
    source = make_source(include_tags=False)
    sent = _counting(source)
    views = _views(source, db, "CORE", "CRM")
    assert sum("OBJECT_DEPENDENCIES" in s for s in sent) == 1  # one query for two schemas and two views
    order_names = views["CORE.ORDER_NAMES"]
    assert [u.table for u in order_names.upstreams] == [f"{db}.CORE.ORDERS", f"{db}.CRM.CUSTOMERS"]
    assert order_names.lineage_unparsed is None
    # Column lineage, which OBJECT_DEPENDENCIES does not give, comes from the definition.
    assert {u.table: u.columns for u in order_names.upstreams} == {
        f"{db}.CORE.ORDERS": (ColumnUpstream(downstream_column="ID", upstream_columns=("ID",)),),
        f"{db}.CRM.CUSTOMERS": (ColumnUpstream(downstream_column="NAME", upstream_columns=("NAME",)),),
    }
    assert [u.table for u in views["CRM.NAMES"].upstreams] == [f"{db}.CRM.CUSTOMERS"]


def test_an_incremental_unit_asks_for_its_named_views_only(shop, make_source):
    db, _, _ = shop
    source = make_source(include_tags=False)
    sent = _counting(source)
    views = _views(source, db, "CORE", "CRM", only_tables={"CORE": ("ORDER_NAMES",)})
    (query,) = [s for s in sent if "OBJECT_DEPENDENCIES" in s]
    assert "REFERENCING_OBJECT_NAME IN" in query
    assert list(views) == ["CORE.ORDER_NAMES"] and len(views["CORE.ORDER_NAMES"].upstreams) == 2


def test_a_view_too_new_for_object_dependencies_is_parsed(shop, make_source):
    db, _, deps = shop
    # Created after the last catch-up: ACCOUNT_USAGE has no rows for it yet (latency up to 3 hours).
    deps.create_view(db, "CRM", "BIG_SPENDERS",
                     f'select c.NAME, o.AMOUNT from "{db}".CRM.CUSTOMERS c join "{db}".CORE.ORDERS o on o.CUSTOMER_ID = c.ID',
                     [(db, "CRM", "CUSTOMERS"), (db, "CORE", "ORDERS")])
    views = _views(make_source(include_tags=False), db, "CRM")
    fresh = views["CRM.BIG_SPENDERS"]
    assert sorted(u.table for u in fresh.upstreams) == [f"{db}.CORE.ORDERS", f"{db}.CRM.CUSTOMERS"]
    assert fresh.lineage_unparsed is None


def test_a_replaced_view_is_not_given_the_tables_of_its_former_incarnation(shop, make_source):
    db, tables, deps = shop
    tables.create_table(db, "CRM", "PROSPECTS", "ID int, NAME varchar")
    # CREATE OR REPLACE: a new object id; OBJECT_DEPENDENCIES still has the old view's rows only.
    deps.create_view(db, "CRM", "NAMES", f'select NAME from "{db}".CRM.PROSPECTS', [(db, "CRM", "PROSPECTS")],
                     replace=True)
    views = _views(make_source(include_tags=False), db, "CRM")
    assert [u.table for u in views["CRM.NAMES"].upstreams] == [f"{db}.CRM.PROSPECTS"]
    deps.catch_up()  # three hours later, both incarnations' rows are there: the live one's count
    views = _views(make_source(include_tags=False), db, "CRM")
    assert [u.table for u in views["CRM.NAMES"].upstreams] == [f"{db}.CRM.PROSPECTS"]


def test_without_access_to_object_dependencies_every_view_is_parsed(shop, make_source, caplog):
    db, _, _ = shop
    source = make_source(include_tags=False, include_object_ids=False)
    run = source._run
    asked: list[str] = []

    def refuse(sql, params=None):
        if "OBJECT_DEPENDENCIES" in sql:
            asked.append(sql)
            raise RuntimeError("SQL access control error: Insufficient privileges to operate on view")
        return run(sql, params)

    source._run = refuse
    with caplog.at_level(logging.WARNING):
        first = _views(source, db, "CORE")
        second = _views(source, db, "CRM")
    assert [u.table for u in first["CORE.ORDER_NAMES"].upstreams] == [f"{db}.CORE.ORDERS", f"{db}.CRM.CUSTOMERS"]
    assert [u.table for u in second["CRM.NAMES"].upstreams] == [f"{db}.CRM.CUSTOMERS"]
    assert sum("OBJECT_VIEWER" in r.getMessage() for r in caplog.records) == 1  # said once
    assert len(asked) == 1  # not asked again after the refusal


def test_lineage_reaches_the_embedded_catalog(shop, make_source, tmp_path: Path):
    db, _, _ = shop
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    settings = IngestionSettings(service="snow", filters=Filters(database={"include": [f"^{db}$"]}), threads=1)
    result = run_ingestion(lambda: make_source(include_tags=False), catalog, settings,
                           RunRequest(run_id="full", requested_mode="full"))
    assert result.status == "success", result
    lineage = catalog.lineage(f"snow.{db}.CRM.CUSTOMERS")
    assert sorted(e.downstream for e in lineage.downstream) == [f"snow.{db}.CORE.ORDER_NAMES", f"snow.{db}.CRM.NAMES"]


# -- mapping (no server) ---------------------------------------------------------------------------


def _row(view_id, ref, schema="S", view="V"):
    return {"REFERENCING_SCHEMA": schema, "REFERENCING_OBJECT_NAME": view, "REFERENCING_OBJECT_ID": view_id,
            "REFERENCED_DATABASE": "D", "REFERENCED_SCHEMA": "S", "REFERENCED_OBJECT_NAME": ref}


def test_a_secure_view_without_a_visible_definition_gets_its_tables_from_object_dependencies():
    # A secure view's definition is shown to its owner's role only
    # (https://docs.snowflake.com/en/user-guide/views-secure): nothing to parse, the rows still say it.
    deps = dependencies_from_rows("D", [_row(7, "A"), _row(7, "B")])
    view = Table(name="V", table_type=TableType.SECURE_VIEW, object_id="7")
    assert [u.table for u in view_lineage(view, deps[("D", "S", "V")], "D", "S").upstreams] == ["D.S.A", "D.S.B"]
    assert view_lineage(view, None, "D", "S").upstreams == ()


def test_rows_of_several_incarnations_are_told_apart():
    deps = dependencies_from_rows("D", [_row(1, "OLD"), _row(2, "NEW")])[("D", "S", "V")]
    view = Table(name="V", table_type=TableType.VIEW, view_definition="select * from PARSED")
    assert [u.table for u in view_lineage(view.model_copy(update={"object_id": "2"}), deps, "D", "S").upstreams] \
        == ["D.S.NEW"]
    # The view's id unknown and two incarnations' rows: which is live is not known, the definition says.
    assert [u.table for u in view_lineage(view, deps, "D", "S").upstreams] == ["D.S.PARSED"]
