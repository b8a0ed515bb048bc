"""What reaches OpenMetadata, under the real server's rules (as the stand-in models them).

A changed comment, a removed tag, a changed column and foreign keys (self-referencing ones,
ones to tables written in the same batch, ones to tables outside it) reach the server; what a
person curated survives; the server's refusals (409, 412, names it cannot hold) are handled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_omingest.catalog.openmetadata import OpenMetadataCatalog
from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.models.entities import Column, ConstraintType, Table, TableConstraint
from tests.openmetadata_standin import USER, OpenMetadataStandIn
from tests.support.openmetadata_spec import spec_dir

from .catalog_contract import DB, SERVICE, fqn, make_table, schema_write, table_write

TOKEN = "writes-test-bot-jwt"
PERSON = "writes-test-person-jwt"


@pytest.fixture
def standin() -> Iterator[OpenMetadataStandIn]:
    server = OpenMetadataStandIn(spec_dir(), token=TOKEN, user_token=PERSON).start()
    try:
        yield server
    finally:
        server.stop()


def catalog_for(standin: OpenMetadataStandIn, tmp_path: Path, **kwargs: Any) -> OpenMetadataCatalog:
    kwargs.setdefault("runs_url", f"sqlite:///{tmp_path / 'runs.db'}")
    return OpenMetadataCatalog(standin.url, TOKEN, backoff=0.01, **kwargs)


def om_table(standin: OpenMetadataStandIn, schema: str, name: str) -> dict[str, Any]:
    entity = standin.entity("table", f"{SERVICE}.{DB}.{schema}.{name}")
    assert entity is not None, f"{schema}.{name} is not in OpenMetadata"
    return entity


def person_edits(standin: OpenMetadataStandIn, table: dict[str, Any], operations: list[dict[str, Any]]) -> None:
    """A person's edit in OpenMetadata's UI: a PATCH with a personal token."""
    response = httpx.patch(f"{standin.url}/api/v1/tables/{table['id']}", json=operations,
                           headers={"Authorization": f"Bearer {PERSON}", "Content-Type": "application/json-patch+json"})
    assert response.status_code == 200, response.text


def customers(description: str | None = "One row per customer", *, comment: str | None = "Identifier",
              tags: tuple[str, ...] = ("PII.Sensitive", "Tier.Tier1"), id_type: str = "INT",
              extra_columns: tuple[Column, ...] = ()) -> Table:
    return Table(
        name="customers",
        description=description,
        columns=(
            Column(name="id", data_type=id_type, data_type_display=id_type.lower(), nullable=False,
                   description=comment, ordinal_position=1, tags=("PII.Sensitive",)),
            Column(name="email", data_type="VARCHAR", data_type_display="varchar(200)", data_length=200,
                   ordinal_position=2),
            *extra_columns,
        ),
        tags=tags,
    )


def test_a_changed_comment_reaches_openmetadata(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    with catalog_for(standin, tmp_path) as catalog:
        catalog.apply([table_write("s", customers())], "r1")
        changed = customers("Customers, one row each", comment="Customer number")
        catalog.apply([table_write("s", changed)], "r2")

        entity = om_table(standin, "s", "customers")
        assert entity["description"] == "Customers, one row each"
        assert entity["columns"][0]["description"] == "Customer number"
        assert entity["sourceHash"] == changed.fingerprint()
        assert catalog.read_scope(SERVICE, DB, ["s"])[fqn("s", "customers")].fingerprint == changed.fingerprint()
        # A bot's PUT could not have done it (EntityUpdater keeps a non-empty description): a PATCH did.
        patch = [r for r in standin.requests if r.method == "PATCH"][-1]
        assert patch.headers["content-type"] == "application/json-patch+json"
        assert {op["path"] for op in patch.body} >= {"/description", "/columns"}

        dropped = customers(None, comment=None)
        catalog.apply([table_write("s", dropped)], "r3")  # a comment dropped at the source goes too: it was ours
        entity = om_table(standin, "s", "customers")
        assert "description" not in entity and "description" not in entity["columns"][0]


def test_a_curated_description_survives(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    with catalog_for(standin, tmp_path) as catalog:
        catalog.apply([table_write("s", customers())], "r1")
        entity = om_table(standin, "s", "customers")
        person_edits(standin, entity, [{"op": "add", "path": "/description", "value": "Curated by the data team"},
                                       {"op": "add", "path": "/columns/0/description", "value": "Curated id"},
                                       {"op": "add", "path": "/owners", "value": []}])

        catalog.apply([table_write("s", customers("Source comment v2", comment="Source id v2"))], "r2")

        entity = om_table(standin, "s", "customers")
        assert entity["description"] == "Curated by the data team"
        assert entity["columns"][0]["description"] == "Curated id"
        assert entity["updatedBy"] != USER  # our patch (structure, sourceHash) went in all the same

    with catalog_for(standin, tmp_path, override_metadata=True) as catalog:
        catalog.apply([table_write("s", customers("Source comment v3", comment="Source id v3"))], "r3")
        entity = om_table(standin, "s", "customers")
        assert (entity["description"], entity["columns"][0]["description"]) == ("Source comment v3", "Source id v3")

    with catalog_for(standin, tmp_path) as catalog:  # once it is ours again, it follows the source
        person_edits(standin, entity, [{"op": "add", "path": "/description", "value": "Curated again"}])
        catalog.apply([table_write("s", customers(None, comment="Source id v3"))], "r4")
        assert om_table(standin, "s", "customers")["description"] == "Curated again"  # nothing removes it

    with catalog_for(standin, tmp_path, override_metadata=True) as catalog:
        catalog.apply([table_write("s", customers(None, comment=None))], "r5")
        entity = om_table(standin, "s", "customers")
        assert entity["description"] == "Curated again"  # override replaces, never removes


def test_a_removed_tag_is_removed_and_a_persons_tag_is_kept(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    with catalog_for(standin, tmp_path) as catalog:
        catalog.apply([table_write("s", customers(tags=("PII.Sensitive", "Tier.Tier1")))], "r1")
        standin.all_entities("tag")
        _tag(standin, "Team.Finance")
        entity = om_table(standin, "s", "customers")
        person_edits(standin, entity, [{"op": "add", "path": "/tags/-", "value": {
            "tagFQN": "Team.Finance", "source": "Classification", "labelType": "Manual", "state": "Confirmed"}}])

        catalog.apply([table_write("s", customers(tags=("Tier.Tier1",)))], "r2")

        entity = om_table(standin, "s", "customers")
        assert [t["tagFQN"] for t in entity["tags"]] == ["Team.Finance", "Tier.Tier1"]
        assert entity["sourceHash"] == customers(tags=("Tier.Tier1",)).fingerprint()
        got = catalog.get(fqn("s", "customers"))
        assert got is not None and sorted(got["tags"]) == ["Team.Finance", "Tier.Tier1"]


def test_a_changed_column_reaches_openmetadata(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    with catalog_for(standin, tmp_path) as catalog:
        catalog.apply([table_write("s", customers())], "r1")
        wider = customers(id_type="BIGINT", extra_columns=(
            Column(name="name", data_type="VARCHAR", data_type_display="varchar(50)", data_length=50,
                   ordinal_position=3),))
        catalog.apply([table_write("s", wider)], "r2")

        entity = om_table(standin, "s", "customers")
        assert [(c["name"], c["dataType"], c.get("dataLength")) for c in entity["columns"]] == [
            ("id", "BIGINT", None), ("email", "VARCHAR", 200), ("name", "VARCHAR", 50)]
        assert entity["columns"][0]["description"] == "Identifier"  # carried over by the server
        assert entity["version"] == 1.0  # a retyped column is a backward-incompatible change: major version

        narrower = customers(id_type="BIGINT", extra_columns=())
        catalog.apply([table_write("s", narrower)], "r3")
        entity = om_table(standin, "s", "customers")
        assert [c["name"] for c in entity["columns"]] == ["id", "email"] and entity["version"] == 2.0
        changes = catalog.history(fqn("s", "customers"))[-1].changes
        assert changes["columns"]["removed"] == ["name"]


def test_foreign_keys_reach_openmetadata_including_self_references(
    standin: OpenMetadataStandIn, tmp_path: Path
) -> None:
    employees = Table(
        name="employees",
        columns=(Column(name="id", data_type="INT", data_type_display="int", nullable=False),
                 Column(name="manager_id", data_type="INT", data_type_display="int"),
                 Column(name="team_id", data_type="INT", data_type_display="int")),
        constraints=(
            TableConstraint(constraint_type=ConstraintType.PRIMARY_KEY, columns=("id",)),
            TableConstraint(constraint_type=ConstraintType.FOREIGN_KEY, columns=("manager_id",),
                            referred_table="db.hr.employees", referred_columns=("id",)),
            TableConstraint(constraint_type=ConstraintType.FOREIGN_KEY, columns=("team_id",),
                            referred_table="db.hr.teams", referred_columns=("id",)),
        ),
    )
    teams = make_table("teams", {"id": "INT"})
    with catalog_for(standin, tmp_path) as catalog:
        # "employees" sorts before "teams": the server would refuse both foreign keys on create.
        catalog.apply([schema_write("hr"), table_write("hr", employees), table_write("hr", teams)], "r1")

        entity = om_table(standin, "hr", "employees")
        assert sorted(c["referredColumns"][0] for c in entity["tableConstraints"] if c.get("referredColumns")) == [
            "svc.db.hr.employees.id", "svc.db.hr.teams.id"]
        assert entity["sourceHash"] == employees.fingerprint()
        create = next(r for r in standin.requests if r.method == "PUT" and r.path == "/api/v1/tables"
                      and r.body["name"] == "employees")
        assert [c["constraintType"] for c in create.body["tableConstraints"]] == ["PRIMARY_KEY"]
        got = catalog.get(fqn("hr", "employees"))
        assert got is not None and Table.model_validate(
            {k: v for k, v in got.items() if k not in ("deleted", "version", "fingerprint")}).canonical() == \
            employees.canonical()

        # A later change of employees alone: its targets exist, so its keys go in the first write.
        standin.reset_log()
        changed = employees.model_copy(update={"description": "People"})
        catalog.apply([table_write("hr", changed)], "r2")
        assert standin.count("PATCH", "/api/v1/tables/") == 1
        assert len(om_table(standin, "hr", "employees")["tableConstraints"]) == 3


def test_a_foreign_key_to_a_table_outside_the_run_waits_for_it(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    orders = Table(
        name="orders",
        columns=(Column(name="id", data_type="INT", data_type_display="int"),
                 Column(name="customer_id", data_type="INT", data_type_display="int")),
        constraints=(TableConstraint(constraint_type=ConstraintType.FOREIGN_KEY, columns=("customer_id",),
                                     referred_table="db.crm.customers", referred_columns=("id",)),),
    )
    with catalog_for(standin, tmp_path) as catalog:
        catalog.apply([table_write("sales", orders)], "r1")  # crm.customers is not in OpenMetadata (yet)

        entity = om_table(standin, "sales", "orders")
        assert "tableConstraints" not in entity
        stored = catalog.read_scope(SERVICE, DB, ["sales"])[fqn("sales", "orders")]
        assert stored.fingerprint != orders.fingerprint()  # so the next run writes it again

        catalog.apply([table_write("crm", make_table("customers", {"id": "INT"}))], "r2")  # another DAG, say
        catalog.apply([table_write("sales", orders)], "r3")  # the next run

        entity = om_table(standin, "sales", "orders")
        assert entity["tableConstraints"][0]["referredColumns"] == ["svc.db.crm.customers.id"]
        assert catalog.read_scope(SERVICE, DB, ["sales"])[fqn("sales", "orders")].fingerprint == orders.fingerprint()


def test_tags_are_created_when_missing_and_existing_ones_used(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    _tag(standin, "PII.Sensitive", description="Curated meaning")
    with catalog_for(standin, tmp_path) as catalog:
        catalog.apply([table_write("s", customers(tags=("PII.Sensitive", "Tier.Tier1")))], "r1")
    tags = {t["fullyQualifiedName"]: t for t in standin.all_entities("tag")}
    assert set(tags) == {"PII.Sensitive", "Tier.Tier1"}
    assert tags["PII.Sensitive"]["description"] == "Curated meaning"  # used as it is
    assert standin.count("PUT", "/api/v1/tags") == 2  # ours for the test setup, then only Tier.Tier1
    assert {c["name"] for c in standin.all_entities("classification")} == {"PII", "Tier"}


def test_an_existing_service_is_never_overwritten(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    response = httpx.put(f"{standin.url}/api/v1/services/databaseServices",
                         json={"name": SERVICE, "serviceType": "Postgres", "description": "Configured by hand"},
                         headers={"Authorization": f"Bearer {PERSON}"})
    assert response.status_code == 201
    standin.reset_log()
    with catalog_for(standin, tmp_path) as catalog:
        catalog.apply([table_write("s", "t")], "r1")
    service = standin.entity("databaseService", SERVICE)
    assert service is not None and (service["serviceType"], service["description"], service["version"]) == (
        "Postgres", "Configured by hand", 0.1)
    assert standin.count("PUT", "/api/v1/services") == 0


def test_a_soft_deleted_table_is_restored_with_the_restore_endpoint(
    standin: OpenMetadataStandIn, tmp_path: Path
) -> None:
    with catalog_for(standin, tmp_path) as catalog:
        catalog.apply([table_write("s", customers())], "r1")
        catalog.delete([fqn("s", "customers")], "r2")
        standin.reset_log()
        catalog.apply([table_write("s", customers(), "restored")], "r3")
    assert standin.count("PUT", "/api/v1/tables/restore", status=200) == 1
    assert standin.count("PUT", "/api/v1/tables", status=201) == 0
    assert om_table(standin, "s", "customers")["deleted"] is False


def test_a_concurrent_first_creation_is_read_and_used(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    """Two tasks create the same schema: the server answers the second insert with 409."""
    with catalog_for(standin, tmp_path) as first, catalog_for(standin, tmp_path) as second:
        assert first.read_scope(SERVICE, DB, ["s"]) == {}  # it saw no schema
        second.apply([schema_write("s")], "r1")  # meanwhile another task created it
        # CatalogGenericExceptionMapper: a duplicate insert is "409 Conflict: Entity already exists".
        standin.inject(409, method="PUT", path_contains="/databaseSchemas", message="Entity already exists")

        first.apply([schema_write("s", description="Sales"), table_write("s", "t")], "r2")

    schema = standin.entity("databaseSchema", f"{SERVICE}.{DB}.s")
    assert schema is not None and schema["description"] == "Sales"
    assert standin.count("PUT", "/api/v1/databaseSchemas", status=409) == 1
    assert om_table(standin, "s", "t")["deleted"] is False


def test_a_patch_of_a_changed_entity_is_refused_then_redone(
    standin: OpenMetadataStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If-Match: a person's edit between our read and our PATCH makes the server answer 412."""
    with catalog_for(standin, tmp_path) as catalog:
        catalog.apply([table_write("s", customers())], "r1")
        writer = catalog._writer
        read = writer._read
        edited = []

        def read_then_someone_edits(kind: str, parts: list[str], fields: str) -> dict[str, Any]:
            entity = read(kind, parts, fields)
            if not edited:
                edited.append(True)
                person_edits(standin, entity, [{"op": "add", "path": "/displayName", "value": "Customers"}])
            return entity

        monkeypatch.setattr(writer, "_read", read_then_someone_edits)
        catalog.apply([table_write("s", customers("Changed"))], "r2")

    patches = [r for r in standin.requests if r.method == "PATCH" and r.headers.get("if-match")]
    assert [r.status for r in patches] == [412, 200]
    assert all(r.headers["if-match"].startswith('W/"') for r in patches)
    entity = om_table(standin, "s", "customers")
    assert (entity["description"], entity["displayName"]) == ("Changed", "Customers")


def test_a_name_openmetadata_cannot_hold_fails_that_table_only(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    quoted = make_table('say "hi"')
    odd_column = make_table("fine", {'col"umn': "INT"})
    with catalog_for(standin, tmp_path) as catalog:
        catalog.apply([table_write("s", quoted), table_write("s", odd_column), table_write("s", "good")], "r1")

        assert sorted(r.fqn for r in catalog.rejected) == sorted([fqn("s", 'say "hi"'), fqn("s", "fine")])
        assert all("cannot hold the name" in r.reason for r in catalog.rejected)
        assert set(catalog.read_scope(SERVICE, DB, ["s"])) == {fqn("s", "good")}  # nothing to delete, ever


def test_stale_extras_never_override_native_fields(standin: OpenMetadataStandIn, tmp_path: Path) -> None:
    table = make_table("t", {"id": "INT", "code": "CHAR"}, row_count=7, properties={"k": "v"})
    with catalog_for(standin, tmp_path) as catalog:
        catalog.apply([table_write("s", table)], "r1")
        entity = om_table(standin, "s", "t")
        extras = json.loads(entity["extension"]["omingestExtras"])
        assert extras["fields"]["columns"] == {'["code"]': {"data_length": None}}
        # Extras that claim native fields (a layout we never write) are not read as such.
        extras["fields"]["description"] = "stale"
        person_edits(standin, entity, [
            {"op": "add", "path": "/extension/omingestExtras", "value": json.dumps(extras)},
            {"op": "add", "path": "/columns/1/dataLength", "value": 10},
        ])
        got = catalog.get(fqn("s", "t"))
        assert got is not None and got["description"] is None and got["row_count"] == 7
        assert got["columns"][1]["data_length"] == 10  # the native value, not the stale "unknown"

        # Written with another sourceHash: stale as a whole, only native fields are read back.
        person_edits(standin, om_table(standin, "s", "t"), [{"op": "add", "path": "/sourceHash", "value": "x" * 32}])
        got = catalog.get(fqn("s", "t"))
        assert got is not None and got["row_count"] is None and got["properties"] == {}


def test_a_value_the_server_kept_is_not_claimed_as_written(
    standin: OpenMetadataStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the server keeps its own value of a field we sent, sourceHash says so and the next run retries."""
    with catalog_for(standin, tmp_path) as catalog:
        catalog.apply([table_write("s", customers())], "r1")
        handle = standin.handle

        def drops_description(method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
            if method == "PATCH" and body:
                ops = [op for op in json.loads(body) if op["path"] != "/description"]
                body = json.dumps(ops).encode()
            return handle(method, path, headers, body)

        monkeypatch.setattr(standin, "handle", drops_description)
        changed = customers("A new comment")
        catalog.apply([table_write("s", changed)], "r2")

        entity = om_table(standin, "s", "customers")
        assert entity["description"] == "One row per customer"
        assert entity["sourceHash"] != changed.fingerprint()
        assert catalog.read_scope(SERVICE, DB, ["s"])[fqn("s", "customers")].fingerprint != changed.fingerprint()

        monkeypatch.setattr(standin, "handle", handle)
        catalog.apply([table_write("s", changed)], "r3")  # the next run: the change arrives
        entity = om_table(standin, "s", "customers")
        assert (entity["description"], entity["sourceHash"]) == ("A new comment", changed.fingerprint())


def test_override_metadata_extra_is_read_and_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from airflow_provider_omingest.hooks.catalog import OmingestCatalogHook

    conn = {"conn_type": "openmetadata", "host": "https://om.example.com", "port": 8585, "password": "jwt",
            "extra": {"override_metadata": "yes", "runs_url": f"sqlite:///{tmp_path}/r.db"}}
    monkeypatch.setenv("AIRFLOW_CONN_OPENMETADATA", json.dumps(conn))
    catalog = OmingestCatalogHook("openmetadata").get_catalog()
    assert isinstance(catalog, OpenMetadataCatalog) and catalog.override_metadata is True

    conn["extra"]["override_metadata"] = "sometimes"
    monkeypatch.setenv("AIRFLOW_CONN_OPENMETADATA", json.dumps(conn))
    with pytest.raises(ConfigError, match="override_metadata.*sometimes"):
        OmingestCatalogHook("openmetadata").get_catalog()


def _tag(standin: OpenMetadataStandIn, tag: str, description: str = "made in the UI") -> None:
    classification, name = tag.split(".")
    headers = {"Authorization": f"Bearer {PERSON}"}
    for path, body in (("classifications", {"name": classification, "description": "UI"}),
                       ("tags", {"name": name, "classification": classification, "description": description})):
        response = httpx.put(f"{standin.url}/api/v1/{path}", json=body, headers=headers)
        assert response.status_code in (200, 201), response.text


# -- view lineage -------------------------------------------------------------------------------


def test_view_lineage_reaches_openmetadata_once_and_follows_the_view(standin: OpenMetadataStandIn,
                                                                     tmp_path: Path) -> None:
    from .catalog_contract import make_view

    catalog = catalog_for(standin, tmp_path)
    catalog.apply([schema_write("s"), table_write("s", make_table("orders", {"id": "INT", "amount": "DECIMAL"})),
                   table_write("s", "customers")], "r1")
    view = make_view("totals", {"s.orders": {"id": ("id",), "total": ("amount",)}, "s.customers": {},
                                "s.missing": {}})
    catalog.apply([table_write("s", view)], "r1")

    orders, totals = om_table(standin, "s", "orders"), om_table(standin, "s", "totals")
    details = standin.lineage[(orders["id"], totals["id"])]
    assert details["source"] == "ViewLineage"
    assert details["columnsLineage"] == [
        {"fromColumns": ["svc.db.s.orders.id"], "toColumn": "svc.db.s.totals.id"},
        {"fromColumns": ["svc.db.s.orders.amount"], "toColumn": "svc.db.s.totals.total"},
    ]
    assert len(standin.lineage) == 2  # s.missing is not in OpenMetadata: no edge
    assert standin.count("PUT", "/api/v1/lineage") == 2

    standin.reset_log()
    catalog.apply([table_write("s", view)], "r2")  # unchanged: nothing is sent
    assert standin.count("PUT", "/api/v1/lineage") == 0

    # Someone adds an edge by hand; the view stops reading orders.
    customers_id = om_table(standin, "s", "customers")["id"]
    standin.lineage[(customers_id, totals["id"])]["source"] = "Manual"
    catalog.apply([table_write("s", make_view("totals", {"s.customers": {}}), "updated")], "r3")
    assert (orders["id"], totals["id"]) not in standin.lineage
    assert (customers_id, totals["id"]) in standin.lineage
    assert [e.upstream for e in catalog.lineage(fqn("s", "totals")).upstream] == [fqn("s", "customers")]


def test_column_lineage_the_server_refuses_is_dropped_not_the_edge(standin: OpenMetadataStandIn,
                                                                   tmp_path: Path) -> None:
    from .catalog_contract import make_view

    catalog = catalog_for(standin, tmp_path)
    catalog.apply([schema_write("s"), table_write("s", "orders")], "r1")
    catalog.apply([table_write("s", make_view("v", {"s.orders": {"id": ("no_such_column",)}}))], "r1")

    orders, view = om_table(standin, "s", "orders"), om_table(standin, "s", "v")
    assert standin.lineage[(orders["id"], view["id"])].get("columnsLineage") is None
    assert standin.count("PUT", "/api/v1/lineage", status=400) == 1
