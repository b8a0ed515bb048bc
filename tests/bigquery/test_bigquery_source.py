"""Full extraction with the real google-cloud-bigquery client against the local REST stand-in."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.exceptions import SourceError
from airflow_provider_omingest.models.entities import Table, TableType
from airflow_provider_omingest.models.units import SchemaSnapshot, TableSlice, WorkUnit
from airflow_provider_omingest.sources.bigquery.source import BigQuerySource
from tests.bigquery.standin import ApiError, BigQueryStandin, StandinTable, field_

P = "proj-a"
POLICY_TAG = "projects/proj-a/locations/us/taxonomies/11/policyTags/22"

MakeSource = Callable[..., BigQuerySource]


def seed_sales(standin: BigQueryStandin) -> None:
    """A dataset with every kind of table BigQuery has."""
    standin.create_dataset(P, "sales", description="Sales data", labels={"env": "prod"})
    standin.create_table(P, "sales", StandinTable(
        "orders",
        [
            field_("id", "INTEGER", "REQUIRED", description="Order id"),
            field_("customer_id", "INTEGER"),
            field_("ts", "TIMESTAMP", description="When"),
            field_("amount", "NUMERIC", precision="10", scale="2", policyTags={"names": [POLICY_TAG]}),
            field_("items", "RECORD", "REPEATED", description="Order lines", fields=[
                field_("sku", "STRING", maxLength="12", description="Stock unit"),
                field_("qty", "INTEGER", "REQUIRED"),
                field_("price", "RECORD", fields=[field_("value", "FLOAT"), field_("currency", "STRING")]),
            ]),
            field_("tags", "STRING", "REPEATED"),
        ],
        description='All "orders"\nfrom the shop', labels={"team": "sales", "tier": "gold"},
        time_partitioning={"type": "DAY", "field": "ts", "expirationMs": str(90 * 86_400_000)},
        require_partition_filter=True, clustering=["customer_id", "id"], num_rows=1234,
    ))
    standin.create_table(P, "sales", StandinTable(
        "events", [field_("payload", "JSON")], time_partitioning={"type": "HOUR"}))
    standin.create_table(P, "sales", StandinTable(
        "customers", [field_("id", "INTEGER"), field_("name", "STRING")],
        range_partitioning={"field": "id", "range": {"start": "0", "end": "1000", "interval": "10"}}))
    standin.create_table(P, "sales", StandinTable(
        "v_big_orders", [field_("id", "INTEGER")], kind="VIEW",
        view_query="SELECT id FROM `proj-a.sales.orders` WHERE amount > 100", description="Big orders"))
    standin.create_table(P, "sales", StandinTable(
        "mv_daily", [field_("day", "DATE"), field_("n", "INTEGER")], kind="MATERIALIZED_VIEW",
        view_query="SELECT DATE(ts) AS day, COUNT(*) AS n FROM `proj-a.sales.orders` GROUP BY 1",
        enable_refresh=True, description="Daily AS counted"))
    standin.create_table(P, "sales", StandinTable(
        "ext_clicks", [field_("url", "STRING")], kind="EXTERNAL",
        external={"sourceFormat": "PARQUET", "sourceUris": ["gs://bucket/clicks/*.parquet"]}))
    standin.create_table(P, "sales", StandinTable(
        "orders_snap", [field_("id", "INTEGER", "REQUIRED")], kind="SNAPSHOT", base_table=(P, "sales", "orders"),
        snapshot_time_ms=1_714_521_600_000))


def extract(source: BigQuerySource, schemas: tuple[str, ...], **unit: object) -> list[SchemaSnapshot]:
    work = WorkUnit(unit_id="u1", database=P, schemas=schemas, **unit)  # type: ignore[arg-type]
    return list(source.extract(work, Filters()))


def by_name(snapshot: SchemaSnapshot) -> dict[str, Table]:
    return {t.name: t for t in snapshot.tables}


def test_listing_and_counting(standin: BigQueryStandin, make_source: MakeSource) -> None:
    seed_sales(standin)
    standin.create_dataset(P, "empty")
    standin.create_dataset(P, "eu_data", location="EU")
    standin.create_table(P, "eu_data", StandinTable("t", [field_("a")]))
    standin.create_dataset(P, "_hidden_results")
    source = make_source()
    assert source.list_databases() == [P]
    assert source.list_schemas(P) == ["empty", "eu_data", "sales"]
    standin.reset_requests()
    assert source.count_tables(P, ["sales", "empty", "eu_data"]) == {"sales": 7, "empty": 0, "eu_data": 1}
    assert standin.count("query") == 2, "one region-level query per location (US, EU)"
    assert source.now().tzinfo is not None


def test_full_extraction_of_every_kind(standin: BigQueryStandin, make_source: MakeSource) -> None:
    seed_sales(standin)
    (snapshot,) = extract(make_source(), ("sales",))
    assert snapshot.complete and snapshot.schema_name == "sales" and not snapshot.unreflectable
    assert snapshot.schema_entity is not None
    assert (snapshot.schema_entity.description, snapshot.schema_entity.tags) == ("Sales data", ("label:env=prod",))
    tables = by_name(snapshot)
    assert sorted(tables) == ["customers", "events", "ext_clicks", "mv_daily", "orders", "orders_snap",
                              "v_big_orders"]
    kinds = {name: t.table_type for name, t in tables.items()}
    assert kinds == {"customers": TableType.REGULAR, "events": TableType.REGULAR, "ext_clicks": TableType.EXTERNAL,
                     "mv_daily": TableType.MATERIALIZED_VIEW, "orders": TableType.REGULAR,
                     "orders_snap": TableType.REGULAR, "v_big_orders": TableType.VIEW}

    orders = tables["orders"]
    assert orders.description == 'All "orders"\nfrom the shop'
    assert orders.tags == ("label:team=sales", "label:tier=gold")
    assert [c.name for c in orders.columns] == ["id", "customer_id", "ts", "amount", "items", "tags"]
    assert [c.ordinal_position for c in orders.columns] == [1, 2, 3, 4, 5, 6]
    id_, _, ts, amount, items, tags = orders.columns
    assert (id_.data_type, id_.nullable, id_.description) == ("BIGINT", False, "Order id")
    assert ts.description == "When"
    assert (amount.data_type, amount.precision, amount.scale) == ("NUMERIC", 10, 2)
    assert amount.tags == (f"policy_tag:{POLICY_TAG}",)
    assert (tags.data_type, tags.array_data_type, tags.data_type_display) == ("ARRAY", "STRING", "ARRAY<STRING>")
    assert (items.data_type, items.array_data_type, items.description) == ("ARRAY", "STRUCT", "Order lines")
    assert [c.name for c in items.children] == ["sku", "qty", "price"]
    sku, qty, price = items.children
    assert (sku.data_length, sku.description, qty.nullable) == (12, "Stock unit", False)
    assert [(c.name, c.data_type) for c in price.children] == [("value", "DOUBLE"), ("currency", "STRING")]
    assert orders.partition_columns == ("ts",)
    assert orders.cluster_columns == ("customer_id", "id")
    assert orders.properties == {
        "bigquery_table_type": "BASE TABLE", "partition_interval_type": "TIME-UNIT", "partition_interval": "DAY",
        "partition_field": "ts", "partition_expiration_days": "90.0", "require_partition_filter": "true",
    }
    assert orders.row_count == 1234 and orders.last_altered and orders.source_digest

    events = tables["events"]
    assert [c.name for c in events.columns] == ["payload"], "pseudo columns are not columns"
    assert events.properties["partition_interval_type"] == "INGESTION-TIME"
    assert events.properties["partition_interval"] == "HOUR"
    assert "_PARTITIONTIME" in events.partition_columns

    customers = tables["customers"]
    assert customers.properties["partition_interval_type"] == "INTEGER-RANGE"
    assert customers.properties["partition_range"] == "0,1000,10"
    assert customers.partition_columns == ("id",)

    view = tables["v_big_orders"]
    assert view.view_definition == "SELECT id FROM `proj-a.sales.orders` WHERE amount > 100"
    assert view.description == "Big orders" and view.row_count is None
    mv = tables["mv_daily"]
    assert mv.view_definition == "SELECT DATE(ts) AS day, COUNT(*) AS n FROM `proj-a.sales.orders` GROUP BY 1"
    assert mv.properties["enable_refresh"] == "true" and mv.description == "Daily AS counted"
    ext = tables["ext_clicks"]
    assert (ext.properties["external_format"], ext.properties["external_uris"]) == (
        "PARQUET", "gs://bucket/clicks/*.parquet")
    snap = tables["orders_snap"]
    assert snap.properties["bigquery_table_type"] == "SNAPSHOT"
    assert snap.properties["base_table"] == "proj-a.sales.orders"
    assert snap.properties["snapshot_time"].startswith("2024-05-01T00:00:00")


def test_round_trips_per_dataset_do_not_grow_with_tables(standin: BigQueryStandin, make_source: MakeSource) -> None:
    for dataset, n in (("small", 3), ("large", 120)):
        standin.create_dataset(P, dataset)
        for i in range(n):
            standin.create_table(P, dataset, StandinTable(
                f"t{i:03}", [field_("id", "INTEGER"), field_("s", "RECORD", fields=[field_("x")])]), audit=False)
    source = make_source()
    counts = {}
    for dataset in ("small", "large"):
        standin.reset_requests()
        (snapshot,) = extract(source, (dataset,))
        counts[dataset] = standin.count()
        assert len(snapshot.tables) == (3 if dataset == "small" else 120)
        assert all(t.columns[1].children for t in snapshot.tables)
    assert counts == {"small": 3, "large": 3}, "datasets.get + tables query + columns query"


def test_result_pagination(make_source: MakeSource) -> None:
    standin = BigQueryStandin(query_page_rows=7).start()
    try:
        standin.create_dataset(P, "paged")
        for i in range(30):
            standin.create_table(P, "paged", StandinTable(f"t{i:02}", [field_("a"), field_("b", "INTEGER")]),
                                 audit=False)
        source = BigQuerySource([P], credentials=_anonymous(), api_endpoint=standin.url, retry_deadline=2.0)
        try:
            (snapshot,) = extract(source, ("paged",))
        finally:
            source.close()
        assert len(snapshot.tables) == 30
        assert all([c.name for c in t.columns] == ["a", "b"] for t in snapshot.tables)
        assert standin.count("get_query_results") >= 10, "later pages come from jobs.getQueryResults"
    finally:
        standin.stop()


def test_only_tables_filters_slices_and_views(standin: BigQueryStandin, make_source: MakeSource) -> None:
    seed_sales(standin)
    source = make_source()
    standin.reset_requests()
    (snapshot,) = extract(source, ("sales",), mode="incremental",
                          only_tables={"sales": ("orders", "v_big_orders", "no_such_table")})
    assert not snapshot.complete
    assert sorted(by_name(snapshot)) == ["orders", "v_big_orders"]
    assert by_name(snapshot)["orders"].columns, "columns of the asked tables are read"
    queries = [body for kind, _, body in standin.requests if kind == "query"]
    assert all("IN UNNEST(@table_names)" in q["query"] for q in queries)
    assert sorted(v["value"] for v in queries[0]["queryParameters"][0]["parameterValue"]["arrayValues"]) == [
        "no_such_table", "orders", "v_big_orders"]

    (nothing,) = extract(source, ("sales",), mode="incremental", only_tables={"other": ("x",)})
    assert nothing.tables == [] and not nothing.complete

    unit = WorkUnit(unit_id="u", database=P, schemas=("sales",))
    filtered = next(source.extract(unit, Filters(table={"exclude": ["^orders"]}), include_views=False))
    assert sorted(by_name(filtered)) == ["customers", "events", "ext_clicks"]

    slices = [next(source.extract(WorkUnit(unit_id=f"s{i}", database=P, schemas=("sales",),
                                           table_slice=TableSlice(index=i, count=3)), Filters()))
              for i in range(3)]
    names = [t.name for s in slices for t in s.tables]
    assert sorted(names) == sorted(by_name(next(source.extract(unit, Filters()))))
    assert all(s.table_slice is not None for s in slices)


@pytest.mark.parametrize("problem", ["missing", "denied"])
def test_unreadable_dataset_raises_instead_of_empty_snapshot(
    standin: BigQueryStandin, make_source: MakeSource, problem: str
) -> None:
    seed_sales(standin)
    standin.create_dataset(P, "secret")
    if problem == "denied":
        standin.denied_datasets.add((P, "secret"))
    name = "secret" if problem == "denied" else "vanished"
    snapshots = make_source().extract(WorkUnit(unit_id="u", database=P, schemas=("sales", name)), Filters())
    assert next(snapshots).schema_name == "sales"
    with pytest.raises(SourceError) as info:
        next(snapshots)
    assert (info.value.database, info.value.schema) == (P, name)
    assert ("Forbidden" if problem == "denied" else "NotFound") in info.value.reason


def test_unknown_or_denied_project(standin: BigQueryStandin, make_source: MakeSource) -> None:
    standin.create_dataset("proj-b", "x")
    standin.denied_projects.add("proj-b")
    source = make_source(["proj-a", "proj-b"])
    with pytest.raises(SourceError, match="NotFound") as missing:
        source.list_schemas("proj-a")
    assert missing.value.database == "proj-a"
    with pytest.raises(SourceError, match="Forbidden"):
        source.list_schemas("proj-b")


def test_count_falls_back_to_listing_without_region_access(standin: BigQueryStandin, make_source: MakeSource) -> None:
    seed_sales(standin)
    source = make_source()
    source.list_schemas(P)
    # Region-level INFORMATION_SCHEMA needs project-level access; dataset-level grants are not enough.
    standin.fail_next.append(ApiError(403, "PERMISSION_DENIED", "accessDenied", "Access Denied: region-us"))
    assert source.count_tables(P, ["sales"]) == {"sales": 7}
    assert standin.count("list_tables") == 1


def test_stopped_server_fails_fast(make_source: MakeSource, standin: BigQueryStandin) -> None:
    source = make_source()
    standin.stop()
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        source.list_schemas(P)
    assert time.monotonic() - started < 15, "the retry deadline bounds connection-refused retries"
    assert info.value.database == P


def test_repr_and_errors_hold_no_credentials(standin: BigQueryStandin, make_source: MakeSource) -> None:
    source = make_source()
    assert repr(source) == "BigQuerySource(projects=['proj-a'], billing_project='proj-a')"


def _anonymous() -> object:
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()
