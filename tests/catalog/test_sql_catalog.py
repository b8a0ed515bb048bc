"""Tests of :class:`SqlCatalog` on SQLite and PostgreSQL, and of :func:`diff_bodies`."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from airflow_provider_omingest.catalog.base import EntityWrite, RunRecord
from airflow_provider_omingest.catalog.diff import diff_bodies
from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from airflow_provider_omingest.exceptions import CatalogError

from .catalog_contract import (
    DB,
    SERVICE,
    CatalogContract,
    fqn,
    make_table,
    make_view,
    schema_write,
    table_write,
)

BATCH = 5_000
BATCH_SECONDS = 10.0


def count_rows(catalog: SqlCatalog, table: sa.Table) -> int:
    with catalog.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


@pytest.fixture
def statements() -> Iterator[Any]:
    """Return a function that starts recording the statements an engine sends."""
    recorded: list[str] = []
    listeners: list[sa.Engine] = []

    def _record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        recorded.append(statement)

    def start(engine: sa.Engine) -> list[str]:
        sa.event.listen(engine, "before_cursor_execute", _record)
        listeners.append(engine)
        return recorded

    yield start
    for engine in listeners:
        sa.event.remove(engine, "before_cursor_execute", _record)


class SqlCatalogTests(CatalogContract):
    """The contract plus SQL-catalog-specific tests; subclasses provide the ``url`` fixture."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def catalog(self, url: str) -> Iterator[SqlCatalog]:
        with SqlCatalog(url) as catalog:
            yield catalog

    def test_read_scope_is_one_statement(self, catalog: SqlCatalog, statements: Any) -> None:
        catalog.apply(
            [schema_write(s) for s in "abc"] + [table_write(s, f"t{i}") for s in "abc" for i in range(50)],
            "r1",
        )
        recorded = statements(catalog.engine)

        scope = catalog.read_scope(SERVICE, DB, ["a", "b"])

        assert len(scope) == 102
        selects = [s for s in recorded if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 1, recorded
        assert "body" not in selects[0].lower()

    def test_apply_rolls_back_when_a_write_fails_at_the_database(self, catalog: SqlCatalog) -> None:
        catalog.apply([table_write("s", "existing")], "r0")
        good = [table_write("s", f"t{i}") for i in range(100)]
        bad = EntityWrite.model_construct(**{**table_write("s", "bad").model_dump(), "kind": "bogus"})
        update = table_write("s", make_table("existing", {"id": "TEXT"}), "updated")

        with pytest.raises(CatalogError, match="apply 102 write"):
            catalog.apply([*good[:50], bad, *good[50:], update], "r1")

        assert count_rows(catalog, catalog.tables.entity) == 1
        assert count_rows(catalog, catalog.tables.history) == 1
        assert catalog.get(fqn("s", "existing"))["version"] == 1  # type: ignore[index]

    def test_apply_rolls_back_when_the_history_insert_fails(self, catalog: SqlCatalog) -> None:
        catalog.apply([table_write("s", f"t{i}") for i in range(10)], "r0")
        history_name = catalog.tables.history.name

        def fail_on_history(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO") and history_name in statement:
                raise sa.exc.OperationalError(statement, {}, RuntimeError("injected"))

        updates = [table_write("s", make_table(f"t{i}", {"id": "TEXT"}), "updated") for i in range(10)]
        creates = [table_write("s", f"new{i}") for i in range(10)]
        sa.event.listen(catalog.engine, "before_cursor_execute", fail_on_history)
        try:
            with pytest.raises(CatalogError, match="injected") as info:
                catalog.apply(updates + creates, "r1")
        finally:
            sa.event.remove(catalog.engine, "before_cursor_execute", fail_on_history)

        assert info.value.retryable is True
        assert count_rows(catalog, catalog.tables.entity) == 10
        assert {k: e.fingerprint for k, e in catalog.read_scope(SERVICE, DB, ["s"]).items()} == {
            fqn("s", f"t{i}"): make_table(f"t{i}").fingerprint() for i in range(10)
        }
        assert count_rows(catalog, catalog.tables.history) == 10

    def test_hard_delete_removes_history_soft_delete_keeps_it(self, catalog: SqlCatalog) -> None:
        catalog.apply([table_write("s", "soft"), table_write("s", "hard")], "r1")

        assert catalog.delete([fqn("s", "soft")], "r2") == 1
        assert catalog.delete([fqn("s", "hard")], "r2", hard=True) == 1

        assert [h.change for h in catalog.history(fqn("s", "soft"))] == ["created", "deleted"]
        assert catalog.history(fqn("s", "hard")) == []
        assert count_rows(catalog, catalog.tables.entity) == 1
        assert catalog.delete([fqn("s", "soft")], "r3", hard=True) == 1
        assert count_rows(catalog, catalog.tables.history) == 0

    def test_list_tables(self, catalog: SqlCatalog) -> None:
        catalog.apply(
            [
                schema_write("a"),
                table_write("a", "t2"),
                table_write("a", "t1"),
                table_write("b", "t"),
                table_write("a", "x", database="db2"),
            ],
            "r1",
        )
        catalog.delete([fqn("a", "t2")], "r2")

        assert [t["fqn"] for t in catalog.list_tables(SERVICE)] == [
            fqn("a", "t1"),
            fqn("b", "t"),
            "svc.db2.a.x",
        ]
        assert catalog.list_tables(SERVICE, DB, "a", include_deleted=True) == [
            {
                "fqn": fqn("a", "t1"),
                "database": DB,
                "schema": "a",
                "name": "t1",
                "deleted": False,
                "version": 1,
            },
            {
                "fqn": fqn("a", "t2"),
                "database": DB,
                "schema": "a",
                "name": "t2",
                "deleted": True,
                "version": 2,
            },
        ]

    def test_table_prefix_separates_catalogs(self, url: str) -> None:
        with SqlCatalog(url, table_prefix="one_") as one, SqlCatalog(url, table_prefix="two_") as two:
            one.apply([table_write("s", "t")], "r1")
            assert two.get(fqn("s", "t")) is None
            assert one.tables.entity.name == "one_entity"
            assert sa.inspect(one.engine).has_table("two_entity")

    def test_apply_5000_tables_in_one_batch(self, catalog: SqlCatalog, statements: Any) -> None:
        tables = [
            make_table(f"t{i:05}", {f"c{j}": "INT" for j in range(8)}, row_count=i) for i in range(BATCH)
        ]
        writes = [schema_write("big"), *(table_write("big", t) for t in tables)]
        catalog.apply([schema_write("warm")], "r0")
        recorded = statements(catalog.engine)

        started = time.perf_counter()
        catalog.apply(writes, "r1")
        created = time.perf_counter() - started

        changed = [table_write("big", make_table(t.name, {"c0": "BIGINT"}), "updated") for t in tables]
        started = time.perf_counter()
        catalog.apply(changed, "r2")
        updated = time.perf_counter() - started

        started = time.perf_counter()
        assert catalog.delete([w.fqn for w in changed], "r3") == BATCH
        deleted = time.perf_counter() - started

        print(
            f"\n{catalog.engine.dialect.name}: {BATCH} tables created in {created:.2f}s, "
            f"updated in {updated:.2f}s, soft-deleted in {deleted:.2f}s"
        )
        assert created < BATCH_SECONDS and updated < BATCH_SECONDS and deleted < BATCH_SECONDS
        assert len(recorded) < 100, "writes are batched, not one statement per entity"
        assert catalog.history(fqn("big", "t04999"))[1].changes["columns"]["removed"] == [
            f"c{j}" for j in range(1, 8)
        ]
        assert count_rows(catalog, catalog.tables.history) == 1 + (BATCH + 1) + 2 * BATCH

    def test_schema_creation_is_idempotent(self, url: str) -> None:
        first, second = SqlCatalog(url), SqlCatalog(url)
        first.apply([table_write("s", "t")], "r1")
        second.apply([table_write("s", "u")], "r1")
        assert set(first.read_scope(SERVICE, DB, ["s"])) == {fqn("s", "t"), fqn("s", "u")}
        first.close()
        second.close()

    def test_concurrent_schema_creation(self, url: str) -> None:
        catalogs = [SqlCatalog(url) for _ in range(4)]
        barrier = threading.Barrier(len(catalogs))

        def init(catalog: SqlCatalog) -> list[str]:
            barrier.wait()
            return catalog.list_schemas(SERVICE, DB)

        with ThreadPoolExecutor(len(catalogs)) as pool:
            assert list(pool.map(init, catalogs)) == [[]] * len(catalogs)
        for catalog in catalogs:
            catalog.close()

    def test_error_message_names_the_action(self, catalog: SqlCatalog) -> None:
        bad = EntityWrite.model_construct(**{**table_write("s", "t").model_dump(), "kind": "bogus"})
        with pytest.raises(CatalogError) as info:
            catalog.apply([bad], "run-7")
        message = str(info.value)
        assert "apply 1 write(s) of run run-7" in message
        assert "IntegrityError" in message or "CheckViolation" in message
        assert info.value.retryable is False


    # -- moves ---------------------------------------------------------------------------------

    def test_a_move_ties_the_histories_of_both_names(self, catalog: SqlCatalog) -> None:
        catalog.apply([table_write("s1", make_table("t", object_id="42")),
                       table_write("s1", make_table("u", object_id="43"), service="other")], "r1")

        catalog.apply([table_write("s2", make_table("t", object_id="42")),
                       table_write("s2", make_table("u", object_id="43"))], "r2")
        catalog.delete([fqn("s1", "t")], "r3")

        created = catalog.history(fqn("s2", "t"))
        assert [(h.change, h.changes) for h in created] == [("created", {"moved_from": fqn("s1", "t")})]
        deleted = catalog.history(fqn("s1", "t"))[-1]
        assert (deleted.change, deleted.changes) == ("deleted", {"moved_to": fqn("s2", "t")})
        # Another service's table with the same id is another table.
        assert catalog.history(fqn("s2", "u"))[0].changes == {}

    def test_a_move_back_restores_the_old_name_with_its_history(self, catalog: SqlCatalog) -> None:
        catalog.apply([table_write("a", make_table("t", object_id="7"))], "r1")
        catalog.apply([table_write("b", make_table("t", object_id="7"))], "r2")
        catalog.delete([fqn("a", "t")], "r2")

        catalog.apply([table_write("a", make_table("t", object_id="7"))], "r3")

        restored = catalog.history(fqn("a", "t"))[-1]
        assert (restored.change, restored.changes) == ("restored", {"moved_from": fqn("b", "t")})

    def test_a_catalog_of_an_older_version_gains_the_object_id_column(self, url: str) -> None:
        old = SqlCatalog(url)
        old.apply([table_write("s", "t")], "r1")
        e = old.tables.entity
        with old.engine.begin() as conn:
            conn.execute(sa.text(f"DROP INDEX {old.table_prefix}entity_object_id"))
            conn.execute(sa.text(f"ALTER TABLE {e.name} DROP COLUMN object_id"))
        old.close()

        upgraded = SqlCatalog(url)
        upgraded.apply([table_write("s", make_table("t", object_id="1"))], "r2")

        assert [x.fqn for x in upgraded.find_by_object_ids(SERVICE, ["1"])] == [fqn("s", "t")]
        assert {c["name"] for c in sa.inspect(upgraded.engine).get_columns(e.name)} >= {"object_id"}
        upgraded.close()


    def test_a_catalog_of_an_older_version_gains_the_lineage_table(self, url: str) -> None:
        old = SqlCatalog(url)
        old.apply([table_write("s", "t")], "r1")
        with old.engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {old.tables.lineage.name}"))
        old.close()

        upgraded = SqlCatalog(url)
        upgraded.apply([table_write("s", make_view("v", {"s.t": {"id": ("id",)}}))], "r2")

        assert [e.upstream for e in upgraded.lineage(fqn("s", "v")).upstream] == [fqn("s", "t")]
        assert upgraded.get(fqn("s", "t"))["version"] == 1
        upgraded.close()

    def test_hard_delete_removes_the_views_edges(self, catalog: SqlCatalog) -> None:
        catalog.apply([table_write("s", "t"), table_write("s", make_view("v", {"s.t": {}}))], "r1")
        catalog.delete([fqn("s", "v")], "r2", hard=True)
        assert count_rows(catalog, catalog.tables.lineage) == 0


class TestSqliteCatalog(SqlCatalogTests):
    """The SQL catalog on a SQLite file."""

    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'nested' / 'catalog.db'}"

    def test_downstreams_are_an_index_read(self, catalog: SqlCatalog) -> None:
        catalog.apply([table_write("s", "t"), table_write("s", make_view("v", {"s.t": {}}))], "r1")
        lin = catalog.tables.lineage
        query = sa.select(lin.c.downstream_id).where(lin.c.upstream == fqn("s", "t"))
        with catalog.engine.connect() as conn:
            plan = " ".join(str(r) for r in conn.execute(sa.text("EXPLAIN QUERY PLAN " + str(
                query.compile(conn, compile_kwargs={"literal_binds": True})))))
        assert f"USING INDEX {catalog.table_prefix}lineage_upstream" in plan or "COVERING INDEX" in plan, plan

    def test_sqlite_uses_wal_and_a_long_busy_timeout(self, catalog: SqlCatalog) -> None:
        with catalog.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 60_000

    def test_processes_write_concurrently(self, url: str) -> None:
        workers, batches, per_batch = 2, 15, 300
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(_write_in_process, url, w, batches, per_batch) for w in range(workers)]
            results = [f.result(timeout=300) for f in futures]

        assert results == [batches * per_batch] * workers
        with SqlCatalog(url) as catalog:
            assert len(catalog.list_tables(SERVICE)) == workers * batches * per_batch
            shared = catalog.get(fqn("shared"))
            assert shared is not None and shared["version"] >= 2
            assert len(catalog.history(fqn("shared"))) == shared["version"]
            assert {catalog.get_run(f"run-{w}").status for w in range(workers)} == {"success"}  # type: ignore[union-attr]


def _write_in_process(url: str, worker: int, batches: int, per_batch: int) -> int:
    """Apply ``batches`` batches from a separate process; return the tables written."""
    catalog = SqlCatalog(url)
    run = RunRecord(
        run_id=f"run-{worker}", service=SERVICE, mode="full", started_at=datetime.now(timezone.utc)
    )
    catalog.record_run(run)
    written = 0
    for batch in range(batches):
        schema = f"w{worker}_{batch}"
        shared = schema_write("shared", description=f"{worker}-{batch}")  # both processes update it
        catalog.apply(
            [shared, schema_write(schema), *(table_write(schema, f"t{i}") for i in range(per_batch))],
            run.run_id,
        )
        catalog.delete([fqn(schema, "t0")], run.run_id)
        catalog.apply([table_write(schema, "t0", "restored")], run.run_id)
        written += per_batch
    catalog.record_run(run.model_copy(update={"status": "success", "summary": {"tables": written}}))
    catalog.close()
    return written


class TestPostgresCatalog(SqlCatalogTests):
    """The SQL catalog on a real PostgreSQL server."""

    @pytest.fixture
    def url(self, pg_url: str) -> str:
        return pg_url

    def test_password_is_hidden_in_errors(self) -> None:
        catalog = SqlCatalog(
            "postgresql+psycopg://user:s3cret-pw@127.0.0.1:1/nodb",
            engine_kwargs={"connect_args": {"connect_timeout": 2}},
        )
        with pytest.raises(CatalogError) as info:
            catalog.get(fqn("s", "t"))
        assert "s3cret-pw" not in str(info.value)
        assert "***" in str(info.value)
        assert info.value.retryable is True
        assert "s3cret-pw" not in repr(catalog)


# -- diff_bodies ------------------------------------------------------------------------------


def test_diff_reports_top_level_fields() -> None:
    old = {"name": "t", "description": None, "tags": ["a"], "row_count": 1, "last_altered": "x"}
    new = {"name": "t", "description": "d", "tags": ["a", "b"], "row_count": 2, "last_altered": "y"}

    assert diff_bodies(old, new) == {
        "description": {"old": None, "new": "d"},
        "tags": {"old": ["a"], "new": ["a", "b"]},
    }


def test_diff_summarises_columns_by_name() -> None:
    old = make_table("t", {"a": "INT", "b": "INT", "c": "INT"}).model_dump(mode="json")
    new = make_table("t", {"a": "INT", "c": "BIGINT", "d": "INT"}).model_dump(mode="json")

    changes = diff_bodies(old, new)

    assert set(changes) == {"columns"}
    assert changes["columns"]["added"] == ["d"]
    assert changes["columns"]["removed"] == ["b"]
    assert changes["columns"]["changed"] == {
        "c": {
            "data_type": {"old": "INT", "new": "BIGINT"},
            "data_type_display": {"old": "int", "new": "bigint"},
            "ordinal_position": {"old": 3, "new": 2},
        }
    }


def test_diff_of_equal_bodies_is_empty() -> None:
    body = make_table("t", {"a": "INT"}, row_count=3).model_dump(mode="json")
    assert diff_bodies(body, {**body, "row_count": 4}) == {}
    assert diff_bodies({}, {}) == {}


def test_diff_handles_missing_and_new_fields() -> None:
    assert diff_bodies({"columns": [{"name": "a"}]}, {"view_definition": "select 1"}) == {
        "columns": {"added": [], "removed": ["a"], "changed": {}},
        "view_definition": {"old": None, "new": "select 1"},
    }


def test_read_scope_of_named_tables_reads_only_those(tmp_path) -> None:
    catalog = SqlCatalog(f"sqlite:///{tmp_path}/c.db")
    try:
        catalog.apply([schema_write("s"), table_write("s", "a"), table_write("s", "b")], "r1")
        scope = catalog.read_scope(SERVICE, DB, ["s"], tables={"s": ["a", "missing"]})
        assert set(scope) == {fqn("s"), fqn("s", "a")}
    finally:
        catalog.close()
