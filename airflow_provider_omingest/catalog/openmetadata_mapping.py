"""Entities ↔ OpenMetadata (API v1) create requests and entities.

The mapping is native wherever OpenMetadata has a field:

============================  ===========================================================
omingest                      OpenMetadata ``CreateTable``
============================  ===========================================================
``name``                      ``name``
``table_type``                ``tableType`` (same enum values)
``description``               ``description``
``columns``                   ``columns`` (nested ``children``)
``constraints``               ``tableConstraints``; ``referred_columns`` become column FQNs
``view_definition``           ``schemaDefinition``
``partition_columns``         ``tablePartition.columns[].columnName``
``cluster_columns``           a ``CLUSTER_KEY`` table constraint
``tags``                      ``tags`` (``Classification`` tag labels)
fingerprint                   ``sourceHash``
============================  ===========================================================

Columns: ``data_type`` → ``dataType``, ``data_type_display`` → ``dataTypeDisplay``,
``array_data_type`` → ``arrayDataType``, ``data_length`` → ``dataLength``, ``precision``,
``scale``, ``nullable`` → ``constraint`` (``NULL``/``NOT_NULL``), ``description``,
``ordinal_position`` → ``ordinalPosition``, ``tags``, ``children``.

OpenMetadata has no field for the rest (``properties``, ``row_count``, ``last_altered``, a
column's ``default``, a constraint's ``name``, ...), and its server fills two values the
source may not know (``arrayDataType`` of an ``ARRAY``, ``dataLength`` of ``CHAR``-like
types). Whatever the native mapping does not give back exactly is carried, as compact JSON,
in one string custom property of the table (the *extras*, see :func:`table_request`), so that
reading a table back gives exactly the entity that was written.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_omingest.models.fqn import build_fqn, split_fqn

__all__ = [
    "DEFAULT_DATA_LENGTH",
    "database_body",
    "database_request",
    "om_fqn",
    "schema_body",
    "schema_request",
    "service_request",
    "table_body",
    "table_request",
    "tag_fqns",
    "tag_labels",
]

#: ``dataLength`` sent for CHAR-like columns whose length the source did not report
#: (OpenMetadata requires one for these types, as its own ingestion does).
DEFAULT_DATA_LENGTH = 1
_LENGTH_TYPES = frozenset({"CHAR", "VARCHAR", "BINARY", "VARBINARY"})
_UNKNOWN_TYPE = "UNKNOWN"
_COLUMNS_KEY = "columns"


def om_fqn(*parts: str) -> str:
    """Return OpenMetadata's fully qualified name of ``parts`` (parts with dots are quoted)."""
    return build_fqn(*parts)


def tag_labels(tags: list[str] | tuple[str, ...]) -> list[dict[str, str]]:
    """Return OpenMetadata tag labels for classification tag FQNs (applied by a tool)."""
    return [
        {"tagFQN": tag, "source": "Classification", "labelType": "Automated", "state": "Confirmed"}
        for tag in tags
    ]


def tag_fqns(labels: list[dict[str, Any]] | None) -> list[str]:
    """Return the tag FQNs of OpenMetadata tag labels."""
    return [label["tagFQN"] for label in labels or ()]


# -- services, databases, schemas -----------------------------------------------------------------


def service_request(name: str, service_type: str, description: str | None = None) -> dict[str, Any]:
    """Return a ``CreateDatabaseService`` body (no connection: metadata is pushed, not pulled)."""
    body: dict[str, Any] = {"name": name, "serviceType": service_type}
    if description:
        body["description"] = description
    return body


def database_request(service: str, body: dict[str, Any], fingerprint: str | None) -> dict[str, Any]:
    """Return a ``CreateDatabase`` body for a database entity body.

    :param service: Service name.
    :param body: ``Database.model_dump(mode="json")``.
    :param fingerprint: Stored as ``sourceHash`` (None for a bare parent).
    """
    request: dict[str, Any] = {"name": body["name"], "service": om_fqn(service)}
    if body.get("description") is not None:
        request["description"] = body["description"]
    if fingerprint:
        request["sourceHash"] = fingerprint
    return request


def database_body(entity: dict[str, Any]) -> dict[str, Any]:
    """Return the database body of an OpenMetadata database entity."""
    return {"name": entity["name"], "description": entity.get("description")}


def schema_request(
    service: str, database: str, body: dict[str, Any], fingerprint: str | None
) -> dict[str, Any]:
    """Return a ``CreateDatabaseSchema`` body for a schema entity body.

    :param service: Service name.
    :param database: Database name.
    :param body: ``DatabaseSchema.model_dump(mode="json")``.
    :param fingerprint: Stored as ``sourceHash`` (None for a bare parent).
    """
    request: dict[str, Any] = {"name": body["name"], "database": om_fqn(service, database)}
    if body.get("description") is not None:
        request["description"] = body["description"]
    if body.get("tags"):
        request["tags"] = tag_labels(body["tags"])
    if fingerprint:
        request["sourceHash"] = fingerprint
    return request


def schema_body(entity: dict[str, Any]) -> dict[str, Any]:
    """Return the schema body of an OpenMetadata database schema entity."""
    return {"name": entity["name"], "description": entity.get("description"), "tags": tag_fqns(entity.get("tags"))}


# -- tables ---------------------------------------------------------------------------------------


def table_request(
    service: str,
    database: str,
    schema: str,
    body: dict[str, Any],
    fingerprint: str,
    extras_property: str | None,
) -> dict[str, Any]:
    """Return the ``CreateTable`` body of a table entity body.

    :param service: Service name.
    :param database: Database name.
    :param schema: Schema name.
    :param body: ``Table.model_dump(mode="json")``.
    :param fingerprint: The structural fingerprint, stored as ``sourceHash``.
    :param extras_property: Name of the table's string custom property that carries what
        OpenMetadata has no field for; None drops those values.
    """
    request: dict[str, Any] = {
        "name": body["name"],
        "databaseSchema": om_fqn(service, database, schema),
        "tableType": body.get("table_type") or "Regular",
        "columns": [_column_request(c) for c in body.get("columns") or ()],
        "sourceHash": fingerprint,
    }
    if body.get("description") is not None:
        request["description"] = body["description"]
    constraints = [_constraint_request(service, c) for c in body.get("constraints") or ()]
    if body.get("cluster_columns"):
        constraints.append({"constraintType": "CLUSTER_KEY", "columns": list(body["cluster_columns"])})
    if constraints:
        request["tableConstraints"] = constraints
    if body.get("partition_columns"):
        request["tablePartition"] = {"columns": [{"columnName": c} for c in body["partition_columns"]]}
    if body.get("view_definition") is not None:
        request["schemaDefinition"] = body["view_definition"]
    if body.get("tags"):
        request["tags"] = tag_labels(body["tags"])
    if extras_property:
        native = _native_table_body(service, request)
        extras = _extras(body, native)
        request["extension"] = {extras_property: json.dumps(extras, sort_keys=True, separators=(",", ":"))}
    return request


def table_body(service: str, entity: dict[str, Any], extras_property: str | None) -> dict[str, Any]:
    """Return the table body (as ``Table.model_dump(mode="json")`` gives it) of an OpenMetadata table.

    :param service: Service name (to turn referred column FQNs back into relative table names).
    :param entity: The table entity, read with ``columns``, ``tableConstraints``,
        ``tablePartition``, ``tags``, ``schemaDefinition`` and ``extension``.
    :param extras_property: Name of the custom property that carries the extras.
    """
    body = _native_table_body(service, entity)
    raw = ((entity.get("extension") or {}).get(extras_property) if extras_property else None) or "{}"
    extras = json.loads(raw) if isinstance(raw, str) else dict(raw)
    column_extras: dict[str, dict[str, Any]] = extras.pop(_COLUMNS_KEY, {})
    body.update(extras)
    if column_extras:
        _apply_column_extras(body["columns"], [], column_extras)
    return body


def _column_request(column: dict[str, Any]) -> dict[str, Any]:
    data_type = column["data_type"]
    request: dict[str, Any] = {
        "name": column["name"],
        "dataType": data_type,
        "dataTypeDisplay": column.get("data_type_display") or data_type.lower(),
        "constraint": "NULL" if column.get("nullable", True) else "NOT_NULL",
    }
    array_type = column.get("array_data_type")
    if array_type is None and data_type == "ARRAY":
        array_type = _UNKNOWN_TYPE
    if array_type is not None:
        request["arrayDataType"] = array_type
    length = column.get("data_length")
    if length is None and data_type in _LENGTH_TYPES:
        length = DEFAULT_DATA_LENGTH
    if length is not None:
        request["dataLength"] = length
    for ours, theirs in (("precision", "precision"), ("scale", "scale"), ("description", "description"),
                         ("ordinal_position", "ordinalPosition")):
        if column.get(ours) is not None:
            request[theirs] = column[ours]
    if column.get("tags"):
        request["tags"] = tag_labels(column["tags"])
    if column.get("children"):
        request["children"] = [_column_request(c) for c in column["children"]]
    return request


def _column_body(column: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": column["name"],
        "data_type": column["dataType"],
        "data_type_display": column.get("dataTypeDisplay") or column["dataType"].lower(),
        "array_data_type": column.get("arrayDataType"),
        "data_length": column.get("dataLength"),
        "precision": column.get("precision"),
        "scale": column.get("scale"),
        "nullable": column.get("constraint") not in ("NOT_NULL", "PRIMARY_KEY"),
        "default": None,
        "description": column.get("description"),
        "ordinal_position": column.get("ordinalPosition"),
        "tags": tag_fqns(column.get("tags")),
        "children": [_column_body(c) for c in column.get("children") or ()],
    }


def _constraint_request(service: str, constraint: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"constraintType": constraint["constraint_type"], "columns": list(constraint["columns"])}
    referred = list(constraint.get("referred_columns") or ())
    if referred:
        table = constraint.get("referred_table")
        if table:
            parts = split_fqn(table)
            referred = [om_fqn(service, *parts, c) for c in referred]
        request["referredColumns"] = referred
    return request


def _constraint_body(service: str, constraint: dict[str, Any]) -> dict[str, Any]:
    referred_table: str | None = None
    referred_columns: list[str] = []
    for column_fqn in constraint.get("referredColumns") or ():
        try:
            parts = split_fqn(column_fqn)
        except ValueError:
            parts = []
        if len(parts) == 5 and parts[0] == service:
            referred_table = build_fqn(*parts[1:4])
            referred_columns.append(parts[4])
        else:
            referred_columns.append(column_fqn)
    return {
        "constraint_type": constraint["constraintType"],
        "columns": list(constraint.get("columns") or ()),
        "name": None,
        "referred_table": referred_table,
        "referred_columns": referred_columns,
    }


def _native_table_body(service: str, entity: dict[str, Any]) -> dict[str, Any]:
    """Return the table body that OpenMetadata's own fields give (request or entity alike)."""
    constraints = [c for c in entity.get("tableConstraints") or ()]
    cluster = next((c for c in constraints if c.get("constraintType") == "CLUSTER_KEY"), None)
    if cluster is not None:
        constraints.remove(cluster)
    partition = (entity.get("tablePartition") or {}).get("columns") or ()
    return {
        "name": entity["name"],
        "table_type": entity.get("tableType") or "Regular",
        "description": entity.get("description"),
        "columns": [_column_body(c) for c in entity.get("columns") or ()],
        "constraints": [_constraint_body(service, c) for c in constraints],
        "view_definition": entity.get("schemaDefinition"),
        "partition_columns": [p["columnName"] for p in partition if p.get("columnName")],
        "cluster_columns": list(cluster.get("columns") or ()) if cluster else [],
        "tags": tag_fqns(entity.get("tags")),
    }


def _extras(body: dict[str, Any], native: dict[str, Any]) -> dict[str, Any]:
    """Return what ``native`` does not give back of ``body``: top-level fields and column fields."""
    extras: dict[str, Any] = {}
    for field, value in body.items():
        if field == "columns":
            continue
        if field not in native:
            if value not in (None, [], {}, ()):
                extras[field] = value
        elif native[field] != value:
            extras[field] = value
    columns = body.get("columns") or []
    column_extras: dict[str, dict[str, Any]] = {}
    _column_extras(columns, native["columns"], [], column_extras)
    if column_extras:
        extras[_COLUMNS_KEY] = column_extras
    return extras


def _column_extras(
    ours: list[dict[str, Any]], native: list[dict[str, Any]], path: list[str], out: dict[str, dict[str, Any]]
) -> None:
    for column, mapped in zip(ours, native):
        here = [*path, column["name"]]
        diff = {
            field: value
            for field, value in column.items()
            if field != "children" and mapped.get(field, None) != value
        }
        if diff:
            out[json.dumps(here, separators=(",", ":"))] = diff
        _column_extras(column.get("children") or [], mapped.get("children") or [], here, out)


def _apply_column_extras(
    columns: list[dict[str, Any]], path: list[str], extras: dict[str, dict[str, Any]]
) -> None:
    for column in columns:
        here = [*path, column["name"]]
        column.update(extras.get(json.dumps(here, separators=(",", ":")), {}))
        _apply_column_extras(column.get("children") or [], here, extras)
