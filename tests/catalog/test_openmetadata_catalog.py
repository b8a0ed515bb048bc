"""Tests of :class:`OpenMetadataCatalog` against the OpenMetadata stand-in (JSON-Schema-validated)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_omingest.catalog.openmetadata import OpenMetadataCatalog
from airflow_provider_omingest.config import IngestionSettings
from airflow_provider_omingest.demo.warehouse import build_demo_warehouse, mutate_demo_warehouse
from airflow_provider_omingest.engine.runner import run_ingestion
from airflow_provider_omingest.exceptions import CatalogError
from airflow_provider_omingest.models.entities import (
    Column,
    ConstraintType,
    Table,
    TableConstraint,
    TableType,
)
from airflow_provider_omingest.models.fqn import build_fqn, split_fqn
from airflow_provider_omingest.models.run import RunRequest
from airflow_provider_omingest.sources.sql.source import SqlAlchemySource
from tests.openmetadata_standin import OpenMetadataStandIn
from tests.support.openmetadata_spec import SPEC_ENV_VAR, spec_dir

from .catalog_contract import (
    DB,
    SERVICE,
    CatalogContract,
    database_write,
    fqn,
    make_table,
    schema_write,
    table_write,
)

TOKEN = "test-jwt-token-0123456789"


@pytest.fixture
def standin() -> Iterator[OpenMetadataStandIn]:
    server = OpenMetadataStandIn(spec_dir(), token=TOKEN, forbidden_token="forbidden-jwt").start()
    try:
        yield server
    finally:
        server.stop()


def make_catalog(standin: OpenMetadataStandIn, tmp_path: Path, **kwargs: Any) -> OpenMetadataCatalog:
    kwargs.setdefault("runs_url", f"sqlite:///{tmp_path / 'runs.db'}")
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("timeout", 5.0)
    return OpenMetadataCatalog(standin.url, kwargs.pop("token", TOKEN), **kwargs)


class TestOpenMetadataContract(CatalogContract):
    """The catalog contract, through the stand-in."""

    @pytest.fixture
    def catalog(self, standin: OpenMetadataStandIn, tmp_path: Path) -> Iterator[OpenMetadataCatalog]:
        with make_catalog(standin, tmp_path) as catalog:
            yield catalog

    def test_deleting_a_schema_leaves_its_tables(self, catalog: OpenMetadataCatalog) -> None:
        """OpenMetadata differs here: a schema with live tables cannot be deleted without them.

        (The embedded catalog deletes the schema and leaves the tables. OpenMetadata refuses a
        non-recursive delete of a non-empty schema, and a recursive one would delete the
        tables.) The refusal is a clear error and changes nothing; the engine always deletes
        a vanished schema together with its tables, which works.
        """
        catalog.apply([schema_write("s"), table_write("s", "t"), schema_write("u"), table_write("u", "t")], "r1")

        with pytest.raises(CatalogError, match="databaseSchema is not empty") as info:
            catalog.delete([fqn("s")], "r2")
        assert info.value.retryable is False
        scope = catalog.read_scope(SERVICE, DB, ["s"])
        assert not scope[fqn("s")].deleted and not scope[fqn("s", "t")].deleted

        assert catalog.delete([fqn("u"), fqn("u", "t")], "r3") == 2
        assert sorted(catalog.list_schemas(SERVICE, DB)) == ["s"]
        assert [h.change for h in catalog.history(fqn("u"))] == ["created", "deleted"]

    def test_read_scope_with_quoted_names(self, catalog: OpenMetadataCatalog) -> None:
        """OpenMetadata differs here: it cannot hold a name with a double quote.

        The write is refused for that table alone (an error naming it, in ``rejected``), the
        rest of the batch is written, and nothing is stored for the name, so the engine never
        sees it in the catalog and never deletes because of it.
        """
        odd = table_write("my.schema", make_table('odd."name"'), service="svc.prod")
        fine = table_write("my.schema", make_table("fine.name"), service="svc.prod")

        catalog.apply([odd, fine], "r1")

        assert [(r.fqn, 'odd."name"' in r.reason) for r in catalog.rejected] == [(odd.fqn, True)]
        assert list(catalog.read_scope("svc.prod", DB, ["my.schema"])) == [fine.fqn]
        assert catalog.get(odd.fqn) is None and catalog.history(odd.fqn) == []
        assert catalog.delete([odd.fqn], "r2") == 0

    def test_full_lifecycle_created_updated_deleted_restored(self, catalog: OpenMetadataCatalog) -> None:
        """OpenMetadata differs here: a restore is a version of its own, and the change after it another.

        (``PUT /v1/tables/restore`` restores the soft-deleted table as it was; a PATCH of a
        deleted entity is a 404, so the new values follow as the next version.)
        """
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
            (1, "created", "r1"), (2, "updated", "r2"), (3, "deleted", "r3"), (4, "restored", "r4"),
            (5, "updated", "r4"),
        ]
        assert history[1].changes["columns"]["added"] == ["name"]
        assert history[4].changes["description"] == {"old": None, "new": "back"}
        assert [h.changed_at for h in history] == sorted(h.changed_at for h in history)
        got = catalog.get(key)
        assert got is not None and got["deleted"] is False and got["version"] == 5 and got["description"] == "back"


# -- mapping -------------------------------------------------------------------------------------


def rich_table() -> Table:
    address = Column(
        name="address", data_type="STRUCT", data_type_display="struct<street:varchar(64),geo:struct<lat:double>>",
        ordinal_position=3, description="Where", tags=("PII.Sensitive",),
        children=(
            Column(name="street", data_type="VARCHAR", data_type_display="varchar(64)", data_length=64),
            Column(name="geo", data_type="STRUCT", data_type_display="struct<lat:double>",
                   children=(Column(name="lat", data_type="DOUBLE", data_type_display="double"),)),
        ),
    )
    return Table(
        name="customers",
        table_type=TableType.REGULAR,
        description="One row per customer",
        columns=(
            Column(name="id", data_type="INT", data_type_display="integer", nullable=False, ordinal_position=1),
            Column(name="amount", data_type="DECIMAL", data_type_display="decimal(12,2)", precision=12, scale=2,
                   default="0", ordinal_position=2),
            address,
            Column(name="labels", data_type="ARRAY", data_type_display="varchar[]", ordinal_position=4),
            Column(name="code", data_type="CHAR", data_type_display="char", ordinal_position=5),
            Column(name="nums", data_type="ARRAY", array_data_type="INT", data_type_display="int[]",
                   ordinal_position=6),
        ),
        constraints=(
            TableConstraint(constraint_type=ConstraintType.PRIMARY_KEY, columns=("id",), name="pk_customers"),
            TableConstraint(constraint_type=ConstraintType.UNIQUE, columns=("code",)),
            TableConstraint(constraint_type=ConstraintType.FOREIGN_KEY, columns=("amount",),
                            referred_table="db.other.rates", referred_columns=("amount",)),
        ),
        partition_columns=("id",),
        cluster_columns=("code", "id"),
        tags=("Tier.Tier1", "PII.Sensitive"),
        properties={"dist_style": "KEY"},
        row_count=42,
        last_altered="2024-05-01T00:00:00+00:00",
    )


def last_put(standin: OpenMetadataStandIn, path: str) -> dict:
    return [r for r in standin.requests if r.method == "PUT" and r.path == path][-1].body


def test_table_maps_to_create_table_exactly(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    table = rich_table()
    with make_catalog(standin, tmp_path) as catalog:
        catalog.apply([table_write("other", make_table("rates", {"amount": "DECIMAL"}))], "r0")  # the FK target
        catalog.apply([database_write(), schema_write("sales", description="Sales"), table_write("sales", table)], "r1")

        body = last_put(standin, "/api/v1/tables")
        assert body["name"] == "customers" and body["databaseSchema"] == "svc.db.sales"
        assert body["tableType"] == "Regular" and body["description"] == "One row per customer"
        assert body["sourceHash"] == table.fingerprint()
        cols = {c["name"]: c for c in body["columns"]}
        assert cols["id"] == {"name": "id", "dataType": "INT", "dataTypeDisplay": "integer",
                              "constraint": "NOT_NULL", "ordinalPosition": 1}
        assert (cols["amount"]["precision"], cols["amount"]["scale"], cols["amount"]["constraint"]) == (12, 2, "NULL")
        assert cols["address"]["tags"] == [{"tagFQN": "PII.Sensitive", "source": "Classification",
                                            "labelType": "Automated", "state": "Confirmed"}]
        street, geo = cols["address"]["children"]
        assert (street["dataType"], street["dataLength"], street["dataTypeDisplay"]) == ("VARCHAR", 64, "varchar(64)")
        assert geo["children"][0]["name"] == "lat"
        assert cols["labels"]["arrayDataType"] == "UNKNOWN"  # OpenMetadata requires one for ARRAY
        assert cols["nums"]["arrayDataType"] == "INT"
        assert cols["code"]["dataLength"] == 1  # and a length for CHAR-like types
        assert body["tableConstraints"] == [
            {"constraintType": "PRIMARY_KEY", "columns": ["id"]},
            {"constraintType": "UNIQUE", "columns": ["code"]},
            {"constraintType": "FOREIGN_KEY", "columns": ["amount"], "referredColumns": ["svc.db.other.rates.amount"]},
            {"constraintType": "CLUSTER_KEY", "columns": ["code", "id"]},
        ]
        assert body["tablePartition"] == {"columns": [{"columnName": "id"}]}
        assert [t["tagFQN"] for t in body["tags"]] == ["Tier.Tier1", "PII.Sensitive"]
        extras = json.loads(body["extension"]["omingestExtras"])
        assert extras["sourceHash"] == table.fingerprint()
        fields = extras["fields"]
        assert fields["row_count"] == 42 and fields["properties"] == {"dist_style": "KEY"}
        assert list(fields["constraint_names"].values()) == ["pk_customers"]
        assert fields["columns"]['["amount"]'] == {"default": "0"}
        assert fields["columns"]['["labels"]'] == {"array_data_type": None}
        assert fields["columns"]['["code"]'] == {"data_length": None}
        assert set(fields) == {"row_count", "properties", "last_altered", "constraint_names", "columns"}
        assert extras["written"]["description"] and sorted(extras["written"]["tags"]) == ["PII.Sensitive", "Tier.Tier1"]
        schema_body = last_put(standin, "/api/v1/databaseSchemas")
        assert schema_body["description"] == "Sales" and schema_body["database"] == "svc.db"
        assert last_put(standin, "/api/v1/services/databaseServices") == {
            "name": "svc", "serviceType": "CustomDatabase", "description": "Metadata ingested by omingest."}
        assert standin.count("PUT", "/api/v1/services/databaseServices") == 1  # created once, never rewritten
        assert {t["fullyQualifiedName"] for t in standin.all_entities("tag")} == {"PII.Sensitive", "Tier.Tier1"}

        got = catalog.get(fqn("sales", "customers"))
        assert got is not None and got["fingerprint"] == table.fingerprint()
        read_back = Table.model_validate({k: v for k, v in got.items() if k not in ("deleted", "version", "fingerprint")})
        assert read_back.canonical() == table.canonical()  # the server sorts tags (EntityUtil.compareTagLabel)


def test_view_definition_is_schema_definition(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    view = make_table("v_orders", {"id": "INT"}, table_type=TableType.VIEW,
                      view_definition="select id from orders")
    with make_catalog(standin, tmp_path, extras_property=None) as catalog:
        catalog.apply([table_write("s", view)], "r1")
        body = last_put(standin, "/api/v1/tables")
        assert (body["tableType"], body["schemaDefinition"]) == ("View", "select id from orders")
        assert "extension" not in body
        got = catalog.get(fqn("s", "v_orders"))
        assert got is not None and got["view_definition"] == "select id from orders" and got["table_type"] == "View"


def test_service_name_with_a_dot_is_quoted_and_stale_deletion_works(
    standin: OpenMetadataStandIn, tmp_path: Path
) -> None:
    with make_catalog(standin, tmp_path) as catalog:
        writes = [schema_write("my.schema", service="svc.prod"),
                  table_write("my.schema", "a", service="svc.prod"), table_write("my.schema", "b", service="svc.prod")]
        catalog.apply(writes, "r1")
        assert last_put(standin, "/api/v1/tables")["databaseSchema"] == '"svc.prod".db."my.schema"'
        assert standin.entity("table", '"svc.prod".db."my.schema".a') is not None

        assert catalog.delete([build_fqn("svc.prod", DB, "my.schema", "a")], "r2") == 1

        assert standin.entity("table", '"svc.prod".db."my.schema".a')["deleted"] is True
        scope = catalog.read_scope("svc.prod", DB, ["my.schema"])
        assert {k: v.deleted for k, v in scope.items()} == {
            '"svc.prod".db."my.schema"': False, '"svc.prod".db."my.schema".a': True, '"svc.prod".db."my.schema".b': False}


def test_unchanged_tables_are_not_sent(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    writes = [schema_write("s"), *(table_write("s", f"t{i}") for i in range(5))]
    with make_catalog(standin, tmp_path) as catalog:
        catalog.apply(writes, "r1")
    standin.reset_log()
    with make_catalog(standin, tmp_path) as catalog:  # a fresh instance: state read from the server
        catalog.apply([*writes[:-1], table_write("s", make_table("t4", {"id": "BIGINT"}))], "r2")
    assert standin.count("PUT", "/api/v1/tables") == 0  # nothing is created
    assert standin.count("PATCH", "/api/v1/tables/") == 1  # the changed table is patched
    assert standin.count("PUT", "/api/v1/databaseSchemas") == 0 and standin.count("PATCH", "/api/v1/databaseSchemas") == 0
    # one list for the schema, one read of the changed table before patching it
    assert standin.count("GET", "/api/v1/tables") == 2 and standin.count("GET", "/api/v1/tables/name/") == 1


def test_read_scope_pages_through_the_list(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    with make_catalog(standin, tmp_path, page_size=3) as catalog:
        catalog.apply([table_write("s", f"t{i:02}") for i in range(10)], "r1")
        standin.reset_log()
        scope = catalog.read_scope(SERVICE, DB, ["s"])
    assert len(scope) == 10
    lists = [r for r in standin.requests if r.path == "/api/v1/tables"]
    assert len(lists) == 4 and all(r.query["include"] == "all" and r.query["limit"] == "3" for r in lists)
    assert "after" not in lists[0].query and all("after" in r.query for r in lists[1:])


def test_invalid_body_is_rejected_by_the_schema(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    bad = make_table("t", {"id": "INTEGER"})  # not an OpenMetadata dataType
    with make_catalog(standin, tmp_path) as catalog, pytest.raises(CatalogError) as info:
        catalog.apply([table_write("s", bad)], "r1")
    assert "HTTP 400" in str(info.value) and "INTEGER" in str(info.value)
    assert info.value.retryable is False


# -- respecting the server -----------------------------------------------------------------------


def test_retries_429_and_5xx_with_bounded_backoff(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    standin.inject(429, times=2, method="PUT", path_contains="/tables", retry_after="0")
    standin.inject(503, times=1, method="GET", path_contains="/databaseSchemas")
    with make_catalog(standin, tmp_path, retries=3, backoff=0.05, max_backoff=0.1) as catalog:
        started = time.monotonic()
        catalog.apply([schema_write("s"), table_write("s", "t")], "r1")
        assert time.monotonic() - started < 3
        assert standin.count("PUT", "/api/v1/tables", status=429) == 2
        assert standin.count("PUT", "/api/v1/tables", status=201) == 1
        assert catalog.get(fqn("s", "t")) is not None


def test_gives_up_after_the_retries(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    standin.inject(500, times=100, method="GET", path_contains="/api/v1/tables")
    with (
        make_catalog(standin, tmp_path, retries=2, backoff=0.01, max_backoff=0.02) as catalog,
        pytest.raises(CatalogError, match=r"HTTP 500.*after 3 attempt") as info,
    ):
        catalog.read_scope(SERVICE, DB, ["s"])
    assert info.value.retryable is True
    assert standin.count("GET", "/api/v1/tables", status=500) == 3


def test_401_is_a_clear_error_without_the_token(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    secret = "wrong-secret-jwt-value"
    with make_catalog(standin, tmp_path, token=secret, retries=3) as catalog:
        with pytest.raises(CatalogError) as info:
            catalog.read_scope(SERVICE, DB, ["s"])
        assert secret not in repr(catalog) and secret not in str(catalog.__dict__)
    message = str(info.value)
    assert "401" in message and "token" in message and standin.url in message
    assert secret not in message and info.value.retryable is False
    assert standin.count("GET", "", status=401) == 1  # not retried


def test_403_is_a_clear_error_without_the_token(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    with make_catalog(standin, tmp_path, token="forbidden-jwt") as catalog, pytest.raises(CatalogError) as info:
        catalog.apply([table_write("s", "t")], "r1")
    assert "403" in str(info.value) and "not allowed" in str(info.value)
    assert "forbidden-jwt" not in str(info.value) and info.value.retryable is False


def test_timeouts_are_retried_then_reported(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    standin.inject(0, times=1, method="GET", path_contains="/api/v1/tables", delay=1.0)
    with make_catalog(standin, tmp_path, timeout=0.3, retries=1) as catalog:
        assert catalog.read_scope(SERVICE, DB, ["s"]) == {}  # second attempt answers
    standin.inject(0, times=2, method="GET", path_contains="/api/v1/tables", delay=1.0)
    with (
        make_catalog(standin, tmp_path, timeout=0.3, retries=1) as catalog,
        pytest.raises(CatalogError, match="timed out after 0.3s") as info,
    ):
        catalog.read_scope(SERVICE, DB, ["s"])
    assert info.value.retryable is True


def test_concurrency_is_bounded(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    in_flight, peak = 0, 0
    lock = threading.Lock()
    handle = standin.handle

    def counting(*args: Any) -> Any:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.02)
        try:
            return handle(*args)
        finally:
            with lock:
                in_flight -= 1

    standin.handle = counting  # type: ignore[method-assign]
    with make_catalog(standin, tmp_path, max_concurrency=3) as catalog:
        catalog.apply([table_write("s", f"t{i}") for i in range(20)], "r1")
    assert peak <= 3 and len(standin.all_entities("table")) == 20


# -- the whole flow ------------------------------------------------------------------------------


def test_full_then_changed_run_over_the_demo_warehouse(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    warehouse = build_demo_warehouse(tmp_path / "demo.duckdb")
    settings = IngestionSettings(service="demo", threads=2, tables_per_unit=10)

    def source() -> SqlAlchemySource:
        return SqlAlchemySource(f"duckdb:///{warehouse}")

    with make_catalog(standin, tmp_path) as catalog:
        first = run_ingestion(source, catalog, settings, RunRequest(run_id="run-1"))
    assert first.status == "success" and first.totals["created"] == 34
    tables = {t["fullyQualifiedName"]: t for t in standin.all_entities("table")}
    assert len(tables) == 34
    orders = standin.entity("table", "demo.demo.sales.orders") or next(
        t for f, t in tables.items() if f.endswith(".sales.orders"))
    fk = [c for c in orders["tableConstraints"] if c["constraintType"] == "FOREIGN_KEY"]
    assert fk and all(len(split_fqn(r)) == 5 for c in fk for r in c["referredColumns"])
    views = [t for t in tables.values() if t["tableType"] == "View"]
    assert len(views) == 4 and all(v.get("schemaDefinition") for v in views)

    # A foreign key to a table of another work unit that was not written yet waits for the next
    # run; such a table's sourceHash says what OpenMetadata holds, so the next run writes it again.
    pending = {t["name"] for t in tables.values()
               if json.loads(t["extension"]["omingestExtras"])["sourceHash"] != _source_fingerprint(warehouse, t)}

    mutate_demo_warehouse(warehouse)
    standin.reset_log()
    with make_catalog(standin, tmp_path) as catalog:
        second = run_ingestion(source, catalog, settings, RunRequest(run_id="run-2"))
        assert (second.totals["created"], second.totals["deleted"]) == (1, 1)
        assert second.totals["updated"] == 2 + len(pending - {"invoices", "customers"})
        assert standin.count("PUT", "/api/v1/tables") == 1  # only the new table is created
        assert standin.count("PATCH", "/api/v1/tables/") >= 2  # the changed ones are patched
        assert standin.count("DELETE", "/api/v1/tables") == 1
        for name in pending:
            entity = next(t for t in standin.all_entities("table") if t["name"] == name)
            assert entity["sourceHash"] == _source_fingerprint(warehouse, entity)

        by_name = {t["name"]: t for t in standin.all_entities("table", include_deleted=True)}
        assert by_name["email_sends"]["version"] == 0.1 and by_name["email_sends"]["description"] == \
            "E-mails sent by campaigns"
        assert by_name["tmp_currency_rates"]["deleted"] is True
        assert by_name["customers"]["description"] == "Customer accounts, one row per person"
        amount = next(c for c in by_name["invoices"]["columns"] if c["name"] == "amount")
        assert (amount["precision"], amount["scale"]) == (14, 2)
        invoices = next(f for f in tables if f.endswith(".finance.invoices"))
        assert [(h.change, h.run_id) for h in catalog.history(invoices)] == [("created", "run-1"), ("updated", "run-2")]
        deleted = next(f for f in tables if f.endswith(".staging.tmp_currency_rates"))
        assert [(h.change, h.run_id) for h in catalog.history(deleted)] == [("created", "run-1"), ("deleted", "run-2")]
        run = catalog.get_run("run-2")
        assert run is not None and run.status == "success" and run.summary["totals"]["deleted"] == 1

    standin.reset_log()
    with make_catalog(standin, tmp_path) as catalog:
        third = run_ingestion(source, catalog, settings, RunRequest(run_id="run-3"))
    assert third.totals.get("created", 0) == third.totals.get("updated", 0) == 0
    assert standin.count("PUT", "/api/v1/tables") == 0 and standin.count("DELETE", "") == 0
    assert standin.count("PATCH", "") == 0


def _source_fingerprint(warehouse: Path, entity: dict[str, Any]) -> str:
    """The fingerprint the source gives the table now."""
    from airflow_provider_omingest.models.units import WorkUnit

    schema = entity["databaseSchema"]["name"]
    database = entity["database"]["name"]
    source = SqlAlchemySource(f"duckdb:///{warehouse}")
    try:
        unit = WorkUnit(unit_id="u", database=database, schemas=(schema,))
        tables = [t for snap in source.extract(unit, IngestionSettings(service="demo").filters) for t in snap.tables]
    finally:
        source.close()
    return next(t for t in tables if t.name == entity["name"]).fingerprint()


def test_spec_dir_fails_clearly_when_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(SPEC_ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(pytest.fail.Exception, match=rf"{SPEC_ENV_VAR}.*") as info:
        spec_dir()
    assert str(tmp_path / "nowhere") in str(info.value)


def test_hook_opens_the_openmetadata_catalog(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from airflow_provider_omingest.hooks.catalog import OmingestCatalogHook

    conn = {"conn_type": "openmetadata", "host": "https://om.example.com", "port": 8585, "password": "jwt-secret",
            "extra": {"verify_ssl": "false", "service_type": "Snowflake", "runs_url": f"sqlite:///{tmp_path}/r.db"}}
    monkeypatch.setenv("AIRFLOW_CONN_OPENMETADATA", json.dumps(conn))

    catalog = OmingestCatalogHook("openmetadata").get_catalog()

    assert isinstance(catalog, OpenMetadataCatalog)
    assert (catalog.server_url, catalog.verify_ssl, catalog.service_type) == (
        "https://om.example.com:8585", False, "Snowflake")
    assert "jwt-secret" not in repr(catalog)


def test_a_database_that_vanished_from_the_source_is_deleted_in_openmetadata(standin, tmp_path: Path) -> None:
    """The inventory lists every database omingest wrote in the service, so the plan sees one vanish."""
    from datetime import datetime, timedelta, timezone

    from airflow_provider_omingest.config import IngestionSettings
    from airflow_provider_omingest.engine.runner import run_ingestion
    from airflow_provider_omingest.exceptions import DeletionRefused
    from airflow_provider_omingest.models.run import RunRequest
    from tests.support.changelog_source import ChangeLogSource, ChangeLogWarehouse
    from tests.support.changelog_source import make_table as changelog_table

    wh = ChangeLogWarehouse(now=datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc))
    for db in ("keep", "gone"):
        for i in range(5):
            wh.put(db, "s1", changelog_table(f"t{i}"))
    settings = IngestionSettings(service="svc", threads=2)
    with make_catalog(standin, tmp_path) as catalog:
        def run(n: int, **request: Any):
            wh.tick(timedelta(hours=1))
            return run_ingestion(lambda: ChangeLogSource(wh), catalog, settings, RunRequest(run_id=f"r{n}", **request))

        assert run(1).totals["created"] == 10
        wh.drop_database("gone")
        with pytest.raises(DeletionRefused, match=r"5 of 10 tables in scope"):
            run(2)
        assert not catalog.get("svc.gone.s1.t0")["deleted"]
        done = run(3, confirm_delete=True)
        assert done.status == "success" and done.totals["deleted"] == 5
        assert catalog.get("svc.gone.s1.t0")["deleted"] and catalog.get("svc.gone")["deleted"]
        assert not catalog.get("svc.keep.s1.t0")["deleted"]
        # The watermark of the next run is the last successful one, from the run store.
        assert catalog.last_successful_run("svc").run_id == "r3"
