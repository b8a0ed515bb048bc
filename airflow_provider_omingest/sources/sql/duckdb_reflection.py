"""Read DuckDB metadata from its catalog functions, one query per facet per schema.

duckdb-engine's Inspector sends PostgreSQL catalog queries that DuckDB cannot answer for
constraints, so DuckDB is read here from ``duckdb_schemas()``, ``duckdb_tables()``,
``duckdb_views()``, ``duckdb_columns()`` and ``duckdb_constraints()``, always restricted to
the current database (attached catalogs are other databases).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from airflow_provider_omingest.models.entities import (
    Column,
    ConstraintType,
    DatabaseSchema,
    Table,
    TableConstraint,
    TableType,
)
from airflow_provider_omingest.models.fqn import build_fqn
from airflow_provider_omingest.sources.sql.type_mapping import map_duckdb_type, split_duckdb_struct_fields

__all__ = [
    "count_duckdb_tables",
    "duckdb_now",
    "list_duckdb_schemas",
    "read_duckdb_schema",
    "reflect_duckdb_tables",
]

_CONSTRAINT_TYPES = {
    "PRIMARY KEY": ConstraintType.PRIMARY_KEY,
    "UNIQUE": ConstraintType.UNIQUE,
    "FOREIGN KEY": ConstraintType.FOREIGN_KEY,
}

#: Constraints are listed primary key first, then unique, then foreign keys (each by name).
_ORDER = {ConstraintType.PRIMARY_KEY: 0, ConstraintType.UNIQUE: 1, ConstraintType.FOREIGN_KEY: 2}

_IDENT = r'(?:"(?:[^"]|"")*"|[^\s."(]+)'
_REFERENCES = re.compile(rf"REFERENCES\s+(?:(?P<schema>{_IDENT})\.)?(?P<table>{_IDENT})\s*\(", re.IGNORECASE)

_LIST_SCHEMAS = text(
    """
    select s.schema_name
    from duckdb_schemas() s
    where s.database_name = current_database()
      and s.schema_name not in ('information_schema', 'pg_catalog')
      and (not s.internal
           or exists (select 1 from duckdb_tables() t
                      where t.database_name = s.database_name and t.schema_name = s.schema_name)
           or exists (select 1 from duckdb_views() v
                      where v.database_name = s.database_name and v.schema_name = s.schema_name
                        and not v.internal))
    order by s.schema_name
    """
)

_COUNT_TABLES = text(
    """
    select schema_name, count(*) from (
        select schema_name from duckdb_tables()
        where database_name = current_database() and not temporary
        union all
        select schema_name from duckdb_views()
        where database_name = current_database() and not internal and not temporary
    ) where schema_name in :schemas
    group by schema_name
    """
).bindparams(bindparam("schemas", expanding=True))

_SCHEMA = text(
    """
    select comment from duckdb_schemas()
    where database_name = current_database() and schema_name = :schema
    """
)

_RELATIONS = text(
    """
    select table_name as name, false as is_view, comment, estimated_size, null as sql
    from duckdb_tables()
    where database_name = current_database() and schema_name = :schema and not temporary
    union all
    select view_name, true, comment, null, sql
    from duckdb_views()
    where database_name = current_database() and schema_name = :schema
      and not internal and not temporary
    """
)

_COLUMNS = text(
    """
    select table_name, column_name, column_index, comment, column_default, is_nullable, data_type,
           character_maximum_length, numeric_precision, numeric_scale
    from duckdb_columns()
    where database_name = current_database() and schema_name = :schema and not internal
    order by table_name, column_index
    """
)

_CONSTRAINTS = text(
    """
    select table_name, constraint_type, constraint_name, constraint_column_names, constraint_text,
           referenced_table, referenced_column_names
    from duckdb_constraints()
    where database_name = current_database() and schema_name = :schema
      and constraint_type in ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
    order by table_name, constraint_index
    """
)


def duckdb_now(conn: Connection) -> datetime:
    """Return DuckDB's ``current_timestamp`` as an aware UTC datetime (no pytz needed)."""
    micros = conn.execute(text("select epoch_us(current_timestamp)")).scalar_one()
    return datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc)


def list_duckdb_schemas(conn: Connection) -> list[str]:
    """Return the schemas of the current database; ``main`` only when it holds relations.

    :param conn: a connection to DuckDB.
    """
    return [row[0] for row in conn.execute(_LIST_SCHEMAS)]


def count_duckdb_tables(conn: Connection, schemas: Collection[str]) -> dict[str, int]:
    """Return the number of tables and views per schema, in one query.

    :param conn: a connection to DuckDB.
    :param schemas: the schemas to count.
    """
    if not schemas:
        return {}
    counts = {s: 0 for s in schemas}
    for schema, count in conn.execute(_COUNT_TABLES, {"schemas": list(schemas)}):
        counts[schema] = int(count)
    return counts


def read_duckdb_schema(conn: Connection, schema: str) -> DatabaseSchema | None:
    """Return the schema entity, or ``None`` if the schema does not exist.

    :param conn: a connection to DuckDB.
    :param schema: the schema name.
    """
    row = conn.execute(_SCHEMA, {"schema": schema}).first()
    if row is None:
        return None
    return DatabaseSchema(name=schema, description=row[0] or None)


def reflect_duckdb_tables(
    conn: Connection,
    database: str,
    schema: str,
    keep: Callable[[str, bool], bool],
) -> list[Table]:
    """Read the tables and views of one schema that ``keep(name, is_view)`` accepts.

    :param conn: a connection to DuckDB.
    :param database: database name used in the referred-table names of foreign keys.
    :param schema: the schema to read.
    :param keep: decides, from the name and whether it is a view, which relations to read.
    """
    relations = {
        row.name: row for row in conn.execute(_RELATIONS, {"schema": schema}) if keep(row.name, row.is_view)
    }
    if not relations:
        return []
    columns = _columns_by_table(conn, schema, relations)
    constraints = _constraints_by_table(conn, database, schema, relations)
    return [
        Table(
            name=name,
            table_type=TableType.VIEW if rel.is_view else TableType.REGULAR,
            description=rel.comment or None,
            columns=tuple(columns.get(name, ())),
            constraints=tuple(constraints.get(name, ())),
            view_definition=rel.sql if rel.is_view else None,
            row_count=int(rel.estimated_size) if rel.estimated_size is not None else None,
        )
        for name, rel in sorted(relations.items())
    ]


def _columns_by_table(conn: Connection, schema: str, wanted: Collection[str]) -> dict[str, list[Column]]:
    out: dict[str, list[Column]] = defaultdict(list)
    for row in conn.execute(_COLUMNS, {"schema": schema}):
        if row.table_name in wanted:
            out[row.table_name].append(_column(row))
    return out


def _column(row: Any) -> Column:
    info = map_duckdb_type(row.data_type)
    return info.column(
        row.column_name,
        data_length=row.character_maximum_length if row.character_maximum_length else info.data_length,
        nullable=bool(row.is_nullable),
        default=row.column_default,
        description=row.comment or None,
        ordinal_position=int(row.column_index),
        children=_struct_children(row.data_type),
    )


def _struct_children(type_string: str) -> tuple[Column, ...]:
    children = []
    for position, (name, field_type) in enumerate(split_duckdb_struct_fields(type_string), start=1):
        children.append(
            map_duckdb_type(field_type).column(
                name, ordinal_position=position, children=_struct_children(field_type)
            )
        )
    return tuple(children)


def _constraints_by_table(
    conn: Connection, database: str, schema: str, wanted: Collection[str]
) -> dict[str, list[TableConstraint]]:
    out: dict[str, list[TableConstraint]] = defaultdict(list)
    for row in conn.execute(_CONSTRAINTS, {"schema": schema}):
        if row.table_name not in wanted:
            continue
        constraint_type = _CONSTRAINT_TYPES[row.constraint_type]
        referred_table = None
        if constraint_type is ConstraintType.FOREIGN_KEY:
            ref_schema, ref_table = _referenced(row.constraint_text, schema, row.referenced_table)
            referred_table = build_fqn(database, ref_schema, ref_table)
        out[row.table_name].append(
            TableConstraint(
                constraint_type=constraint_type,
                columns=tuple(row.constraint_column_names),
                name=row.constraint_name,
                referred_table=referred_table,
                referred_columns=tuple(row.referenced_column_names or ()),
            )
        )
    for constraints in out.values():
        constraints.sort(key=_constraint_order)
    return out


def _constraint_order(constraint: TableConstraint) -> tuple[int, str, tuple[str, ...]]:
    return _ORDER[constraint.constraint_type], constraint.name or "", constraint.columns


def _referenced(constraint_text: str, schema: str, referenced_table: str) -> tuple[str, str]:
    match = _REFERENCES.search(constraint_text or "")
    if match is None:
        return schema, referenced_table
    ref_schema = _unquote(match.group("schema")) if match.group("schema") else schema
    return ref_schema, _unquote(match.group("table"))


def _unquote(ident: str) -> str:
    if ident.startswith('"') and ident.endswith('"'):
        return ident[1:-1].replace('""', '"')
    return ident
