"""BigQuery view lineage: view and materialized view queries parsed with sqlglot (dialect bigquery).

Through the real google-cloud-bigquery client against the REST stand-in, which renders
``INFORMATION_SCHEMA.VIEWS`` (``view_definition``, ``use_standard_sql``) and the materialized
views' DDL as BigQuery documents them.
"""

from __future__ import annotations

from airflow_provider_omingest.models.entities import ColumnUpstream, Table, TableType
from airflow_provider_omingest.sources.bigquery.mapping import TableRow, view_lineage
from tests.bigquery.standin import BigQueryStandin, StandinTable, field_
from tests.bigquery.test_bigquery_source import MakeSource, P, by_name, extract


def _seed(standin: BigQueryStandin) -> None:
    standin.create_dataset(P, "sales")
    standin.create_dataset(P, "crm")
    standin.create_table(P, "sales", StandinTable("orders", [field_("id", "INTEGER"), field_("customer_id", "INTEGER"),
                                                             field_("amount", "NUMERIC")]))
    standin.create_table(P, "crm", StandinTable("Customers", [field_("id", "INTEGER"), field_("name", "STRING")]))
    standin.create_table(P, "sales", StandinTable(
        "order_names", [field_("id", "INTEGER"), field_("name", "STRING")], kind="VIEW",
        view_query=("SELECT o.id, c.name FROM `proj-a.sales.orders` AS o "
                    "JOIN crm.Customers AS c ON c.id = o.customer_id")))
    standin.create_table(P, "sales", StandinTable(
        "recent", [field_("id", "INTEGER")], kind="VIEW",
        view_query=("WITH big AS (SELECT id FROM `proj-a`.sales.orders WHERE amount > 100) "
                    "SELECT big.id FROM big JOIN `other-proj.shared.fx` USING (id)")))
    standin.create_table(P, "sales", StandinTable(
        "mv_totals", [field_("customer_id", "INTEGER"), field_("total", "NUMERIC")], kind="MATERIALIZED_VIEW",
        view_query="SELECT customer_id, SUM(amount) AS total FROM `proj-a.sales.orders` GROUP BY customer_id"))
    standin.create_table(P, "sales", StandinTable(
        "legacy", [field_("id", "INTEGER")], kind="VIEW", use_legacy_sql=True,
        view_query="SELECT id FROM [proj-a:sales.orders]"))


def _tables(view: Table) -> list[str]:
    return sorted(u.table for u in view.upstreams)


def test_views_and_materialized_views_get_the_tables_their_query_names(standin: BigQueryStandin,
                                                                      make_source: MakeSource) -> None:
    _seed(standin)
    source = make_source()
    before = len(standin.requests)
    (snap,) = extract(source, ("sales",))
    tables = by_name(snap)
    assert len(standin.requests) - before == 3  # datasets.get and two queries: parsing costs no request

    order_names = tables["order_names"]
    assert _tables(order_names) == [f"{P}.crm.Customers", f"{P}.sales.orders"]  # names keep their case
    assert {u.table: u.columns for u in order_names.upstreams} == {
        f"{P}.sales.orders": (ColumnUpstream(downstream_column="id", upstream_columns=("id",)),),
        f"{P}.crm.Customers": (ColumnUpstream(downstream_column="name", upstream_columns=("name",)),),
    }
    assert _tables(tables["recent"]) == ["other-proj.shared.fx", f"{P}.sales.orders"]  # not the CTE

    mv = tables["mv_totals"]
    assert mv.table_type is TableType.MATERIALIZED_VIEW and _tables(mv) == [f"{P}.sales.orders"]
    assert tables["orders"].upstreams == ()
    assert all(tables[n].lineage_unparsed is None for n in ("order_names", "recent", "mv_totals"))


def test_a_legacy_sql_view_is_not_parsed_and_says_so(standin: BigQueryStandin, make_source: MakeSource) -> None:
    _seed(standin)
    legacy = by_name(extract(make_source(), ("sales",))[0])["legacy"]
    assert legacy.upstreams == () and legacy.lineage_unparsed == "a legacy SQL view: not parsed"
    assert legacy.view_definition == "SELECT id FROM [proj-a:sales.orders]"


def test_an_unparseable_query_keeps_the_view_and_gives_the_reason() -> None:
    view = Table(name="v", table_type=TableType.VIEW, view_definition="SELECT FROM WHERE (")
    out = view_lineage(view, TableRow(table_name="v", table_type="VIEW", use_standard_sql="YES"), P, "sales")
    assert out.upstreams == () and out.lineage_unparsed
