"""Redshift view lineage: ``pg_depend``/``pg_rewrite`` for views, parsing for late-binding views.

Against PostgreSQL with Redshift's system views stood in (``standins.sql``), where declaring a
late-binding view removes its dependency rows as Redshift never records them
(https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_VIEW.html, WITH NO SCHEMA BINDING).
"""

from __future__ import annotations

from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.models.entities import ColumnUpstream, Table
from airflow_provider_omingest.models.units import WorkUnit
from airflow_provider_omingest.sources.redshift.source import RedshiftSource
from tests.redshift.conftest import RedshiftDatabase

DDL = (
    "CREATE SCHEMA sales",
    "CREATE SCHEMA crm",
    "CREATE TABLE sales.orders (id int, customer_id int, amount numeric(12,2))",
    "CREATE TABLE crm.customers (id int, name varchar(100))",
    "CREATE TABLE public.fx (currency char(3), rate float)",
    ("CREATE VIEW sales.order_names AS SELECT o.id, c.name FROM sales.orders o "
     "JOIN crm.customers c ON c.id = o.customer_id"),
    # pg_get_viewdef leaves out the schema of a table the search path finds: "FROM fx" here, which a
    # parser would take for sales.fx. The dependency catalogs name public.fx.
    "CREATE VIEW sales.priced AS SELECT o.id, o.amount * f.rate AS eur FROM sales.orders o CROSS JOIN public.fx f",
    # Redshift shows a materialized view as a view, plus its internal table mv_tbl__<name>__0.
    "CREATE VIEW sales.totals AS SELECT customer_id, sum(amount) AS total FROM sales.orders GROUP BY 1",
    "CREATE TABLE sales.mv_tbl__totals__0 (customer_id int, total numeric(38,2))",
    "INSERT INTO omingest_standin.redshift_mvs VALUES ('sales', 'totals', 't', 'f')",
    # A late-binding view: no dependency rows; Redshift requires schema-qualified names in it.
    "CREATE VIEW sales.lbv AS SELECT o.id, c.name FROM sales.orders o JOIN crm.customers c ON c.id = o.customer_id",
    "INSERT INTO omingest_standin.late_binding_views VALUES ('sales', 'lbv')",
)


def _views(source: RedshiftSource, db: RedshiftDatabase, **unit: object) -> dict[str, Table]:
    snaps = source.extract(WorkUnit(unit_id="u", database=db.name, schemas=("sales",), **unit), Filters())
    return {t.name: t for s in snaps for t in s.tables if t.view_definition}


def _tables(view: Table) -> list[str]:
    return [u.table for u in view.upstreams]


def test_views_get_their_tables_from_the_dependency_catalogs(rs_db: RedshiftDatabase,
                                                             rs_source: RedshiftSource) -> None:
    rs_db.sql(*DDL)
    views = _views(rs_source, rs_db)
    db = rs_db.name
    assert _tables(views["order_names"]) == [f"{db}.crm.customers", f"{db}.sales.orders"]
    assert {u.table: u.columns for u in views["order_names"].upstreams} == {
        f"{db}.crm.customers": (ColumnUpstream(downstream_column="name", upstream_columns=("name",)),),
        f"{db}.sales.orders": (ColumnUpstream(downstream_column="id", upstream_columns=("id",)),),
    }
    assert "cross join fx f" in " ".join(views["priced"].view_definition.lower().split())
    assert _tables(views["priced"]) == [f"{db}.public.fx", f"{db}.sales.orders"]
    assert _tables(views["totals"]) == [f"{db}.sales.orders"]  # the internal table is not an upstream
    assert all(v.lineage_unparsed is None for v in views.values())


def test_a_late_binding_view_is_parsed(rs_db: RedshiftDatabase, rs_source: RedshiftSource) -> None:
    rs_db.sql(*DDL)
    dependencies = rs_db.query(
        "select count(*) from pg_depend d join pg_rewrite r on r.oid = d.objid "
        "where r.ev_class = 'sales.lbv'::regclass and d.deptype = 'n' and d.refobjid <> r.ev_class")
    assert dependencies == [(0,)]  # as in Redshift: none
    lbv = _views(rs_source, rs_db)["lbv"]
    assert lbv.properties == {"late_binding": "true"}
    assert _tables(lbv) == [f"{rs_db.name}.sales.orders", f"{rs_db.name}.crm.customers"]
    assert lbv.lineage_unparsed is None


def test_an_incremental_unit_reads_the_dependencies_of_its_views_only(rs_db: RedshiftDatabase,
                                                                      rs_source: RedshiftSource) -> None:
    rs_db.sql(*DDL)
    rs_source.list_schemas(rs_db.name)
    before = rs_source.statements
    views = _views(rs_source, rs_db, only_tables={"sales": ("priced",)})
    assert list(views) == ["priced"] and _tables(views["priced"]) == [f"{rs_db.name}.public.fx",
                                                                       f"{rs_db.name}.sales.orders"]
    # schema, relations, mv info, columns, view dependencies: no table, so no table statements
    assert rs_source.statements - before == 5
