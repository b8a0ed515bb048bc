"""Turn rows of Redshift's catalog views into entities: types, columns, keys, tables.

Everything here is pure: rows in, entities out. Rows are shaped as Redshift documents its
views (``SVV_ALL_COLUMNS``, ``SVV_REDSHIFT_COLUMNS``, ``SVV_TABLE_INFO``, ``SVV_MV_INFO``,
``SVV_EXTERNAL_TABLES``/``COLUMNS``, ``PG_GET_LATE_BINDING_VIEW_COLS``, ``pg_class`` and
``pg_constraint``), so the mapping can be tested without a cluster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_omingest.models.entities import (
    Column,
    ConstraintType,
    Table,
    TableConstraint,
    TableType,
)
from airflow_provider_omingest.models.fqn import build_fqn
from airflow_provider_omingest.sources.column_types import TypeInfo
from airflow_provider_omingest.sources.redshift.ddl import split_column_list

__all__ = [
    "MV_INTERNAL_TABLE",
    "ColumnRow",
    "ConstraintRow",
    "PhysicalColumnRow",
    "RelationRow",
    "build_table",
    "is_late_binding",
    "map_external_type",
    "map_redshift_type",
    "parse_type_string",
]

UNKNOWN = "UNKNOWN"

#: Internal tables Redshift keeps behind each materialized view (``mv_tbl__<name>__0``).
MV_INTERNAL_TABLE = re.compile(r"^mv_tbl__.+__\d+$")

_LATE_BINDING = re.compile(r"with\s+no\s+schema\s+binding\s*;?\s*$", re.IGNORECASE)

#: Redshift type names (as ``SVV_ALL_COLUMNS.data_type`` and ``format_type`` spell them, and
#: their aliases) -> OpenMetadata dataType.
REDSHIFT_TYPE_NAMES: dict[str, str] = {
    "smallint": "SMALLINT",
    "int2": "SMALLINT",
    "integer": "INT",
    "int": "INT",
    "int4": "INT",
    "bigint": "BIGINT",
    "int8": "BIGINT",
    "numeric": "NUMERIC",
    "decimal": "DECIMAL",
    "real": "FLOAT",
    "float4": "FLOAT",
    "double precision": "DOUBLE",
    "float8": "DOUBLE",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "bool": "BOOLEAN",
    "character": "CHAR",
    "char": "CHAR",
    "nchar": "CHAR",
    "bpchar": "CHAR",
    '"char"': "CHAR",
    "character varying": "VARCHAR",
    "varchar": "VARCHAR",
    "nvarchar": "VARCHAR",
    "text": "VARCHAR",
    "name": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamp without time zone": "TIMESTAMP",
    "timestamptz": "TIMESTAMPZ",
    "timestamp with time zone": "TIMESTAMPZ",
    "time": "TIME",
    "time without time zone": "TIME",
    "timetz": "TIME",
    "time with time zone": "TIME",
    "interval": "INTERVAL",
    "interval year to month": "INTERVAL",
    "interval day to second": "INTERVAL",
    "geometry": "GEOMETRY",
    "geography": "GEOGRAPHY",
    "hllsketch": "HLLSKETCH",
    "super": "SUPER",
    "varbyte": "VARBINARY",
    "varbinary": "VARBINARY",
    "binary varying": "VARBINARY",
    "oid": "INT",
    "array": "ARRAY",
    "user-defined": UNKNOWN,
}

#: Spectrum (Hive) type names of external columns -> OpenMetadata dataType.
EXTERNAL_TYPE_NAMES: dict[str, str] = {
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INT",
    "integer": "INT",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "real": "FLOAT",
    "double": "DOUBLE",
    "double precision": "DOUBLE",
    "decimal": "DECIMAL",
    "numeric": "NUMERIC",
    "boolean": "BOOLEAN",
    "string": "STRING",
    "varchar": "VARCHAR",
    "character varying": "VARCHAR",
    "char": "CHAR",
    "character": "CHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BINARY",
    "array": "ARRAY",
    "struct": "STRUCT",
    "map": "MAP",
}

_TYPE_ARGS = re.compile(r"^(?P<base>[^(<]+?)\s*(?:\((?P<args>[^)]*)\))?\s*(?P<suffix>(?:with|without) time zone)?$")


# --------------------------------------------------------------------------- rows


@dataclass
class RelationRow:
    """A table or view as ``pg_class`` (or ``SVV_EXTERNAL_TABLES``) lists it."""

    name: str
    relkind: str
    description: str | None = None
    view_definition: str | None = None
    materialized: bool = False
    external: bool = False
    properties: dict[str, str] = field(default_factory=dict)
    row_count: int | None = None
    #: ``pg_class.oid`` qualified by the database (``None`` for Spectrum tables, which have none).
    object_id: str | None = None

    @property
    def is_view(self) -> bool:
        return self.relkind in ("v", "m")


@dataclass(frozen=True)
class ColumnRow:
    """A row of ``SVV_ALL_COLUMNS`` (or a late-binding view column, or an external column)."""

    table_name: str
    column_name: str
    ordinal_position: int
    data_type: str
    column_default: str | None = None
    is_nullable: str | None = "YES"
    character_maximum_length: int | None = None
    numeric_precision: int | None = None
    numeric_scale: int | None = None
    remarks: str | None = None
    external: bool = False


@dataclass(frozen=True)
class PhysicalColumnRow:
    """A row of ``SVV_REDSHIFT_COLUMNS``: encoding, distribution and sort key position."""

    table_name: str
    column_name: str
    encoding: str | None
    distkey: bool
    sortkey: int


@dataclass(frozen=True)
class ConstraintRow:
    """A row of ``pg_constraint`` with its definition and the referred table, if any."""

    table_name: str
    name: str | None
    contype: str
    definition: str
    referred_schema: str | None = None
    referred_table: str | None = None


# --------------------------------------------------------------------------- types


def map_redshift_type(
    data_type: str,
    length: int | None = None,
    precision: int | None = None,
    scale: int | None = None,
) -> TypeInfo:
    """Normalise a local Redshift column type.

    Accepts both ``SVV_ALL_COLUMNS`` spelling (``character varying`` plus a separate length)
    and ``format_type`` spelling (``character varying(256)``, ``numeric(18,2)``).

    :param data_type: the type name.
    :param length: ``character_maximum_length``.
    :param precision: ``numeric_precision``.
    :param scale: ``numeric_scale``.
    """
    base, args, suffix = parse_type_string(data_type)
    key = f"{base} {suffix}" if suffix else base
    om_type = REDSHIFT_TYPE_NAMES.get(key) or REDSHIFT_TYPE_NAMES.get(base, UNKNOWN)
    if args:
        numbers = [int(a) for a in args.split(",") if a.strip().isdigit()]
        if om_type in ("CHAR", "VARCHAR", "VARBINARY") and numbers:
            length = numbers[0]
        elif om_type in ("NUMERIC", "DECIMAL") and numbers:
            precision, scale = numbers[0], (numbers[1] if len(numbers) > 1 else 0)
    if om_type in ("CHAR", "VARCHAR", "VARBINARY"):
        display = f"{key}({length})" if length else key
        return TypeInfo(om_type, display, data_length=length)
    if om_type in ("NUMERIC", "DECIMAL"):
        display = f"{key}({precision},{scale or 0})" if precision else key
        return TypeInfo(om_type, display, precision=precision, scale=scale if precision else None)
    return TypeInfo(om_type, key)


def parse_type_string(spelled: str) -> tuple[str, str, str]:
    """Split ``timestamp(6) without time zone`` into base, arguments and time-zone suffix.

    :param spelled: the type as the catalog spells it.
    """
    text = spelled.strip().lower()
    match = _TYPE_ARGS.match(text)
    if match is None:
        return text, "", ""
    base = match.group("base").strip()
    suffix = match.group("suffix") or ""
    for tz in ("without time zone", "with time zone"):
        if base.endswith(" " + tz):
            base, suffix = base[: -len(tz) - 1].strip(), tz
    return base, (match.group("args") or "").replace(" ", ""), suffix


def map_external_type(spelled: str) -> tuple[TypeInfo, tuple[Column, ...]]:
    """Normalise a Spectrum column type such as ``array<struct<a:int,b:string>>``.

    :param spelled: ``SVV_EXTERNAL_COLUMNS.external_type``.
    :return: the type and, for a struct, its fields as child columns.
    """
    text = spelled.strip()
    lower = text.lower()
    if lower.startswith("array<") and lower.endswith(">"):
        inner, _ = map_external_type(text[6:-1])
        return TypeInfo("ARRAY", text, array_data_type=inner.data_type), ()
    if lower.startswith("map<"):
        return TypeInfo("MAP", text), ()
    if lower.startswith("struct<") and lower.endswith(">"):
        children = tuple(
            _external_child(name, type_, i) for i, (name, type_) in enumerate(_struct_fields(text[7:-1]), 1)
        )
        return TypeInfo("STRUCT", text), children
    base, args, _ = parse_type_string(text)
    om_type = EXTERNAL_TYPE_NAMES.get(base, UNKNOWN)
    numbers = [int(a) for a in args.split(",") if a.isdigit()]
    if om_type in ("VARCHAR", "CHAR") and numbers:
        return TypeInfo(om_type, text, data_length=numbers[0]), ()
    if om_type in ("DECIMAL", "NUMERIC") and numbers:
        return TypeInfo(om_type, text, precision=numbers[0], scale=numbers[1] if len(numbers) > 1 else 0), ()
    return TypeInfo(om_type, text), ()


def _external_child(name: str, spelled: str, position: int) -> Column:
    info, children = map_external_type(spelled)
    return _column_from_info(name, info, position, children=children)


def _struct_fields(body: str) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    depth, start = 0, 0
    for i, ch in enumerate(body + ","):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            part = body[start:i].strip()
            if part:
                name, _, type_ = part.partition(":")
                fields.append((name.strip().strip("`"), type_.strip()))
            start = i + 1
    return fields


# --------------------------------------------------------------------------- columns


def _column_from_info(
    name: str,
    info: TypeInfo,
    position: int,
    *,
    nullable: bool = True,
    default: str | None = None,
    description: str | None = None,
    children: tuple[Column, ...] = (),
) -> Column:
    return info.column(
        name,
        nullable=nullable,
        default=default,
        description=description or None,
        ordinal_position=position,
        children=children,
    )


def build_column(row: ColumnRow, position: int) -> Column:
    """Return the column entity of one column row.

    :param row: the catalog row.
    :param position: the ordinal position to report (1-based, dense).
    """
    children: tuple[Column, ...] = ()
    if row.external:
        info, children = map_external_type(row.data_type)
    else:
        info = map_redshift_type(
            row.data_type, row.character_maximum_length, row.numeric_precision, row.numeric_scale
        )
    nullable = (row.is_nullable or "YES").strip().upper() not in ("NO", "N", "FALSE", "F")
    return _column_from_info(
        row.column_name,
        info,
        position,
        nullable=nullable,
        default=row.column_default if row.column_default not in (None, "") else None,
        description=row.remarks,
        children=children,
    )


# --------------------------------------------------------------------------- constraints


_CONSTRAINT_TYPES = {"p": ConstraintType.PRIMARY_KEY, "u": ConstraintType.UNIQUE, "f": ConstraintType.FOREIGN_KEY}


def build_constraint(row: ConstraintRow, database: str) -> TableConstraint | None:
    """Return the primary, unique or foreign key of a ``pg_constraint`` row (None for others).

    :param row: the constraint row; ``definition`` is ``pg_get_constraintdef`` output.
    :param database: the database, first part of a foreign key's referred table.
    """
    constraint_type = _CONSTRAINT_TYPES.get(row.contype)
    columns = split_column_list(row.definition)
    if constraint_type is None or not columns:
        return None
    if constraint_type is not ConstraintType.FOREIGN_KEY:
        return TableConstraint(constraint_type=constraint_type, columns=columns, name=row.name)
    if not row.referred_table or not row.referred_schema:
        return None
    return TableConstraint(
        constraint_type=constraint_type,
        columns=columns,
        name=row.name,
        referred_table=build_fqn(database, row.referred_schema, row.referred_table),
        referred_columns=split_column_list(row.definition, after_keyword="references"),
    )


def physical_keys(rows: Iterable[PhysicalColumnRow]) -> tuple[list[TableConstraint], dict[str, str]]:
    """Return the sort and distribution keys, and the properties, from a table's column rows.

    Sort key positions are positive for a compound key and negative for an interleaved one;
    the absolute value is the position in the key.

    :param rows: the ``SVV_REDSHIFT_COLUMNS`` rows of one table.
    """
    rows = list(rows)
    constraints: list[TableConstraint] = []
    properties: dict[str, str] = {}
    sort_rows = sorted((r for r in rows if r.sortkey), key=lambda r: abs(r.sortkey))
    if sort_rows:
        constraints.append(
            TableConstraint(constraint_type=ConstraintType.SORT_KEY, columns=tuple(r.column_name for r in sort_rows))
        )
        properties["sortkey_type"] = "interleaved" if any(r.sortkey < 0 for r in sort_rows) else "compound"
    dist = [r.column_name for r in rows if r.distkey]
    if dist:
        constraints.append(TableConstraint(constraint_type=ConstraintType.DIST_KEY, columns=tuple(dist)))
    encodings = {r.column_name: r.encoding.strip() for r in rows if r.encoding and r.encoding.strip()}
    if encodings:
        properties["column_encodings"] = json.dumps(encodings, sort_keys=True, separators=(",", ":"))
    return constraints, properties


# --------------------------------------------------------------------------- tables


def is_late_binding(view_definition: str | None) -> bool:
    """Return whether a view definition ends with ``WITH NO SCHEMA BINDING``."""
    return bool(view_definition and _LATE_BINDING.search(view_definition.strip()))


def table_type_of(relation: RelationRow) -> TableType:
    """Return the OpenMetadata table type of a relation."""
    if relation.external:
        return TableType.EXTERNAL
    if relation.materialized or relation.relkind == "m":
        return TableType.MATERIALIZED_VIEW
    if relation.relkind == "v":
        return TableType.VIEW
    return TableType.REGULAR


def build_table(
    relation: RelationRow,
    columns: Iterable[ColumnRow],
    *,
    database: str,
    physical: Iterable[PhysicalColumnRow] = (),
    constraints: Iterable[ConstraintRow] = (),
    partition_columns: tuple[str, ...] = (),
) -> Table:
    """Assemble one table from its relation row and the rows read for its schema.

    :param relation: the relation (with properties already gathered).
    :param columns: its column rows, in any order.
    :param database: the database (for foreign keys).
    :param physical: its ``SVV_REDSHIFT_COLUMNS`` rows.
    :param constraints: its ``pg_constraint`` rows.
    :param partition_columns: Spectrum partition columns, in key order.
    """
    ordered = sorted(columns, key=lambda r: r.ordinal_position)
    keys = sorted(
        (c for c in (build_constraint(r, database) for r in constraints) if c is not None),
        key=lambda c: (c.constraint_type.value, c.name or "", c.columns),
    )
    physical_constraints, physical_properties = physical_keys(physical)
    properties = {**relation.properties, **physical_properties}
    definition = relation.view_definition.strip() if relation.view_definition else None
    if relation.relkind == "v" and is_late_binding(definition):
        properties["late_binding"] = "true"
    return Table(
        name=relation.name,
        table_type=table_type_of(relation),
        description=relation.description or None,
        columns=tuple(build_column(r, i) for i, r in enumerate(ordered, start=1)),
        constraints=tuple(keys + physical_constraints),
        view_definition=definition,
        partition_columns=partition_columns,
        properties=properties,
        row_count=relation.row_count,
        object_id=relation.object_id,
    )


def text_or_none(value: Any) -> str | None:
    """Return a catalog value as stripped text (Redshift pads ``char(n)`` columns), or None."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def group_by_table(rows: Iterable[Any]) -> dict[str, list[Any]]:
    """Group rows that have a ``table_name`` attribute by it."""
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(row.table_name, []).append(row)
    return out


def properties_of(values: Mapping[str, Any]) -> dict[str, str]:
    """Return the non-empty values as stripped text, for ``Table.properties``."""
    return {k: t for k, v in values.items() if (t := text_or_none(v)) is not None}
