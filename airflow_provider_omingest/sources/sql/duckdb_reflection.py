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
from dataclasses import dataclass, field
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
from airflow_provider_omingest.sources.view_lineage import with_parsed_lineage

__all__ = [
    "DuckdbSchemaRows",
    "build_duckdb_table",
    "count_duckdb_tables",
    "duckdb_now",
    "list_duckdb_schemas",
    "read_duckdb_rows",
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


@dataclass
class DuckdbSchemaRows:
    """One schema's catalog rows, grouped by relation, before any is mapped to an entity."""

    relations: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    constraints: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))


def read_duckdb_rows(conn: Connection, schema: str, keep: Callable[[str, bool], bool]) -> DuckdbSchemaRows:
    """Read the rows of the relations of one schema that ``keep(name, is_view)`` accepts (three queries).

    :param conn: a connection to DuckDB.
    :param schema: the schema to read.
    :param keep: decides, from the name and whether it is a view, which relations to read.
    """
    rows = DuckdbSchemaRows()
    rows.relations = {
        row.name: row for row in conn.execute(_RELATIONS, {"schema": schema}) if keep(row.name, row.is_view)
    }
    if not rows.relations:
        return rows
    for row in conn.execute(_COLUMNS, {"schema": schema}):
        if row.table_name in rows.relations:
            rows.columns[row.table_name].append(row)
    for row in conn.execute(_CONSTRAINTS, {"schema": schema}):
        if row.table_name in rows.relations:
            rows.constraints[row.table_name].append(row)
    return rows


def build_duckdb_table(rows: DuckdbSchemaRows, name: str, database: str, schema: str) -> Table:
    """Return the table ``name`` of one schema's rows.

    :param rows: the schema's rows (:func:`read_duckdb_rows`).
    :param name: the relation.
    :param database: database name used in the referred-table names of foreign keys.
    :param schema: the schema (the default schema of referred tables).
    """
    rel = rows.relations[name]
    constraints = sorted((_constraint(r, database, schema) for r in rows.constraints.get(name, ())),
                         key=_constraint_order)
    table = Table(
        name=name,
        table_type=TableType.VIEW if rel.is_view else TableType.REGULAR,
        description=rel.comment or None,
        columns=tuple(_column(r) for r in rows.columns.get(name, ())),
        constraints=tuple(constraints),
        view_definition=rel.sql if rel.is_view else None,
        row_count=int(rel.estimated_size) if rel.estimated_size is not None else None,
    )
    # DuckDB keeps no dependencies of views (duckdb_dependencies() lists index and type ones):
    # the upstreams come from the definition.
    return with_parsed_lineage(table, "duckdb", database, schema) if rel.is_view else table


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
    rows = read_duckdb_rows(conn, schema, keep)
    return [build_duckdb_table(rows, name, database, schema) for name in sorted(rows.relations)]


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


def _constraint(row: Any, database: str, schema: str) -> TableConstraint:
    constraint_type = _CONSTRAINT_TYPES[row.constraint_type]
    referred_table = None
    if constraint_type is ConstraintType.FOREIGN_KEY:
        ref_schema, ref_table = _referenced(row.constraint_text, schema, row.referenced_table)
        referred_table = build_fqn(database, ref_schema, ref_table)
    return TableConstraint(
        constraint_type=constraint_type,
        columns=tuple(row.constraint_column_names),
        name=row.constraint_name,
        referred_table=referred_table,
        referred_columns=tuple(row.referenced_column_names or ()),
    )


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
