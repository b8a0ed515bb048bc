"""Incremental extraction: audit-log changes (google-cloud-logging) and the dataset-listing fallback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.exceptions import IncrementalUnsupported
from airflow_provider_omingest.models.changes import TableRef
from airflow_provider_omingest.models.units import WorkUnit
from airflow_provider_omingest.sources.bigquery.audit import AUDIT_METHOD
from airflow_provider_omingest.sources.bigquery.source import BigQuerySource
from tests.bigquery.standin import BigQueryStandin, StandinTable, field_

P, Q = "proj-a", "proj-b"
MakeSource = Callable[..., BigQuerySource]


def table(name: str, *columns: str) -> StandinTable:
    return StandinTable(name, [field_(c) for c in columns or ("id",)])


def ref(table_name: str, dataset: str = "sales", project: str = P) -> TableRef:
    return TableRef(database=project, schema_name=dataset, table=table_name)


@pytest.fixture
def warehouse(standin: BigQueryStandin) -> BigQueryStandin:
    """Two projects with tables created before the window."""
    for project in (P, Q):
        standin.create_dataset(project, "sales")
        for name in ("orders", "customers", "old_stuff", "to_recreate", "by_ddl"):
            standin.create_table(project, "sales", table(name))
    return standin


def test_changes_from_the_audit_log(warehouse: BigQueryStandin, make_source: MakeSource) -> None:
    since = warehouse.now() + timedelta(milliseconds=500)
    warehouse.alter_table(P, "sales", "orders", fields=[field_("id"), field_("note")])
    warehouse.alter_table(P, "sales", "customers", via="query", description="DDL comment")
    warehouse.create_table(P, "sales", table("new_api"))
    warehouse.create_table(P, "sales", table("new_ddl"), via="query")
    warehouse.drop_table(P, "sales", "old_stuff")
    warehouse.drop_table(P, "sales", "by_ddl", via="query")
    warehouse.drop_table(P, "sales", "to_recreate", via="query")
    warehouse.create_table(P, "sales", table("to_recreate", "id", "v2"), via="query")
    warehouse.add_data_read_entry(P, "sales", "orders")
    warehouse.create_dataset(P, "brand_new")
    warehouse.create_dataset(P, "_script_results")  # anonymous query results: never reported
    warehouse.create_table(P, "_script_results", table("anon"), via="query")
    warehouse.create_table(Q, "sales", table("other_project"))
    source = make_source([P, Q])
    warehouse.reset_requests()

    changes = source.changes_since(since, [P])

    assert changes.method == AUDIT_METHOD
    assert changes.since == since and changes.until is not None and changes.until >= since
    assert sorted(r.table for r in changes.changed) == ["customers", "new_api", "new_ddl", "orders", "to_recreate"]
    assert sorted(r.table for r in changes.dropped) == ["by_ddl", "old_stuff"]
    assert all(r.database == P for r in changes.changed + changes.dropped), "proj-b is not asked for"
    assert changes.created_schemas == [(P, "brand_new")]
    entries = [body for kind, _, body in warehouse.requests if kind == "entries"]
    assert len(entries) == 1, "one Logging query per project per run"
    assert entries[0]["resourceNames"] == [f"projects/{P}"]
    assert entries[0]["pageSize"] == 1000
    assert "timestamp>=" in entries[0]["filter"] and "now-24h" not in entries[0]["filter"]
    assert warehouse.count("query") == 1, "and one query for the source clock"


def test_entries_before_the_window_are_not_changes(warehouse: BigQueryStandin, make_source: MakeSource) -> None:
    since = warehouse.now() + timedelta(milliseconds=500)
    changes = make_source().changes_since(since, [P])
    assert (changes.changed, changes.dropped) == ([], [])
    earlier = make_source().changes_since(since - timedelta(hours=1), [P])
    assert ref("orders") in earlier.changed


def test_recreated_table_is_fetched_and_survives(warehouse: BigQueryStandin, make_source: MakeSource) -> None:
    since = warehouse.now() + timedelta(milliseconds=500)
    warehouse.drop_table(P, "sales", "to_recreate", via="query")
    warehouse.create_table(P, "sales", table("to_recreate", "id", "v2"), via="query")
    warehouse.drop_table(P, "sales", "old_stuff")
    source = make_source()
    changes = source.changes_since(since, [P])
    names = {r.table for r in changes.changed + changes.dropped}
    unit = WorkUnit(unit_id="inc", database=P, schemas=("sales",), mode="incremental",
                    only_tables={"sales": tuple(sorted(names))})
    (snapshot,) = source.extract(unit, Filters())
    found = {t.name: t for t in snapshot.tables}
    assert list(found) == ["to_recreate"], "the engine keeps what the fetch finds and deletes the rest"
    assert [c.name for c in found["to_recreate"].columns] == ["id", "v2"]


def test_large_logs_are_read_in_pages_of_one_query(make_source: MakeSource) -> None:
    standin = BigQueryStandin(logging_page_cap=4).start()
    try:
        standin.create_dataset(P, "sales")
        since = standin.now() + timedelta(milliseconds=500)
        for i in range(10):
            standin.create_table(P, "sales", table(f"t{i}"))
        from google.auth.credentials import AnonymousCredentials

        source = BigQuerySource([P], credentials=AnonymousCredentials(), api_endpoint=standin.url,
                                retry_deadline=2.0)
        try:
            changes = source.changes_since(since, [P])
        finally:
            source.close()
        assert len(changes.changed) == 10
        pages = [body for kind, _, body in standin.requests if kind == "entries"]
        assert len(pages) == 3 and [bool(p.get("pageToken")) for p in pages] == [False, True, True]
        assert len({p["filter"] for p in pages}) == 1
    finally:
        standin.stop()


def test_missing_logs_viewer_role_names_the_role(warehouse: BigQueryStandin, make_source: MakeSource) -> None:
    warehouse.logging_denied.add(P)
    with pytest.raises(IncrementalUnsupported) as info:
        make_source().changes_since(warehouse.now() - timedelta(hours=1), [P])
    assert "roles/logging.viewer" in info.value.reason and P in info.value.reason
    assert info.value.source == "bigquery"


def test_listing_fallback_digests(warehouse: BigQueryStandin, make_source: MakeSource) -> None:
    warehouse.create_dataset(P, "marketing")
    warehouse.create_table(P, "marketing", table("campaigns"))
    warehouse.create_dataset(P, "empty")
    warehouse.logging_denied.add(P)
    source = make_source()
    warehouse.reset_requests()
    before = source.table_digests(P, ["sales", "marketing", "empty"])
    assert warehouse.count("query") == 1, "one listing query for all datasets of a location"
    assert sorted(before["sales"]) == ["by_ddl", "customers", "old_stuff", "orders", "to_recreate"]
    assert before["empty"] == {}

    warehouse.alter_table(P, "sales", "orders", fields=[field_("id"), field_("note")])
    warehouse.drop_table(P, "sales", "old_stuff")
    warehouse.drop_table(P, "sales", "to_recreate")
    warehouse.create_table(P, "sales", table("to_recreate"))
    after = source.table_digests(P, ["sales", "marketing", "empty"])
    changed = {n for n, d in after["sales"].items() if before["sales"].get(n) != d}
    assert changed == {"orders", "to_recreate"}
    assert set(before["sales"]) - set(after["sales"]) == {"old_stuff"}
    assert after["marketing"] == before["marketing"]

    (snapshot,) = source.extract(WorkUnit(unit_id="u", database=P, schemas=("sales",)), Filters())
    assert {t.name: t.source_digest for t in snapshot.tables} == after["sales"], "extract sets the same digest"
