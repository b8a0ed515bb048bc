"""Snowflake rows → omingest entities, as pure functions.

Every function here takes rows shaped exactly as Snowflake returns them (``INFORMATION_SCHEMA``
views, ``SHOW`` commands, ``SNOWFLAKE.ACCOUNT_USAGE`` views; keys as the connector's
``DictCursor`` gives them) and returns entities, so the mapping is tested without a warehouse.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_omingest.models.changes import TableRef
from airflow_provider_omingest.models.entities import (
    Column,
    ConstraintType,
    DatabaseSchema,
    Table,
    TableConstraint,
    TableType,
    TableUpstream,
)
from airflow_provider_omingest.models.fqn import build_fqn
from airflow_provider_omingest.sources.column_types import TypeInfo, split_top_level
from airflow_provider_omingest.sources.view_lineage import with_parsed_lineage

__all__ = [
    "SNOWFLAKE_TYPE_NAMES",
    "ChangeRows",
    "Relation",
    "TagIndex",
    "ViewDependencies",
    "build_table",
    "column_from_row",
    "constraints_from_show",
    "dependencies_from_rows",
    "object_ids_from_rows",
    "parse_clustering_key",
    "relations_from_rows",
    "resolve_changes",
    "schema_entity",
    "snowflake_type",
    "tag_index",
    "view_lineage",
]

log = logging.getLogger(__name__)

Row = Mapping[str, Any]

#: ``INFORMATION_SCHEMA.COLUMNS.DATA_TYPE`` → OpenMetadata dataType.
SNOWFLAKE_TYPE_NAMES: dict[str, str] = {
    "NUMBER": "NUMBER",
    "DECIMAL": "DECIMAL",
    "NUMERIC": "NUMERIC",
    "DECFLOAT": "DECIMAL",
    "INT": "INT",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "SMALLINT": "SMALLINT",
    "TINYINT": "TINYINT",
    "BYTEINT": "BYTEINT",
    "FLOAT": "FLOAT",
    "FLOAT4": "FLOAT",
    "FLOAT8": "DOUBLE",
    "DOUBLE": "DOUBLE",
    "DOUBLE PRECISION": "DOUBLE",
    "REAL": "FLOAT",
    "TEXT": "VARCHAR",
    "VARCHAR": "VARCHAR",
    "STRING": "VARCHAR",
    "CHAR": "CHAR",
    "CHARACTER": "CHAR",
    "BINARY": "BINARY",
    "VARBINARY": "VARBINARY",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIME": "TIME",
    "DATETIME": "DATETIME",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP_NTZ": "TIMESTAMP",
    "TIMESTAMP_LTZ": "TIMESTAMPZ",
    "TIMESTAMP_TZ": "TIMESTAMPZ",
    "VARIANT": "VARIANT",
    "OBJECT": "JSON",
    "ARRAY": "ARRAY",
    "MAP": "MAP",
    "VECTOR": "ARRAY",
    "GEOGRAPHY": "GEOGRAPHY",
    "GEOMETRY": "GEOMETRY",
}

_UNKNOWN = "UNKNOWN"
_warned: set[str] = set()

#: ``TABLE_TYPE`` values that are views.
_VIEW_TYPES = {"VIEW": TableType.VIEW, "MATERIALIZED VIEW": TableType.MATERIALIZED_VIEW}


# ---------------------------------------------------------------------------------------- values


def text_or_none(value: Any) -> str | None:
    """Return a comment or definition, ``None`` when Snowflake reports it empty."""
    if value is None:
        return None
    value = str(value)
    return value if value.strip() else None


def yes(value: Any) -> bool:
    """Return whether a Snowflake flag is set (``'YES'``, ``'Y'``, ``'true'``, ``'ON'`` or ``True``)."""
    if isinstance(value, bool):
        return value
    return str(value or "").strip().upper() in {"YES", "Y", "TRUE", "ON", "1"}


def _int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return None if value is None else str(value)


# ----------------------------------------------------------------------------------------- types


def snowflake_type(row: Row) -> TypeInfo:
    """Normalise one ``INFORMATION_SCHEMA.COLUMNS`` row's type.

    :param row: with ``DATA_TYPE``, ``CHARACTER_MAXIMUM_LENGTH``, ``NUMERIC_PRECISION`` and
        ``NUMERIC_SCALE``.
    """
    name = str(row.get("DATA_TYPE") or "").strip().upper()
    base = name.split("(", 1)[0].strip()
    data_type = SNOWFLAKE_TYPE_NAMES.get(base)
    if data_type is None:
        if base not in _warned:
            _warned.add(base)
            log.warning("Unknown Snowflake type %r: mapped to %s.", base, _UNKNOWN)
        return TypeInfo(_UNKNOWN, name or _UNKNOWN)
    length = _int(row.get("CHARACTER_MAXIMUM_LENGTH"))
    precision = _int(row.get("NUMERIC_PRECISION"))
    scale = _int(row.get("NUMERIC_SCALE"))
    if data_type in ("NUMBER", "DECIMAL", "NUMERIC") and precision is not None:
        return TypeInfo(data_type, f"{base}({precision},{scale or 0})", precision=precision, scale=scale or 0)
    if data_type in ("VARCHAR", "CHAR", "BINARY", "VARBINARY") and length is not None:
        spelled = "VARCHAR" if base in ("TEXT", "STRING") else base
        return TypeInfo(data_type, f"{spelled}({length})", data_length=length)
    if data_type == "ARRAY":
        return TypeInfo("ARRAY", name, array_data_type="VARIANT" if base == "ARRAY" else "FLOAT")
    return TypeInfo(data_type, name)


def column_from_row(row: Row, tags: Iterable[str] = ()) -> Column:
    """Return the column of one ``INFORMATION_SCHEMA.COLUMNS`` row.

    :param row: the row (``COLUMN_NAME``, ``ORDINAL_POSITION``, ``IS_NULLABLE``, ``COLUMN_DEFAULT``,
        ``COMMENT`` and the type columns).
    :param tags: tag FQNs set on the column.
    """
    info = snowflake_type(row)
    default = row.get("COLUMN_DEFAULT")
    return info.column(
        row["COLUMN_NAME"],
        nullable=yes(row.get("IS_NULLABLE", "YES")),
        default=None if default is None else str(default),
        description=text_or_none(row.get("COMMENT")),
        ordinal_position=_int(row.get("ORDINAL_POSITION")),
        tags=tuple(sorted(tags)),
    )


# ------------------------------------------------------------------------------------- relations


@dataclass
class Relation:
    """A table or view as listed, merged from ``INFORMATION_SCHEMA.TABLES`` and ``SHOW`` outputs."""

    name: str
    table_type: TableType = TableType.REGULAR
    description: str | None = None
    view_definition: str | None = None
    clustering_key: str | None = None
    row_count: int | None = None
    last_altered: str | None = None
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def is_view(self) -> bool:
        """Return whether the relation is a view or materialized view."""
        return self.table_type in (TableType.VIEW, TableType.SECURE_VIEW, TableType.MATERIALIZED_VIEW)


def table_type_of(row: Row) -> TableType:
    """Return the table type of an ``INFORMATION_SCHEMA.TABLES`` row.

    Views and materialized views, external, dynamic, Iceberg and transient tables are told
    apart; event and hybrid tables are regular tables (their kind goes in ``properties``).
    """
    kind = str(row.get("TABLE_TYPE") or "BASE TABLE").upper()
    if kind in _VIEW_TYPES:
        return _VIEW_TYPES[kind]
    if kind == "EXTERNAL TABLE":
        return TableType.EXTERNAL
    if yes(row.get("IS_DYNAMIC")):
        return TableType.DYNAMIC
    if yes(row.get("IS_ICEBERG")):
        return TableType.ICEBERG
    if yes(row.get("IS_TRANSIENT")):
        return TableType.TRANSIENT
    if kind == "TEMPORARY TABLE" or yes(row.get("IS_TEMPORARY")):
        return TableType.LOCAL
    return TableType.REGULAR


def _relation_from_table_row(row: Row) -> Relation:
    properties: dict[str, str] = {}
    kind = str(row.get("TABLE_TYPE") or "").upper()
    if kind == "EVENT TABLE":
        properties["kind"] = "EVENT TABLE"
    if yes(row.get("IS_HYBRID")):
        properties["kind"] = "HYBRID TABLE"
    clustering = text_or_none(row.get("CLUSTERING_KEY"))
    if clustering:
        properties["clustering_key"] = clustering
    return Relation(
        name=row["TABLE_NAME"],
        table_type=table_type_of(row),
        description=text_or_none(row.get("COMMENT")),
        clustering_key=clustering,
        row_count=_int(row.get("ROW_COUNT")),
        last_altered=_iso(row.get("LAST_ALTERED")),
        properties=properties,
    )


def _merge_view_row(relations: dict[str, Relation], row: Row) -> None:
    """Fold one ``SHOW VIEWS`` row (definition, secure, materialized) into the relations."""
    name = row["name"]
    rel = relations.get(name) or Relation(name=name, table_type=TableType.VIEW)
    materialized = yes(row.get("is_materialized")) or rel.table_type is TableType.MATERIALIZED_VIEW
    secure = yes(row.get("is_secure"))
    if materialized:
        rel.table_type = TableType.MATERIALIZED_VIEW
        if secure:
            rel.properties["secure"] = "true"
    else:
        rel.table_type = TableType.SECURE_VIEW if secure else TableType.VIEW
    rel.view_definition = text_or_none(row.get("text"))
    rel.description = rel.description or text_or_none(row.get("comment"))
    relations[name] = rel


def _merge_dynamic_row(relations: dict[str, Relation], row: Row) -> None:
    """Fold one ``SHOW DYNAMIC TABLES`` row (query text, target lag, refresh mode) in."""
    rel = relations.get(row["name"])
    if rel is None:
        return
    rel.table_type = TableType.DYNAMIC
    rel.view_definition = text_or_none(row.get("text"))
    for key in ("target_lag", "refresh_mode", "warehouse"):
        if text_or_none(row.get(key)):
            rel.properties[key] = str(row[key])


def _merge_external_row(relations: dict[str, Relation], row: Row) -> None:
    """Fold one ``SHOW EXTERNAL TABLES`` row (location, file format) in."""
    rel = relations.get(row["name"])
    if rel is None:
        return
    rel.table_type = TableType.EXTERNAL
    for key in ("location", "file_format_name", "file_format_type"):
        if text_or_none(row.get(key)):
            rel.properties[key] = str(row[key])


def relations_from_rows(
    table_rows: Iterable[Row],
    view_rows: Iterable[Row] = (),
    dynamic_rows: Iterable[Row] = (),
    external_rows: Iterable[Row] = (),
) -> dict[str, Relation]:
    """Merge a schema's listings into one relation per name.

    :param table_rows: ``INFORMATION_SCHEMA.TABLES`` rows (tables and, on Snowflake, views).
    :param view_rows: ``SHOW VIEWS`` rows: definitions (also of views the role does not own
        through ``INFORMATION_SCHEMA.VIEWS``), secure and materialized flags.
    :param dynamic_rows: ``SHOW DYNAMIC TABLES`` rows.
    :param external_rows: ``SHOW EXTERNAL TABLES`` rows.
    """
    relations: dict[str, Relation] = {}
    for row in table_rows:
        if table_type_of(row) is TableType.LOCAL:
            continue  # temporary tables belong to another session
        relations[row["TABLE_NAME"]] = _relation_from_table_row(row)
    for row in view_rows:
        _merge_view_row(relations, row)
    for row in dynamic_rows:
        _merge_dynamic_row(relations, row)
    for row in external_rows:
        _merge_external_row(relations, row)
    return relations


_CLUSTER_FUNC = re.compile(r"^\s*LINEAR\s*\((?P<body>.*)\)\s*$", re.IGNORECASE | re.DOTALL)
_IDENT = re.compile(r'^\s*(?:"(?P<quoted>(?:[^"]|"")+)"|(?P<plain>[A-Za-z_][A-Za-z0-9_$]*))\s*$')


def parse_clustering_key(expression: str | None, column_names: Iterable[str] = ()) -> tuple[str, ...]:
    """Return the columns of a clustering key such as ``LINEAR(ID, TO_DATE(TS))``.

    A plain identifier is a column; an expression contributes the table columns it names.

    :param expression: ``CLUSTERING_KEY`` of ``INFORMATION_SCHEMA.TABLES`` (or ``cluster_by`` of
        ``SHOW TABLES``).
    :param column_names: the table's columns, to find those used inside expressions.
    """
    if not expression:
        return ()
    match = _CLUSTER_FUNC.match(expression)
    body = match.group("body") if match else expression.strip().strip("()")
    known = {c.upper(): c for c in column_names}
    out: list[str] = []
    for part in filter(str.strip, split_top_level(body)):
        ident = _IDENT.match(part)
        if ident:
            name = ident.group("quoted").replace('""', '"') if ident.group("quoted") else ident.group("plain")
            resolved = name if ident.group("quoted") else known.get(name.upper(), name.upper())
            candidates = [resolved]
        else:
            words = re.findall(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)', part)
            candidates = [q.replace('""', '"') if q else known.get(w.upper(), "") for q, w in words]
            candidates = [c for c in candidates if c and (c in known.values())]
        for name in candidates:
            if name not in out:
                out.append(name)
    return tuple(out)




# ----------------------------------------------------------------------------------- constraints


def constraints_from_show(
    primary_rows: Iterable[Row],
    unique_rows: Iterable[Row],
    imported_rows: Iterable[Row],
) -> dict[str, list[TableConstraint]]:
    """Return table name → constraints from ``SHOW PRIMARY KEYS / UNIQUE KEYS / IMPORTED KEYS``.

    Rows are grouped by constraint name and ordered by ``key_sequence``; a foreign key's
    ``referred_table`` is ``database.schema.table`` of the primary key side.
    """
    out: dict[str, list[TableConstraint]] = defaultdict(list)
    for rows, kind in ((primary_rows, ConstraintType.PRIMARY_KEY), (unique_rows, ConstraintType.UNIQUE)):
        groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for row in rows:
            groups[(row["table_name"], row.get("constraint_name") or "")].append(row)
        for (table, name), members in sorted(groups.items()):
            members.sort(key=lambda r: _int(r.get("key_sequence")) or 0)
            out[table].append(TableConstraint(
                constraint_type=kind, columns=tuple(r["column_name"] for r in members), name=name or None,
            ))
    fks: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in imported_rows:
        if not (row.get("pk_database_name") and row.get("pk_schema_name") and row.get("pk_table_name")):
            continue  # not a usable foreign key row (the referenced table is not named)
        fks[(row["fk_table_name"], row.get("fk_name") or "")].append(row)
    for (table, name), members in sorted(fks.items()):
        members.sort(key=lambda r: _int(r.get("key_sequence")) or 0)
        first = members[0]
        out[table].append(TableConstraint(
            constraint_type=ConstraintType.FOREIGN_KEY,
            columns=tuple(r["fk_column_name"] for r in members),
            name=name or None,
            referred_table=build_fqn(first["pk_database_name"], first["pk_schema_name"], first["pk_table_name"]),
            referred_columns=tuple(r["pk_column_name"] for r in members),
        ))
    return dict(out)


# ------------------------------------------------------------------------------------------ tags


@dataclass
class TagIndex:
    """Tags of one schema's objects, as tag FQNs ``TAG_NAME.TAG_VALUE`` (OpenMetadata's layout)."""

    schema: list[str] = field(default_factory=list)
    tables: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    columns: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))


def tag_fqn(row: Row) -> str:
    """Return the tag FQN of one ``TAG_REFERENCES`` row: classification ``TAG_NAME``, tag ``TAG_VALUE``."""
    value = text_or_none(row.get("TAG_VALUE")) or row["TAG_NAME"]
    return build_fqn(row["TAG_NAME"], value)


def tag_index(rows: Iterable[Row]) -> dict[tuple[str, str], TagIndex]:
    """Group ``SNOWFLAKE.ACCOUNT_USAGE.TAG_REFERENCES`` rows by (database, schema).

    ``DOMAIN`` says what carries the tag: ``SCHEMA`` (``OBJECT_NAME`` is the schema),
    ``TABLE`` (tables and views) or ``COLUMN`` (``OBJECT_NAME`` is the table, ``COLUMN_NAME`` the
    column). Rows of dropped objects (``OBJECT_DELETED`` set) are ignored.
    """
    out: dict[tuple[str, str], TagIndex] = defaultdict(TagIndex)
    for row in rows:
        if row.get("OBJECT_DELETED"):
            continue
        domain = str(row.get("DOMAIN") or "").upper()
        database = row["OBJECT_DATABASE"]
        tag = tag_fqn(row)
        if domain == "SCHEMA":
            _add(out[(database, row["OBJECT_NAME"])].schema, tag)
        elif domain == "TABLE":
            _add(out[(database, row["OBJECT_SCHEMA"])].tables[row["OBJECT_NAME"]], tag)
        elif domain == "COLUMN":
            _add(out[(database, row["OBJECT_SCHEMA"])].columns[(row["OBJECT_NAME"], row["COLUMN_NAME"])], tag)
    return dict(out)


def _add(target: list[str], tag: str) -> None:
    if tag not in target:
        target.append(tag)


# ---------------------------------------------------------------------------------------- tables


def schema_entity(row: Row, tags: TagIndex | None = None) -> DatabaseSchema:
    """Return the schema of one ``INFORMATION_SCHEMA.SCHEMATA`` row."""
    return DatabaseSchema(
        name=row["SCHEMA_NAME"],
        description=text_or_none(row.get("COMMENT")),
        tags=tuple(sorted(tags.schema)) if tags else (),
    )


def build_table(
    relation: Relation,
    column_rows: list[Row],
    constraints: list[TableConstraint],
    tags: TagIndex | None = None,
    *,
    object_id: str | None = None,
) -> Table:
    """Return a table from its relation, its ``INFORMATION_SCHEMA.COLUMNS`` rows and constraints.

    :param object_id: the table's ``TABLE_ID`` (``ACCOUNT_USAGE.TABLES``), when known.
    """
    column_rows = sorted(column_rows, key=lambda r: _int(r.get("ORDINAL_POSITION")) or 0)
    columns = tuple(
        column_from_row(r, tags.columns.get((relation.name, r["COLUMN_NAME"]), ()) if tags else ())
        for r in column_rows
    )
    return Table(
        name=relation.name,
        table_type=relation.table_type,
        description=relation.description,
        columns=columns,
        constraints=tuple(constraints),
        view_definition=relation.view_definition,
        cluster_columns=parse_clustering_key(relation.clustering_key, (c.name for c in columns)),
        tags=tuple(sorted(tags.tables.get(relation.name, ()))) if tags else (),
        properties=dict(relation.properties),
        row_count=relation.row_count,
        last_altered=relation.last_altered,
        object_id=object_id,
    )


@dataclass(frozen=True)
class ViewDependencies:
    """What ``OBJECT_DEPENDENCIES`` says one view name reads, per incarnation of the view."""

    #: ``REFERENCING_OBJECT_ID`` (None where a row has none) -> fully qualified names
    #: (database.schema.object) of the objects that incarnation reads, sorted.
    by_id: dict[str | None, tuple[str, ...]]

    def of(self, object_id: str | None) -> tuple[str, ...] | None:
        """Return what the incarnation ``object_id`` reads; None if the rows are not (known to be) its own.

        :param object_id: the view's ``TABLE_ID`` from ``ACCOUNT_USAGE.TABLES``, None if not known.
        """
        if object_id is not None:
            return self.by_id.get(object_id)
        return next(iter(self.by_id.values())) if len(self.by_id) == 1 else None


def dependencies_from_rows(
    database: str, rows: Iterable[Mapping[str, Any]]
) -> dict[tuple[str, str, str], ViewDependencies]:
    """Return (database, schema, view) -> what it reads, from ``OBJECT_DEPENDENCIES`` rows.

    One row per dependency (https://docs.snowflake.com/en/sql-reference/account-usage/object_dependencies):
    the referencing view's schema, name and object id; the referenced object's database, schema
    and name. A view reading two tables has two rows.

    :param database: the database the rows were read for (``REFERENCING_DATABASE``).
    :param rows: rows with ``REFERENCING_SCHEMA``, ``REFERENCING_OBJECT_NAME``,
        ``REFERENCING_OBJECT_ID``, ``REFERENCED_DATABASE``, ``REFERENCED_SCHEMA`` and
        ``REFERENCED_OBJECT_NAME``.
    """
    found: dict[tuple[str, str, str], dict[str | None, dict[str, None]]] = {}
    for row in rows:
        key = (database, row["REFERENCING_SCHEMA"], row["REFERENCING_OBJECT_NAME"])
        object_id = None if row.get("REFERENCING_OBJECT_ID") is None else str(row["REFERENCING_OBJECT_ID"])
        fqn = build_fqn(row["REFERENCED_DATABASE"], row["REFERENCED_SCHEMA"], row["REFERENCED_OBJECT_NAME"])
        found.setdefault(key, {}).setdefault(object_id, {})[fqn] = None
    return {key: ViewDependencies({i: tuple(sorted(ups)) for i, ups in by_id.items()}) for key, by_id in found.items()}


def view_lineage(table: Table, found: ViewDependencies | None, database: str, schema: str) -> Table:
    """Return the view ``table`` with its upstreams: from ``OBJECT_DEPENDENCIES`` if it knows this view, else parsed.

    ``OBJECT_DEPENDENCIES`` lags up to three hours
    (https://docs.snowflake.com/en/sql-reference/account-usage/object_dependencies): a view created
    since has no rows, and one replaced since (``CREATE OR REPLACE VIEW``: a new object id) has the
    rows of its former incarnation only. Both are recognised (no rows for the view's ``TABLE_ID``)
    and the definition is parsed instead (sqlglot, dialect ``snowflake``, unquoted names
    upper-cased as Snowflake stores them).

    With its rows, the tables are Snowflake's own answer and need no definition, which a secure
    view shows only to its owner's role (https://docs.snowflake.com/en/user-guide/views-secure).
    Column lineage, which ``OBJECT_DEPENDENCIES`` does not give, is taken from the parsed
    definition where it has one.
    """
    exact = found.of(table.object_id) if found is not None else None
    parsed = with_parsed_lineage(table, "snowflake", database, schema, normalize=True)
    if exact is None:
        return parsed
    columns = {u.table: u.columns for u in parsed.upstreams}
    return table.model_copy(update={
        "upstreams": tuple(TableUpstream(table=fqn, columns=columns.get(fqn, ())) for fqn in exact),
        "lineage_unparsed": None,
    })


def object_ids_from_rows(database: str, rows: Iterable[Row]) -> dict[tuple[str, str], dict[str, str]]:
    """Return (database, schema) -> table -> ``TABLE_ID`` of live ``ACCOUNT_USAGE.TABLES`` rows.

    A name has one live incarnation; while the view lags, an old one may still show as live: the
    newest ``CREATED`` wins.

    :param database: the database the rows were read for.
    :param rows: rows with ``TABLE_SCHEMA``, ``TABLE_NAME``, ``TABLE_ID`` and ``CREATED``.
    """
    newest: dict[tuple[str, str], tuple[Any, str]] = {}
    for row in rows:
        key = (row["TABLE_SCHEMA"], row["TABLE_NAME"])
        created = row.get("CREATED")
        if key not in newest or (created is not None and (newest[key][0] is None or created > newest[key][0])):
            newest[key] = (created, str(row["TABLE_ID"]))
    out: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for (schema, name), (_created, table_id) in newest.items():
        out[(database, schema)][name] = table_id
    return dict(out)


# --------------------------------------------------------------------------------------- changes


@dataclass
class ChangeRows:
    """What ``ACCOUNT_USAGE.TABLES`` / ``SCHEMATA`` rows in a window say, resolved per name."""

    changed: list[TableRef] = field(default_factory=list)
    dropped: list[TableRef] = field(default_factory=list)
    altered_before_window: list[TableRef] = field(default_factory=list)
    created_schemas: list[tuple[str, str]] = field(default_factory=list)
    dropped_schemas: list[tuple[str, str]] = field(default_factory=list)
    object_ids: dict[str, TableRef] = field(default_factory=dict)


def resolve_changes(rows: Iterable[Row]) -> ChangeRows:
    """Resolve change-log rows to changed and dropped names.

    Each row is one incarnation (``TABLE_ID``) of a name; ``KIND`` is ``TABLE`` or ``SCHEMA``,
    ``IS_DELETED`` says whether that incarnation was dropped and ``CREATED_BEFORE`` whether it
    was created before the window. A name **exists** if any of its incarnations is not
    deleted, whatever the order of the rows: ``CREATE OR REPLACE`` leaves a dropped
    incarnation whose ``LAST_DDL`` is *later* than the live one's (the fault of OpenMetadata
    issue #28053). A name is dropped only when every incarnation in the window is deleted.
    A live incarnation created before the window was altered — or renamed, which the view
    cannot tell apart: those are listed in ``altered_before_window``. The ``TABLE_ID`` of each
    changed name's live incarnation is in ``object_ids``: the engine finds moves with it.
    """
    tables: dict[TableRef, list[Row]] = defaultdict(list)
    schemas: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        if str(row.get("KIND") or "TABLE").upper() == "SCHEMA":
            schemas[(row["TABLE_CATALOG"], row["TABLE_SCHEMA"])].append(row)
        elif str(row.get("TABLE_TYPE") or "").upper() != "TEMPORARY TABLE":
            ref = TableRef(database=row["TABLE_CATALOG"], schema_name=row["TABLE_SCHEMA"], table=row["TABLE_NAME"])
            tables[ref].append(row)
    out = ChangeRows()
    for ref in sorted(tables, key=lambda r: (r.database, r.schema_name, r.table)):
        live = [r for r in tables[ref] if not yes(r.get("IS_DELETED"))]
        if not live:
            out.dropped.append(ref)
            continue
        out.changed.append(ref)
        current = max(live, key=lambda r: (r.get("CREATED") is not None, r.get("CREATED") or 0))
        if current.get("TABLE_ID") is not None:
            out.object_ids[str(current["TABLE_ID"])] = ref
        if all(yes(r.get("CREATED_BEFORE")) for r in live):
            out.altered_before_window.append(ref)
    for key in sorted(schemas):
        live = [r for r in schemas[key] if not yes(r.get("IS_DELETED"))]
        if not live:
            out.dropped_schemas.append(key)
        elif not all(yes(r.get("CREATED_BEFORE")) for r in live):
            out.created_schemas.append(key)
    return out
