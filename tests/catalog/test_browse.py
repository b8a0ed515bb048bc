"""Paged catalog reads for the UI: results, keyset paging, and the indexes SQLite's planner uses."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from airflow_provider_omingest.catalog.base import EntityWrite
from airflow_provider_omingest.catalog.browse import CatalogBrowser, fold
from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog


def _table(service: str, schema: str, name: str, columns: list[dict], **extra) -> EntityWrite:
    return EntityWrite(fqn=f"{service}.db.{schema}.{name}", kind="table", database="db", schema_name=schema,
                       name=name, fingerprint=str(hash((name, str(columns), str(extra)))), change="created",
                       body={"name": name, "columns": columns, **extra})


def _col(name: str, data_type: str = "INT") -> dict:
    return {"name": name, "data_type": data_type, "data_type_display": data_type}


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with SqlCatalog(url) as c:
        names = ["Orders", "orders_daily", "ORDERS_BAK", "order_items", "customers", "v_orders", "Ord"]
        c.apply([_table("svc", "s", n, [_col("id")]) for n in names], "run1")
        c.apply([_table("other", "s", "orders_x", [_col("id")])], "run1")
        yield c


def test_search_is_a_case_folded_prefix_in_name_order(catalog):
    page = CatalogBrowser(catalog).search("ORD")
    assert [r.name for r in page.items] == ["Ord", "order_items", "Orders", "ORDERS_BAK", "orders_daily",
                                            "orders_x"]
    assert page.next_after is None
    assert [r.name for r in CatalogBrowser(catalog).search("orders_").items] == ["ORDERS_BAK", "orders_daily",
                                                                                 "orders_x"]
    assert CatalogBrowser(catalog).search("zzz").items == []
    assert len(CatalogBrowser(catalog).search("").items) == 8


def test_search_pages_with_a_keyset_and_never_repeats(catalog):
    browser = CatalogBrowser(catalog)
    seen, after = [], None
    while True:
        page = browser.search("", after=after, limit=3)
        seen += [r.fqn for r in page.items]
        assert len(page.items) <= 3
        if page.next_after is None:
            break
        after = page.next_after
    assert len(seen) == len(set(seen)) == 8
    assert seen == [r.fqn for r in browser.search("", limit=100).items]


def test_search_leaves_deleted_tables_out_unless_asked(catalog):
    catalog.delete(["svc.db.s.Orders"], "run2")
    browser = CatalogBrowser(catalog)
    assert "Orders" not in [r.name for r in browser.search("orders").items]
    deleted = [r for r in browser.search("orders", include_deleted=True).items if r.name == "Orders"]
    assert deleted and deleted[0].deleted


def test_run_changes_by_kind_service_and_page(catalog):
    catalog.apply([_table("svc", "s", "Orders", [_col("id", "BIGINT"), _col("total")]),
                   _table("svc", "s", "customers", [_col("id"), _col("email", "VARCHAR")]),
                   _table("svc", "s", "new_one", [_col("id")])], "run2")
    catalog.apply([_table("other", "s", "orders_x", [_col("id", "BIGINT")])], "run2")  # same run id, other DAG
    catalog.delete(["svc.db.s.v_orders"], "run2")
    browser = CatalogBrowser(catalog)
    updated = browser.run_changes("run2", "updated", service="svc")
    assert sorted(c.fqn for c in updated.items) == ["svc.db.s.Orders", "svc.db.s.customers"]
    orders = next(c for c in updated.items if c.fqn == "svc.db.s.Orders")
    assert orders.version == 2
    assert orders.changes["columns"]["added"] == ["total"]
    assert orders.changes["columns"]["changed"]["id"]["data_type"] == {"old": "INT", "new": "BIGINT"}
    assert [c.fqn for c in browser.run_changes("run2", "created", service="svc").items] == ["svc.db.s.new_one"]
    assert [c.fqn for c in browser.run_changes("run2", "deleted", service="svc").items] == ["svc.db.s.v_orders"]
    assert len(browser.run_changes("run2", "updated").items) == 3  # without a service: every DAG's
    first = browser.run_changes("run2", "updated", service="svc", limit=1)
    second = browser.run_changes("run2", "updated", service="svc", limit=1, after=first.next_after)
    assert first.next_after is not None and second.next_after is None
    assert {first.items[0].fqn, second.items[0].fqn} == {"svc.db.s.Orders", "svc.db.s.customers"}


def test_versions_newest_first_with_their_runs(catalog):
    catalog.apply([_table("svc", "s", "Orders", [_col("id", "BIGINT")])], "run2")
    catalog.delete(["svc.db.s.Orders"], "run3")
    browser = CatalogBrowser(catalog)
    page = browser.versions("svc.db.s.Orders")
    assert [(v.version, v.change, v.run_id) for v in page.items] == [
        (3, "deleted", "run3"), (2, "updated", "run2"), (1, "created", "run1")]
    older = browser.versions("svc.db.s.Orders", limit=2)
    rest = browser.versions("svc.db.s.Orders", limit=2, before=older.next_before)
    assert [v.version for v in older.items + rest.items] == [3, 2, 1] and rest.next_before is None


def test_fold_matches_sqlite_lower():
    assert fold("ÄBC_Orders") == "Äbc_orders"  # SQLite's lower() folds ASCII only


def _plan(catalog: SqlCatalog, query: sa.Select) -> str:
    compiled = query.compile(catalog.engine, compile_kwargs={"literal_binds": True})
    with catalog.engine.connect() as conn:
        return "\n".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))


def test_every_browse_query_is_an_index_range_in_index_order(tmp_path, monkeypatch):
    """SQLite's plan for each query: a SEARCH on the intended index, no full SCAN, no sort step."""
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'c.db'}")
    catalog.apply([_table("svc", "s", f"t{i}", [_col("id")]) for i in range(200)], "run1")
    for run in range(2, 40):  # many runs, each changing a few tables
        catalog.apply([_table("svc", "s", f"t{i}", [_col("id"), _col(f"c{run}")]) for i in range(run, run + 5)],
                      f"run{run}")
    with catalog.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    captured: list[sa.Select] = []
    real = catalog._transaction

    def recording(action, **kw):
        ctx = real(action, **kw)

        class Wrap:
            def __enter__(self):
                conn = ctx.__enter__()
                original = conn.execute

                def execute(statement, *a, **k):
                    captured.append(statement)
                    return original(statement, *a, **k)

                conn.execute = execute  # type: ignore[method-assign]
                return conn

            def __exit__(self, *exc):
                return ctx.__exit__(*exc)

        return Wrap()

    monkeypatch.setattr(catalog, "_transaction", recording)
    browser = CatalogBrowser(catalog)
    browser.search("t1", after="svc.db.s.t1")
    browser.run_changes("run7", "updated", service="svc", after=3)
    browser.versions("svc.db.s.t1", before=10)
    plans = [_plan(catalog, q) for q in captured]
    search, changes, versions = plans
    assert "USING INDEX omingest_entity_name_search" in search, search
    assert "USING INDEX omingest_history_run" in changes and "USING INTEGER PRIMARY KEY" in changes, changes
    assert "USING INDEX omingest_history_fqn" in versions, versions
    for plan in plans:
        assert "TEMP B-TREE" not in plan, plan  # no sort: rows come in index order
        assert not any(line.startswith("SCAN") for line in plan.splitlines()), plan


def test_an_existing_catalog_gets_the_new_indexes(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with SqlCatalog(url) as c:
        c.apply([_table("svc", "s", "t", [_col("id")])], "run1")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX omingest_entity_name_search")
        conn.exec_driver_sql("DROP INDEX omingest_history_run")
    with SqlCatalog(url) as c:
        assert [r.name for r in CatalogBrowser(c).search("t").items] == ["t"]
    with engine.connect() as conn:
        names = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
    engine.dispose()
    assert {"omingest_entity_name_search", "omingest_history_run"} <= names
