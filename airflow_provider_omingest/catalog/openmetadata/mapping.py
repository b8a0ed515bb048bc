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

OpenMetadata has no field for the rest (``properties``, ``row_count``, ``last_altered``, a view's
``upstreams`` as extracted (its edges go to the lineage API too) and ``lineage_unparsed``, a
column's ``default``, a constraint's ``name``), and its server requires two values the source
may not know (``arrayDataType`` of an ``ARRAY``, ``dataLength`` of ``CHAR``-like types). Those,
and only those, travel in one string custom property of the table (the *extras*, see
:func:`extras_value`). The extras also say which ``sourceHash`` they were written with: when
the table's ``sourceHash`` is another, they are stale and not read back. Native fields are
never taken from the extras.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from airflow_provider_omingest.catalog.openmetadata.names import om_fqn
from airflow_provider_omingest.models.fqn import split_fqn

__all__ = [
    "DEFAULT_DATA_LENGTH",
    "column_key",
    "constraint_key",
    "database_request",
    "extras_of",
    "extras_value",
    "schema_body",
    "schema_request",
    "service_request",
    "table_body",
    "table_request",
    "tag_fqns",
    "tag_labels",
    "text_digest",
]

#: ``dataLength`` sent for CHAR-like columns whose length the source did not report
#: (OpenMetadata requires one for these types, as its own ingestion does).
DEFAULT_DATA_LENGTH = 1
_LENGTH_TYPES = frozenset({"CHAR", "VARCHAR", "BINARY", "VARBINARY"})
_UNKNOWN_TYPE = "UNKNOWN"
#: Version of the extras' JSON layout.
EXTRAS_LAYOUT = 2
#: Table fields OpenMetadata has no place for.
_TABLE_EXTRA_FIELDS = ("properties", "row_count", "last_altered", "upstreams", "lineage_unparsed")


def tag_labels(tags: list[str] | tuple[str, ...]) -> list[dict[str, str]]:
    """Return OpenMetadata tag labels for classification tag FQNs (applied by a tool)."""
    return [
        {"tagFQN": tag, "source": "Classification", "labelType": "Automated", "state": "Confirmed"}
        for tag in tags
    ]


def tag_fqns(labels: list[dict[str, Any]] | None) -> list[str]:
    """Return the tag FQNs of OpenMetadata tag labels."""
    return [label["tagFQN"] for label in labels or ()]


def text_digest(text: str | None) -> str | None:
    """A short digest of a description we wrote (so that a later run can tell it is still ours)."""
    if not text:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def column_key(path: list[str]) -> str:
    """The key of a (nested) column in the extras: the JSON of its name path."""
    return json.dumps(path, separators=(",", ":"))


def constraint_key(constraint: dict[str, Any]) -> str:
    """Identify a ``tableConstraints`` entry the way the server does (EntityUtil.tableConstraintMatch)."""
    return json.dumps([constraint.get("constraintType"), sorted(constraint.get("columns") or ()),
                       sorted(constraint.get("referredColumns") or ())], separators=(",", ":"))


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


def database_body(entity: dict[str, Any]) -> dict[str, Any]:
    """Return the database body of an OpenMetadata database entity."""
    return {"name": entity["name"], "description": entity.get("description")}


# -- tables ---------------------------------------------------------------------------------------


def table_request(service: str, database: str, schema: str, body: dict[str, Any], fingerprint: str) -> dict[str, Any]:
    """Return the ``CreateTable`` body of a table entity body (without the extras).

    :param service: Service name.
    :param database: Database name.
    :param schema: Schema name.
    :param body: ``Table.model_dump(mode="json")``.
    :param fingerprint: The structural fingerprint, stored as ``sourceHash``.
    :raises UnrepresentableName: when a name cannot be held by OpenMetadata.
    """
    request: dict[str, Any] = {
        "name": body["name"],
        "databaseSchema": om_fqn(service, database, schema),
        "tableType": body.get("table_type") or "Regular",
        "columns": [_column_request(c) for c in body.get("columns") or ()],
        "sourceHash": fingerprint,
    }
    om_fqn(body["name"], *_column_names(body.get("columns") or ()))  # every name must fit an FQN
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
    return request


def extras_value(body: dict[str, Any], request: dict[str, Any], source_hash: str, written: dict[str, Any]) -> str:
    """Return the extras (compact JSON) of a table: what OpenMetadata has no place for.

    :param body: ``Table.model_dump(mode="json")``.
    :param request: The ``CreateTable`` body sent for it (the constraints actually sent).
    :param source_hash: The ``sourceHash`` written together with these extras.
    :param written: What we wrote of the fields a person may curate (descriptions, tags,
        constraints), so that a later run can tell ours from theirs.
    """
    fields: dict[str, Any] = {f: body[f] for f in _TABLE_EXTRA_FIELDS if body.get(f) not in (None, {}, [])}
    names = {_our_constraint_key(c): c["name"] for c in body.get("constraints") or () if c.get("name")}
    if names:
        fields["constraint_names"] = names
    columns: dict[str, dict[str, Any]] = {}
    _column_extras(body.get("columns") or [], [], columns)
    if columns:
        fields["columns"] = columns
    extras = {"layout": EXTRAS_LAYOUT, "sourceHash": source_hash, "fields": fields, "written": written}
    return json.dumps(extras, sort_keys=True, separators=(",", ":"))


def extras_of(entity: dict[str, Any], extras_property: str | None) -> dict[str, Any] | None:
    """Return the extras stored on an OpenMetadata table, or None (absent, unreadable, other layout)."""
    if not extras_property:
        return None
    raw = (entity.get("extension") or {}).get(extras_property)
    if not isinstance(raw, str):
        return None
    try:
        extras = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(extras, dict) or extras.get("layout") != EXTRAS_LAYOUT:
        return None
    return extras


def table_body(service: str, entity: dict[str, Any], extras_property: str | None) -> dict[str, Any]:
    """Return the table body (as ``Table.model_dump(mode="json")`` gives it) of an OpenMetadata table.

    Native fields come from the entity. The extras fill in only what OpenMetadata has no place
    for, and only when they were written with the ``sourceHash`` the table has now; a
    placeholder (``arrayDataType`` ``UNKNOWN``, ``dataLength`` 1) is read back as "not known"
    only while the entity still holds that placeholder.

    :param service: Service name (to turn referred column FQNs back into relative table names).
    :param entity: The table entity, read with ``columns``, ``tableConstraints``,
        ``tablePartition``, ``tags``, ``schemaDefinition``, ``extension`` and ``sourceHash``.
    :param extras_property: Name of the custom property that carries the extras.
    """
    body = native_table_body(service, entity)
    extras = extras_of(entity, extras_property)
    if extras is None or extras.get("sourceHash") != entity.get("sourceHash"):
        return body
    fields = extras.get("fields") or {}
    for name in _TABLE_EXTRA_FIELDS:
        if name in fields:
            body[name] = fields[name]
    names = fields.get("constraint_names") or {}
    for constraint in body["constraints"]:
        constraint["name"] = names.get(_our_constraint_key(constraint))
    _apply_column_extras(body["columns"], [], fields.get("columns") or {})
    return body


def native_table_body(service: str, entity: dict[str, Any]) -> dict[str, Any]:
    """Return the table body that OpenMetadata's own fields give (request or entity alike)."""
    constraints = list(entity.get("tableConstraints") or ())
    cluster = next((c for c in constraints if c.get("constraintType") == "CLUSTER_KEY"), None)
    if cluster is not None:
        constraints.remove(cluster)
    partition = (entity.get("tablePartition") or {}).get("columns") or ()
    return {
        "name": entity["name"],
        "table_type": entity.get("tableType") or "Regular",
        "description": entity.get("description") or None,
        "columns": [_column_body(c) for c in entity.get("columns") or ()],
        "constraints": [_constraint_body(service, c) for c in constraints],
        "view_definition": entity.get("schemaDefinition"),
        "partition_columns": [p["columnName"] for p in partition if p.get("columnName")],
        "cluster_columns": list(cluster.get("columns") or ()) if cluster else [],
        "tags": tag_fqns(entity.get("tags")),
    }


def _column_names(columns: Any) -> list[str]:
    names: list[str] = []
    for column in columns:
        names.append(column["name"])
        names.extend(_column_names(column.get("children") or ()))
    return names


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
        "description": column.get("description") or None,
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
    from airflow_provider_omingest.catalog.openmetadata.names import om_split
    from airflow_provider_omingest.models.fqn import build_fqn

    referred_table: str | None = None
    referred_columns: list[str] = []
    for column_fqn in constraint.get("referredColumns") or ():
        parts = om_split(column_fqn)
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


def _our_constraint_key(constraint: dict[str, Any]) -> str:
    return json.dumps([constraint.get("constraint_type"), list(constraint.get("columns") or ()),
                       constraint.get("referred_table"), list(constraint.get("referred_columns") or ())],
                      separators=(",", ":"))


def _column_extras(columns: list[dict[str, Any]], path: list[str], out: dict[str, dict[str, Any]]) -> None:
    """What of each column the native mapping cannot give back: its default and unknown placeholders."""
    for column in columns:
        here = [*path, column["name"]]
        extra: dict[str, Any] = {}
        if column.get("default") is not None:
            extra["default"] = column["default"]
        if column.get("array_data_type") is None and column["data_type"] == "ARRAY":
            extra["array_data_type"] = None
        if column.get("data_length") is None and column["data_type"] in _LENGTH_TYPES:
            extra["data_length"] = None
        if not column.get("data_type_display"):
            extra["data_type_display"] = column.get("data_type_display")
        if extra:
            out[column_key(here)] = extra
        _column_extras(column.get("children") or [], here, out)


def _apply_column_extras(columns: list[dict[str, Any]], path: list[str], extras: dict[str, dict[str, Any]]) -> None:
    for column in columns:
        here = [*path, column["name"]]
        extra = extras.get(column_key(here)) or {}
        if "default" in extra:
            column["default"] = extra["default"]
        if "array_data_type" in extra and column["array_data_type"] == _UNKNOWN_TYPE:
            column["array_data_type"] = None
        if "data_length" in extra and column["data_length"] == DEFAULT_DATA_LENGTH:
            column["data_length"] = None
        if "data_type_display" in extra and column["data_type_display"] == column["data_type"].lower():
            column["data_type_display"] = extra["data_type_display"]
        _apply_column_extras(column["children"], here, extras)
