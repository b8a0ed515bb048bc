"""View lineage: PostgreSQL's dependency catalogs, and definitions parsed with sqlglot (DuckDB, SQLite)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.models.entities import ColumnUpstream, Table, TableType, TableUpstream
from airflow_provider_omingest.models.units import WorkUnit
from airflow_provider_omingest.sources.sql.source import SqlAlchemySource
from airflow_provider_omingest.sources.view_lineage import parse_upstreams, with_parsed_lineage


def _read(url: str, database: str, schemas: tuple[str, ...]) -> dict[str, Table]:
    with SqlAlchemySource(url) as source:
        unit = WorkUnit(unit_id="u", database=database, schemas=schemas)
        return {f"{s.schema_name}.{t.name}": t for s in source.extract(unit, Filters()) for t in s.tables}


def _tables(table: Table) -> list[str]:
    return sorted(u.table for u in table.upstreams)


# -- parsing ------------------------------------------------------------------------------------


def test_parse_resolves_unqualified_names_and_skips_ctes_and_functions() -> None:
    sql = """with recent as (select * from orders where ts > now() - interval 1 day)
             select r.id, c.name from recent r join crm.customers c on c.id = r.customer_id
             cross join generate_series(1, 3) g"""
    upstreams, error = parse_upstreams(sql, "duckdb", "wh", "sales")
    assert error is None
    assert sorted(u.table for u in upstreams) == ["wh.crm.customers", "wh.sales.orders"]


def test_parse_gives_column_lineage_of_a_plain_select() -> None:
    sql = "create view s.v as select o.id, o.a + o.b as total, c.name from s.orders o join s.customers c using (id)"
    upstreams, error = parse_upstreams(sql, "duckdb", "wh", "s", self_name="v")
    assert error is None
    assert {u.table: u.columns for u in upstreams} == {
        "wh.s.orders": (ColumnUpstream(downstream_column="id", upstream_columns=("id",)),
                        ColumnUpstream(downstream_column="total", upstream_columns=("a", "b"))),
        "wh.s.customers": (ColumnUpstream(downstream_column="name", upstream_columns=("name",)),),
    }


def test_parse_names_projects_in_bigquery() -> None:
    upstreams, error = parse_upstreams("select x from `other-proj.ds.t` join t2 using (x)", "bigquery", "proj", "ds")
    assert error is None
    assert sorted(u.table for u in upstreams) == ["other-proj.ds.t", "proj.ds.t2"]


def test_unparseable_definition_keeps_the_view_and_says_why() -> None:
    view = Table(name="v", table_type=TableType.VIEW, view_definition="select from where")
    parsed = with_parsed_lineage(view, "duckdb", "wh", "s")
    assert parsed.upstreams == () and parsed.lineage_unparsed and "line 1" in parsed.lineage_unparsed
    assert parsed.model_copy(update={"lineage_unparsed": None}) == view


def test_sqlglot_is_imported_only_when_a_view_is_parsed() -> None:
    code = ("import sys; import airflow_provider_omingest.sources.sql.source, airflow_provider_omingest.cli; "
            "print('sqlglot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"


# -- PostgreSQL: pg_depend / pg_rewrite -----------------------------------------------------------

PG_DDL = """
create schema sales;
create schema mart;
create table sales.orders (id bigint primary key, customer_id bigint, amount numeric);
create table sales.customers (id bigint primary key, name text);
create table sales.old_name (id bigint);
create view sales.big_orders as select id, amount from sales.orders where amount > 100;
create view mart.customer_totals as
    select c.name, sum(o.amount) as total
    from sales.customers c join sales.big_orders o on o.id = c.id group by c.name;
create materialized view mart.daily as select count(*) as n from sales.orders;
create view mart.renamed_reader as select id from sales.old_name;
alter table sales.old_name rename to new_name;
create view mart.constant as select 1 as one;
"""


def test_postgres_upstreams_come_from_the_dependency_catalogs(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(PG_DDL)
    engine.dispose()
    db = sa.engine.make_url(pg_url).database

    got = _read(pg_url, db, ("mart", "sales"))

    assert _tables(got["sales.big_orders"]) == [f"{db}.sales.orders"]
    # A view on a view reads the view; a materialized view has the same _RETURN rule.
    assert _tables(got["mart.customer_totals"]) == [f"{db}.sales.big_orders", f"{db}.sales.customers"]
    assert _tables(got["mart.daily"]) == [f"{db}.sales.orders"]
    # The dependency is on the relation's OID: a renamed table is found under its new name.
    assert _tables(got["mart.renamed_reader"]) == [f"{db}.sales.new_name"]
    assert got["mart.constant"].upstreams == () and got["mart.constant"].lineage_unparsed is None
    assert all(t.upstreams == () for t in got.values() if t.table_type is TableType.REGULAR)


# -- DuckDB and SQLite: parsed definitions ----------------------------------------------------------


def test_duckdb_views_are_parsed(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "lake.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema s; create schema m")
        conn.execute("create table s.orders (id integer, amount decimal(10, 2))")
        conn.execute("create view m.totals as select sum(o.amount) as total from s.orders o")
        conn.execute("create view m.on_view as select total from m.totals")

    got = _read(f"duckdb:///{path}", "lake", ("m", "s"))

    assert got["m.totals"].upstreams == (TableUpstream(table="lake.s.orders", columns=(
        ColumnUpstream(downstream_column="total", upstream_columns=("amount",)),)),)
    assert _tables(got["m.on_view"]) == ["lake.m.totals"]


def test_sqlite_views_are_parsed(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("create table orders (id integer, amount real)")
        conn.exec_driver_sql("create view big as select id from orders where amount > 100")
    engine.dispose()

    got = _read(f"sqlite:///{path}", "main", ("main",))

    assert _tables(got["main.big"]) == ["main.main.orders"]
