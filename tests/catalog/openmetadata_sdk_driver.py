"""Drive OpenMetadata's own Python SDK (``openmetadata-ingestion``) against a server; run in the SDK's virtualenv.

``python openmetadata_sdk_driver.py drive URL TOKEN`` runs the SDK's client through its calls,
checking each effect, and ``python openmetadata_sdk_driver.py validate BODIES.json`` validates
recorded request bodies against the SDK's generated pydantic models. Each prints one JSON line
(``{"ok": true, ...}``) or exits non-zero naming what failed. Nothing here imports omingest.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def drive(url: str, token: str, catalog_tables: list[str]) -> dict[str, Any]:
    """Every SDK call the check needs, each with its effect checked."""
    from metadata.generated.schema.api.classification.createClassification import CreateClassificationRequest
    from metadata.generated.schema.api.classification.createTag import CreateTagRequest
    from metadata.generated.schema.api.data.createDatabase import CreateDatabaseRequest
    from metadata.generated.schema.api.data.createDatabaseSchema import CreateDatabaseSchemaRequest
    from metadata.generated.schema.api.data.createTable import CreateTableRequest
    from metadata.generated.schema.api.services.createDatabaseService import CreateDatabaseServiceRequest
    from metadata.generated.schema.entity.data.table import Column, DataType, Table, TableConstraint
    from metadata.generated.schema.entity.services.connections.metadata.openMetadataConnection import (
        AuthProvider,
        OpenMetadataConnection,
    )
    from metadata.generated.schema.entity.services.databaseService import DatabaseService, DatabaseServiceType
    from metadata.generated.schema.security.client.openMetadataJWTClientConfig import (
        OpenMetadataJWTClientConfig,
    )
    from metadata.generated.schema.type.tagLabel import LabelType, State, TagLabel, TagSource
    from metadata.generated.schema.api.lineage.addLineage import AddLineageRequest
    from metadata.generated.schema.type.entityLineage import ColumnLineage, EntitiesEdge, LineageDetails
    from metadata.generated.schema.type.entityLineage import Source as LineageSource
    from metadata.generated.schema.type.entityReference import EntityReference
    from metadata.ingestion.ometa.ometa_api import OpenMetadata

    done: list[str] = []

    def check(condition: bool, what: str) -> None:
        if not condition:
            raise AssertionError(what)
        done.append(what)

    config = OpenMetadataConnection(
        hostPort=f"{url}/api", authProvider=AuthProvider.openmetadata,
        securityConfig=OpenMetadataJWTClientConfig(jwtToken=token), enableVersionValidation=True,
    )
    om = OpenMetadata(config)  # GET /system/version: major.minor must match the client's
    check(om.health_check(), "client construction with version validation, health check")

    service = om.create_or_update(CreateDatabaseServiceRequest(name="sdk_svc",
                                                               serviceType=DatabaseServiceType.CustomDatabase))
    check(om.get_by_name(DatabaseService, "sdk_svc").id == service.id, "create_or_update a database service")
    database = om.create_or_update(CreateDatabaseRequest(name="sdk_db", service=service.fullyQualifiedName))
    schema = om.create_or_update(CreateDatabaseSchemaRequest(name="sdk.schema", database=database.fullyQualifiedName))
    check(schema.fullyQualifiedName.root == 'sdk_svc.sdk_db."sdk.schema"', "a name with a dot is quoted in the FQN")
    om.create_or_update(CreateClassificationRequest(name="SdkClass", description="from the SDK"))
    om.create_or_update(CreateTagRequest(name="Gold", classification="SdkClass", description="gold"))
    label = TagLabel(tagFQN="SdkClass.Gold", source=TagSource.Classification, labelType=LabelType.Automated,
                     state=State.Confirmed)
    columns = [Column(name="id", dataType=DataType.INT), Column(name="name", dataType=DataType.VARCHAR, dataLength=20)]
    create = CreateTableRequest(name="people", databaseSchema=schema.fullyQualifiedName, columns=columns,
                                description="first", tags=[label],
                                tableConstraints=[TableConstraint(constraintType="PRIMARY_KEY", columns=["id"])])
    table = om.create_or_update(create)
    fqn = table.fullyQualifiedName.root
    check(float(table.version.root) == 0.1, "create_or_update creates a table (version 0.1)")
    got = om.get_by_name(Table, fqn, fields=["*"])
    check(got is not None and [c.name.root for c in got.columns] == ["id", "name"]
          and [t.tagFQN.root for t in got.tags] == ["SdkClass.Gold"] and got.description.root == "first"
          and got.tableConstraints[0].columns == ["id"], "get_by_name(fields=['*']) returns every field")
    again = om.create_or_update(create.model_copy(update={"description": "second", "tags": None}))
    check(again.description.root == "first" and [t.tagFQN.root for t in again.tags or []] == ["SdkClass.Gold"],
          "a bot's PUT keeps a non-empty description and merges tags")
    om.create_or_update(CreateTableRequest(name="other", databaseSchema=schema.fullyQualifiedName, columns=columns))
    listed = list(om.list_all_entities(Table, fields=["columns", "tags"], limit=1,
                                       params={"databaseSchema": schema.fullyQualifiedName.root}))
    check(sorted(t.name.root for t in listed) == ["other", "people"] and all(t.columns for t in listed),
          "list_all_entities pages (limit 1) with columns")
    other = om.get_by_name(Table, f"{schema.fullyQualifiedName.root}.other")
    edge = EntitiesEdge(
        fromEntity=EntityReference(id=table.id, type="table"), toEntity=EntityReference(id=other.id, type="table"),
        lineageDetails=LineageDetails(source=LineageSource.ViewLineage, columnsLineage=[
            ColumnLineage(fromColumns=[f"{fqn}.id"], toColumn=f"{other.fullyQualifiedName.root}.id")]))
    answer = om.add_lineage(AddLineageRequest(edge=edge))
    check("error" not in answer and [e["toEntity"] for e in answer.get("downstreamEdges") or []] == [str(other.id.root)],
          "add_lineage (PUT /lineage) and the lineage of the upstream by id")
    lineage = om.get_lineage_by_name(Table, other.fullyQualifiedName.root, up_depth=1, down_depth=0)
    up = lineage.get("upstreamEdges") or []
    check(len(up) == 1 and up[0]["fromEntity"] == str(table.id.root)
          and up[0]["lineageDetails"]["columnsLineage"][0]["toColumn"] == f"{other.fullyQualifiedName.root}.id"
          and {n["fullyQualifiedName"] for n in lineage["nodes"]} == {fqn},
          "get_lineage_by_name returns the edge with its column lineage and the upstream node")
    om.delete_lineage_edge(edge)
    check(not (om.get_lineage_by_name(Table, other.fullyQualifiedName.root) or {}).get("upstreamEdges"),
          "delete_lineage_edge removes the edge")
    by_id = om.get_by_id(Table, table.id, fields=["tags"])
    check(by_id is not None and by_id.fullyQualifiedName.root == fqn, "get_by_id")
    patched = om.patch_description(Table, source=got, description="third", force=True, skip_on_failure=False)
    check(patched is not None and patched.description.root == "third" and float(patched.version.root) == 0.2,
          "patch_description(force=True) replaces the description (a new version)")
    kept = om.patch_description(Table, source=patched, description="fourth", force=False)
    check(kept is None and om.get_by_id(Table, table.id).description.root == "third",
          "patch_description(force=False) keeps a non-empty description")
    om.delete(Table, table.id)
    check(om.get_by_name(Table, fqn) is None, "soft delete hides the table")
    # include= needs fields= too: the SDK appends "&include=…" to the path only after "?fields=…".
    deleted = om.get_by_name(Table, fqn, fields=["*"], include="all")
    check(deleted is not None and deleted.deleted is True, "include='all' returns the soft-deleted table")
    restored = om.restore(Table, table.id)
    check(restored is not None and restored.deleted is False and om.get_by_name(Table, fqn) is not None,
          "restore brings the table back")
    om.delete(Table, table.id, hard_delete=True)
    check(om.get_by_name(Table, fqn, fields=["*"], include="all") is None, "hard delete removes the table")
    for name in catalog_tables:  # tables omingest wrote: the SDK's models must read them
        entity = om.get_by_name(Table, name, fields=["*"])
        check(entity is not None and entity.columns, f"the SDK reads {name} as omingest wrote it")
        versions = om.list_versions(entity_id=entity.id, entity=Table)
        check(len(versions.versions) >= 1, f"list_versions of {name}")
    om.close()
    return {"ok": True, "checks": done}


def validate(path: str) -> dict[str, Any]:
    """Validate each recorded request against the SDK's model for its endpoint."""
    import jsonpatch
    from metadata.generated.schema.api.classification.createClassification import CreateClassificationRequest
    from metadata.generated.schema.api.classification.createTag import CreateTagRequest
    from metadata.generated.schema.api.data.createDatabase import CreateDatabaseRequest
    from metadata.generated.schema.api.data.createDatabaseSchema import CreateDatabaseSchemaRequest
    from metadata.generated.schema.api.data.createTable import CreateTableRequest
    from metadata.generated.schema.api.data.restoreEntity import RestoreEntity
    from metadata.generated.schema.api.lineage.addLineage import AddLineageRequest
    from metadata.generated.schema.api.services.createDatabaseService import CreateDatabaseServiceRequest
    from metadata.generated.schema.entity.data.database import Database
    from metadata.generated.schema.entity.data.databaseSchema import DatabaseSchema
    from metadata.generated.schema.entity.data.table import Table
    from metadata.generated.schema.type.customProperty import CustomProperty

    creates = {"/api/v1/tables": CreateTableRequest, "/api/v1/databaseSchemas": CreateDatabaseSchemaRequest,
               "/api/v1/databases": CreateDatabaseRequest,
               "/api/v1/services/databaseServices": CreateDatabaseServiceRequest,
               "/api/v1/classifications": CreateClassificationRequest, "/api/v1/tags": CreateTagRequest,
               "/api/v1/lineage": AddLineageRequest}
    entities = {"tables": Table, "databaseSchemas": DatabaseSchema, "databases": Database}
    with open(path, encoding="utf-8") as handle:
        records = json.load(handle)
    counts: dict[str, int] = {}
    for number, record in enumerate(records):
        method, route, body = record["method"], record["path"], record["body"]
        where = f"request {number}: {method} {route}"
        try:
            if method == "PUT" and route in creates:
                model = creates[route]
                model.model_validate(body)
            elif method == "PUT" and route.endswith("/restore"):
                model = RestoreEntity
                model.model_validate(body)
            elif method == "PUT" and route.startswith("/api/v1/metadata/types/"):
                model = CustomProperty
                model.model_validate(body)
            elif method == "PATCH":
                # The patch must apply to the entity as the server held it and leave a valid entity.
                model = entities[route.split("/")[3]]
                result = jsonpatch.apply_patch(record["before"], body)
                model.model_validate({k: v for k, v in result.items() if k != "changeDescription"})
            else:
                raise AssertionError(f"{where}: no SDK model for this endpoint")
        except Exception as exc:
            raise AssertionError(f"{where} does not validate: {type(exc).__name__}: {exc}") from exc
        counts[model.__name__] = counts.get(model.__name__, 0) + 1
    return {"ok": True, "validated": len(records), "by_model": counts}


def main(argv: list[str]) -> int:
    started = time.monotonic()
    if argv[1] == "drive":
        result = drive(argv[2], argv[3], argv[4:])
    elif argv[1] == "validate":
        result = validate(argv[2])
    else:
        raise SystemExit(f"unknown command {argv[1]!r}")
    result["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
