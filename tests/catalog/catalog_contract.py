"""The behaviour every :class:`~airflow_provider_omingest.catalog.base.Catalog` must have.

Subclass :class:`CatalogContract` in a ``test_*.py`` module and provide the ``catalog`` fixture
(an empty catalog) to run these tests against a catalog implementation.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_omingest.catalog.base import Catalog, EntityWrite, RunRecord, StoredEntity
from airflow_provider_omingest.models.entities import (
    Column,
    ColumnUpstream,
    Database,
    DatabaseSchema,
    Table,
    TableType,
    TableUpstream,
)
from airflow_provider_omingest.models.lineage import ColumnLineage, LineageEdge
from airflow_provider_omingest.models.fqn import build_fqn

__all__ = [
    "SERVICE",
    "CatalogContract",
    "database_write",
    "fqn",
    "make_table",
    "make_view",
    "schema_write",
    "table_write",
]

SERVICE = "svc"
DB = "db"


def make_table(name: str, columns: dict[str, str] | None = None, **fields: Any) -> Table:
    """Build a table with columns given as ``{name: data_type}`` (default: ``id INT``)."""
    columns = columns if columns is not None else {"id": "INT"}
    cols = tuple(
        Column(name=c, data_type=t, data_type_display=t.lower(), ordinal_position=i)
        for i, (c, t) in enumerate(columns.items(), start=1)
    )
    return Table(name=name, columns=cols, **fields)


def make_view(name: str, upstreams: dict[str, dict[str, tuple[str, ...]]], **fields: Any) -> Table:
    """Build a view of the default database reading ``{schema.table: {view column: upstream columns}}``."""
    ups = tuple(
        TableUpstream(table=f"{DB}.{table}", columns=tuple(
            ColumnUpstream(downstream_column=col, upstream_columns=names) for col, names in cols.items()))
        for table, cols in upstreams.items()
    )
    columns = {col: "INT" for cols in upstreams.values() for col in cols} or None
    return make_table(name, columns, table_type=TableType.VIEW,
                      view_definition=f"select * from {', '.join(upstreams) or 'dual'}", upstreams=ups, **fields)


def table_write(
    schema: str,
    table: Table | str,
    change: str = "created",
    *,
    service: str = SERVICE,
    database: str = DB,
) -> EntityWrite:
    """Build the write of a table (a name gives a default one-column table)."""
    table = make_table(table) if isinstance(table, str) else table
    return EntityWrite(
        fqn=build_fqn(service, database, schema, table.name),
        kind="table",
        database=database,
        schema_name=schema,
        name=table.name,
        fingerprint=table.fingerprint(),
        body=table.model_dump(mode="json"),
        change=change,
        object_id=table.object_id,
    )


def schema_write(
    schema: str, change: str = "created", *, service: str = SERVICE, database: str = DB, **fields: Any
) -> EntityWrite:
    """Build the write of a schema."""
    entity = DatabaseSchema(name=schema, **fields)
    return EntityWrite(
        fqn=build_fqn(service, database, schema),
        kind="schema",
        database=database,
        schema_name=schema,
        name=schema,
        fingerprint=entity.fingerprint(),
        body=entity.model_dump(mode="json"),
        change=change,
    )


def database_write(database: str = DB, *, service: str = SERVICE) -> EntityWrite:
    """Build the write of a database."""
    entity = Database(name=database)
    return EntityWrite(
        fqn=build_fqn(service, database),
        kind="database",
        database=database,
        name=database,
        fingerprint=entity.fingerprint(),
        body=entity.model_dump(mode="json"),
        change="created",
    )


def fqn(schema: str, table: str | None = None) -> str:
    """Return the FQN of a schema or table of the default service and database."""
    return build_fqn(SERVICE, DB, schema) if table is None else build_fqn(SERVICE, DB, schema, table)


class CatalogContract:
    """Tests every catalog must pass. Subclasses provide the ``catalog`` fixture."""

    @pytest.fixture
    def catalog(self) -> Catalog:
        """Provide an empty catalog; subclasses must override this fixture."""
        raise NotImplementedError("Subclasses of CatalogContract must provide the `catalog` fixture.")

    # -- empty catalog -------------------------------------------------------------------------

    def test_empty_catalog(self, catalog: Catalog) -> None:
        assert catalog.read_scope(SERVICE, DB, ["s"]) == {}
        assert catalog.list_schemas(SERVICE, DB) == []
        assert catalog.get(fqn("s", "t")) is None
        assert catalog.history(fqn("s", "t")) == []
        assert catalog.get_run("nope") is None
        assert catalog.delete([fqn("s", "t")], "r1") == 0

    def test_empty_writes_are_no_ops(self, catalog: Catalog) -> None:
        catalog.apply([], "r1")
        assert catalog.delete([], "r1") == 0

    # -- create and read -----------------------------------------------------------------------

    def test_create_then_read_scope(self, catalog: Catalog) -> None:
        table = make_table("orders", {"id": "INT", "amount": "DECIMAL"})
        catalog.apply([database_write(), schema_write("sales"), table_write("sales", table)], "r1")

        scope = catalog.read_scope(SERVICE, DB, ["sales"])

        assert set(scope) == {fqn("sales"), fqn("sales", "orders")}
        assert scope[fqn("sales", "orders")] == StoredEntity(
            fqn=fqn("sales", "orders"),
            kind="table",
            database=DB,
            schema_name="sales",
            name="orders",
            fingerprint=table.fingerprint(),
            deleted=False,
        )
        stored_schema = scope[fqn("sales")]
        assert (stored_schema.kind, stored_schema.name, stored_schema.deleted) == ("schema", "sales", False)

    def test_get_returns_body_version_and_fingerprint(self, catalog: Catalog) -> None:
        table = make_table("orders", {"id": "INT"}, description="All orders", row_count=12)
        catalog.apply([table_write("sales", table)], "r1")

        got = catalog.get(fqn("sales", "orders"))

        assert got is not None
        assert got["deleted"] is False
        assert got["version"] == 1
        assert got["fingerprint"] == table.fingerprint()
        assert (
            Table.model_validate(
                {k: v for k, v in got.items() if k not in ("deleted", "version", "fingerprint")}
            )
            == table
        )

    def test_read_scope_is_limited_to_service_database_and_schemas(self, catalog: Catalog) -> None:
        catalog.apply(
            [
                table_write("a", "t"),
                table_write("b", "t"),
                table_write("c", "t"),
                table_write("a", "t", database="other_db"),
                table_write("a", "t", service="other_svc"),
                schema_write("a"),
                database_write(),
            ],
            "r1",
        )

        scope = catalog.read_scope(SERVICE, DB, ["a", "b"])

        assert set(scope) == {fqn("a"), fqn("a", "t"), fqn("b", "t")}

    def test_read_scope_with_quoted_names(self, catalog: Catalog) -> None:
        write = table_write("my.schema", make_table('odd."name"'), service="svc.prod")
        catalog.apply([write], "r1")

        scope = catalog.read_scope("svc.prod", DB, ["my.schema"])

        assert list(scope) == [build_fqn("svc.prod", DB, "my.schema", 'odd."name"')]
        assert scope[write.fqn].name == 'odd."name"'

    def test_list_schemas_returns_live_schemas(self, catalog: Catalog) -> None:
        catalog.apply(
            [schema_write("b"), schema_write("a"), schema_write("gone"), schema_write("x", database="other")],
            "r1",
        )
        catalog.delete([fqn("gone")], "r2")

        assert sorted(catalog.list_schemas(SERVICE, DB)) == ["a", "b"]

    # -- versions and history ------------------------------------------------------------------

    def test_update_bumps_version_and_records_diff(self, catalog: Catalog) -> None:
        before = make_table("orders", {"id": "INT", "amount": "DECIMAL", "note": "STRING"})
        after = make_table("orders", {"id": "BIGINT", "amount": "DECIMAL", "created": "TIMESTAMP"})
        catalog.apply([table_write("sales", before)], "r1")

        catalog.apply([table_write("sales", after, "updated")], "r2")

        got = catalog.get(fqn("sales", "orders"))
        assert got is not None and got["version"] == 2 and got["fingerprint"] == after.fingerprint()
        assert [c["name"] for c in got["columns"]] == ["id", "amount", "created"]
        history = catalog.history(fqn("sales", "orders"))
        assert [(h.version, h.change, h.run_id) for h in history] == [
            (1, "created", "r1"),
            (2, "updated", "r2"),
        ]
        columns = history[1].changes["columns"]
        assert columns["added"] == ["created"]
        assert columns["removed"] == ["note"]
        assert set(columns["changed"]) == {"id"}
        assert columns["changed"]["id"]["data_type"] == {"old": "INT", "new": "BIGINT"}
        assert history[1].fingerprint == after.fingerprint()

    def test_full_lifecycle_created_updated_deleted_restored(self, catalog: Catalog) -> None:
        v1 = make_table("t", {"id": "INT"})
        v2 = make_table("t", {"id": "INT", "name": "STRING"})
        v3 = make_table("t", {"id": "INT", "name": "STRING"}, description="back")
        key = fqn("s", "t")

        catalog.apply([table_write("s", v1)], "r1")
        catalog.apply([table_write("s", v2, "updated")], "r2")
        assert catalog.delete([key], "r3") == 1
        catalog.apply([table_write("s", v3, "restored")], "r4")

        history = catalog.history(key)
        assert [(h.version, h.change, h.run_id) for h in history] == [
            (1, "created", "r1"),
            (2, "updated", "r2"),
            (3, "deleted", "r3"),
            (4, "restored", "r4"),
        ]
        assert history[1].changes["columns"]["added"] == ["name"]
        assert history[3].changes["description"] == {"old": None, "new": "back"}
        assert all(h.changed_at.tzinfo is not None for h in history)
        assert [h.changed_at for h in history] == sorted(h.changed_at for h in history)
        got = catalog.get(key)
        assert got is not None and got["deleted"] is False and got["version"] == 4
        assert got["description"] == "back"

    def test_volatile_change_alone_is_not_in_the_diff(self, catalog: Catalog) -> None:
        catalog.apply([table_write("s", make_table("t", {"id": "INT"}, row_count=1))], "r1")
        changed = make_table("t", {"id": "INT", "x": "INT"}, row_count=99, last_altered="2024-01-01")
        catalog.apply([table_write("s", changed, "updated")], "r2")

        changes = catalog.history(fqn("s", "t"))[-1].changes
        assert "row_count" not in changes and "last_altered" not in changes
        assert changes["columns"]["added"] == ["x"]

    # -- retries -------------------------------------------------------------------------------

    def test_retried_create_with_same_fingerprint_is_a_no_op(self, catalog: Catalog) -> None:
        writes = [schema_write("s"), table_write("s", "t")]
        catalog.apply(writes, "r1")

        catalog.apply(writes, "r1")

        assert catalog.get(fqn("s", "t"))["version"] == 1  # type: ignore[index]
        assert len(catalog.history(fqn("s", "t"))) == 1

    def test_create_of_existing_entity_with_new_fingerprint_updates(self, catalog: Catalog) -> None:
        catalog.apply([table_write("s", make_table("t", {"id": "INT"}))], "r1")

        catalog.apply([table_write("s", make_table("t", {"id": "TEXT"}), "created")], "r2")

        got = catalog.get(fqn("s", "t"))
        assert got is not None and got["version"] == 2
        assert [h.change for h in catalog.history(fqn("s", "t"))] == ["created", "updated"]

    # -- deletes -------------------------------------------------------------------------------

    def test_soft_delete_marks_deleted_and_counts_only_live(self, catalog: Catalog) -> None:
        catalog.apply([table_write("s", "a"), table_write("s", "b")], "r1")

        assert catalog.delete([fqn("s", "a"), fqn("s", "missing")], "r2") == 1
        assert catalog.delete([fqn("s", "a"), fqn("s", "b")], "r3") == 1

        scope = catalog.read_scope(SERVICE, DB, ["s"])
        assert scope[fqn("s", "a")].deleted is True and scope[fqn("s", "b")].deleted is True
        got = catalog.get(fqn("s", "a"))
        assert got is not None and got["deleted"] is True and got["version"] == 2
        assert [h.change for h in catalog.history(fqn("s", "a"))] == ["created", "deleted"]

    def test_deleting_a_schema_leaves_its_tables(self, catalog: Catalog) -> None:
        catalog.apply([schema_write("s"), table_write("s", "t")], "r1")

        assert catalog.delete([fqn("s")], "r2") == 1

        scope = catalog.read_scope(SERVICE, DB, ["s"])
        assert scope[fqn("s")].deleted is True
        assert scope[fqn("s", "t")].deleted is False
        assert catalog.list_schemas(SERVICE, DB) == []

    def test_read_scope_of_named_tables(self, catalog: Catalog) -> None:
        catalog.apply([schema_write("s"), table_write("s", "a"), table_write("s", "b"), table_write("t", "c")], "r1")
        scope = catalog.read_scope(SERVICE, DB, ["s"], tables={"s": ["a", "missing"]})
        # The schema entity and the named table at least; a catalog may return more of the schema.
        assert {fqn("s"), fqn("s", "a")} <= set(scope) <= {fqn("s"), fqn("s", "a"), fqn("s", "b")}

    def test_hard_delete_removes_the_entity(self, catalog: Catalog) -> None:
        catalog.apply([table_write("s", "a"), table_write("s", "b"), table_write("s", "c")], "r1")
        catalog.delete([fqn("s", "b")], "r2")

        removed = catalog.delete([fqn("s", "a"), fqn("s", "b"), fqn("s", "missing")], "r3", hard=True)

        assert removed == 2
        assert catalog.get(fqn("s", "a")) is None and catalog.get(fqn("s", "b")) is None
        assert set(catalog.read_scope(SERVICE, DB, ["s"])) == {fqn("s", "c")}

    def test_recreate_after_hard_delete_starts_over(self, catalog: Catalog) -> None:
        catalog.apply([table_write("s", "t")], "r1")
        catalog.delete([fqn("s", "t")], "r2", hard=True)

        catalog.apply([table_write("s", "t")], "r3")

        got = catalog.get(fqn("s", "t"))
        assert got is not None and got["version"] == 1 and got["deleted"] is False

    # -- object ids ----------------------------------------------------------------------------

    def test_find_by_object_ids(self, catalog: Catalog) -> None:
        catalog.apply([
            table_write("s", make_table("a", object_id="1")),
            table_write("s", make_table("b", object_id="2")),
            table_write("s", make_table("c")),
            table_write("s", make_table("x", object_id="9"), service="other"),
        ], "r1")
        catalog.delete([fqn("s", "b")], "r2")

        found = catalog.find_by_object_ids(SERVICE, ["1", "2", "9", "missing"])

        if not catalog.holds_object_ids:
            assert found == []  # a catalog without ids answers nothing: moves are found by full runs
            return
        # Live tables of the service only: b is deleted, x belongs to another service.
        assert [(e.fqn, e.kind, e.schema_name, e.name, e.object_id) for e in found] == [
            (fqn("s", "a"), "table", "s", "a", "1")]
        assert catalog.find_by_object_ids(SERVICE, []) == []
        assert catalog.read_scope(SERVICE, DB, ["s"])[fqn("s", "a")].object_id == "1"

    def test_a_new_object_id_alone_is_recorded_without_a_version(self, catalog: Catalog) -> None:
        catalog.apply([table_write("s", make_table("a", object_id="1"))], "r1")

        # CREATE OR REPLACE of the same structure: a new id, the same table to the catalog.
        catalog.apply([table_write("s", make_table("a", object_id="5"))], "r2")

        got = catalog.get(fqn("s", "a"))
        assert got is not None and got["version"] == 1
        assert len(catalog.history(fqn("s", "a"))) == 1
        if catalog.holds_object_ids:
            assert [e.fqn for e in catalog.find_by_object_ids(SERVICE, ["5"])] == [fqn("s", "a")]
            assert catalog.find_by_object_ids(SERVICE, ["1"]) == []

    # -- lineage -------------------------------------------------------------------------------

    def _lineage_fixture(self, catalog: Catalog) -> None:
        catalog.apply([
            schema_write("s"),
            table_write("s", make_table("orders", {"id": "INT", "amount": "DECIMAL"})),
            table_write("s", "customers"),
        ], "r1")
        view = make_view("order_totals", {"s.orders": {"order_id": ("id",), "total": ("amount",)},
                                          "s.customers": {}})
        catalog.apply([table_write("s", view)], "r1")

    def test_lineage_of_a_view_and_of_its_upstreams(self, catalog: Catalog) -> None:
        self._lineage_fixture(catalog)

        view = catalog.lineage(fqn("s", "order_totals"))
        orders = catalog.lineage(fqn("s", "orders"))

        assert view.fqn == fqn("s", "order_totals") and view.downstream == []
        assert sorted(e.upstream for e in view.upstream) == [fqn("s", "customers"), fqn("s", "orders")]
        edge = LineageEdge(upstream=fqn("s", "orders"), downstream=fqn("s", "order_totals"), columns=[
            ColumnLineage(upstream_columns=["id"], downstream_column="order_id"),
            ColumnLineage(upstream_columns=["amount"], downstream_column="total"),
        ])
        assert orders.upstream == [] and orders.downstream == [edge]
        assert edge in view.upstream
        assert catalog.lineage(fqn("s", "nothing")).model_dump() == {
            "fqn": fqn("s", "nothing"), "upstream": [], "downstream": []}

    def test_lineage_follows_the_views_latest_version_and_shows_in_its_history(self, catalog: Catalog) -> None:
        self._lineage_fixture(catalog)

        catalog.apply([table_write("s", make_view("order_totals", {"s.customers": {}}), "updated")], "r2")

        assert catalog.lineage(fqn("s", "orders")).downstream == []
        assert [e.upstream for e in catalog.lineage(fqn("s", "order_totals")).upstream] == [fqn("s", "customers")]
        assert "upstreams" in catalog.history(fqn("s", "order_totals"))[-1].changes
        assert catalog.get(fqn("s", "order_totals"))["upstreams"] == [{"table": "db.s.customers", "columns": []}]

    def test_lineage_leaves_out_deleted_ends_and_downstreams_are_found(self, catalog: Catalog) -> None:
        self._lineage_fixture(catalog)
        # Incremental runs look the views of dropped tables up before deleting those.
        assert [v.fqn for v in catalog.find_downstreams(SERVICE, [fqn("s", "orders"), fqn("s", "nothing")])] == [
            fqn("s", "order_totals")]

        catalog.delete([fqn("s", "orders")], "r2")

        assert [e.upstream for e in catalog.lineage(fqn("s", "order_totals")).upstream] == [fqn("s", "customers")]
        catalog.delete([fqn("s", "order_totals")], "r3")
        assert catalog.lineage(fqn("s", "customers")).downstream == []
        assert catalog.find_downstreams(SERVICE, [fqn("s", "customers")]) == []

    def test_lineage_to_a_table_outside_the_catalog_is_left_out(self, catalog: Catalog) -> None:
        catalog.apply([schema_write("s"), table_write("s", "customers")], "r1")
        catalog.apply([table_write("s", make_view("v", {"s.customers": {}, "elsewhere.t": {}}))], "r1")

        assert [e.upstream for e in catalog.lineage(fqn("s", "v")).upstream] == [fqn("s", "customers")]

    # -- runs ----------------------------------------------------------------------------------

    def test_record_and_update_run(self, catalog: Catalog) -> None:
        started = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
        run = RunRecord(run_id="run-1", service=SERVICE, mode="full", started_at=started)
        catalog.record_run(run)
        assert catalog.get_run("run-1") == run

        done = run.model_copy(
            update={
                "status": "success",
                "ended_at": started + timedelta(minutes=5),
                "summary": {"created": 3, "schemas": ["a", "b"]},
            }
        )
        catalog.record_run(done)

        assert catalog.get_run("run-1") == done
        assert catalog.get_run("run-2") is None

    def test_last_successful_run_is_the_latest_success_of_the_service(self, catalog: Catalog) -> None:
        t0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
        assert catalog.last_successful_run(SERVICE) is None
        for run_id, minutes, status, service in (("r1", 0, "success", SERVICE), ("r2", 10, "success", SERVICE),
                                                 ("r3", 20, "failed", SERVICE), ("r4", 30, "success", "other")):
            catalog.record_run(RunRecord(run_id=run_id, service=service, mode="full", status=status,
                                         started_at=t0 + timedelta(minutes=minutes)))
        last = catalog.last_successful_run(SERVICE)
        assert last is not None and last.run_id == "r2"

    # -- inventory -----------------------------------------------------------------------------

    def test_inventory_lists_live_schemas_and_tables(self, catalog: Catalog) -> None:
        other = "warehouse_b"
        catalog.apply([database_write(), schema_write("s"), schema_write("t"), table_write("s", "a"),
                       table_write("s", "b"), database_write(other), schema_write("x", database=other),
                       table_write("x", "c", database=other)], "r1")
        catalog.delete([fqn("s", "b")], "r2")

        inventory = catalog.inventory(SERVICE, [DB])

        assert inventory[DB] == {"s": ["a"], "t": []}
        if catalog.inventory_lists_every_database:  # a database the source no longer lists is still seen
            assert inventory[other] == {"x": ["c"]}
