"""Read PostgreSQL metadata from ``pg_catalog`` in bulk: two statements per work unit.

The first statement lists the unit's schemas (with their comments) and relations; the
selection rule (filters, slice, named tables) is applied to that listing; the second statement
reads every selected relation whole: kind, comment, row estimate, view definition, partition
key, its columns and constraints as JSON arrays, and the structural digest of
:mod:`~airflow_provider_omingest.sources.sql.digests`, computed in the same statement. Types are
mapped once per distinct type (:func:`~airflow_provider_omingest.sources.sql.type_mapping.map_postgres_type`).

Needs PostgreSQL 14 or later (``hash_record_extended``, ``bit_xor``); older servers are read
through SQLAlchemy's Inspector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from airflow_provider_omingest.models.entities import (
    ConstraintType,
    DatabaseSchema,
    Table,
    TableConstraint,
    TableType,
)
from airflow_provider_omingest.models.fqn import build_fqn
from airflow_provider_omingest.sources.sql.digests import (
    PG_DIGEST,
    PG_RELATION_FILTER,
    PG_RELATION_JOINS,
    disable_jit,
    supports_digests,
)
from airflow_provider_omingest.sources.sql.type_mapping import map_postgres_type

__all__ = [
    "PARTITION_COLUMNS",
    "RELKINDS",
    "SchemaListing",
    "TableBuilder",
    "list_relations",
    "object_id",
    "read_relations",
    "row_count",
    "supports_bulk_reads",
]

RELKINDS = {
    "r": TableType.REGULAR,
    "p": TableType.PARTITIONED,
    "v": TableType.VIEW,
    "m": TableType.MATERIALIZED_VIEW,
    "f": TableType.FOREIGN,
}

_CONSTRAINT_TYPES = {"p": ConstraintType.PRIMARY_KEY, "u": ConstraintType.UNIQUE, "f": ConstraintType.FOREIGN_KEY}
_CONSTRAINT_ORDER = {"p": 0, "u": 1, "f": 2}

# Schemas (a missing one is absent) with their comment, and their relations (name = null: none).
_LIST = text(
    f"""
    select n.nspname::text as schema_name, sd.description as schema_description,
           c.oid as oid, c.relname::text as name, c.relkind::text as relkind
    from pg_catalog.pg_namespace n
    left join pg_catalog.pg_description sd
      on sd.objoid = n.oid and sd.classoid = 'pg_catalog.pg_namespace'::regclass and sd.objsubid = 0
    left join pg_catalog.pg_class c
      on c.relnamespace = n.oid and {PG_RELATION_FILTER}
     and (cast(:names as text[]) is null or c.relname = any(cast(:names as text[])))
    where n.nspname = any(cast(:schemas as text[]))
    """
)

# Columns in attnum order: [name, type, typtype, element typtype, domain base type, not null,
# default, comment]. Generated columns have no default (their expression is not a default).
_COLUMN_ITEMS = """json_agg(json_build_array(
                   a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), t.typtype, et.typtype,
                   case when t.typtype = 'd' then pg_catalog.format_type(t.typbasetype, t.typtypmod) end,
                   a.attnotnull,
                   case when a.attgenerated = '' then pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) end,
                   cd.description) order by a.attnum) as items,
               """
_COLUMN_JOINS = """
        join pg_catalog.pg_type t on t.oid = a.atttypid
        left join pg_catalog.pg_type et on et.oid = t.typelem and t.typcategory = 'A'"""

# Keys: [name, type, columns in key order, referred schema, referred table, referred columns].
_CONSTRAINT_ITEMS = """json_agg(json_build_array(
                   co.conname, co.contype,
                   array(select ka.attname from unnest(co.conkey) with ordinality k(num, ord)
                         join pg_catalog.pg_attribute ka on ka.attrelid = co.conrelid and ka.attnum = k.num
                         order by k.ord),
                   rn.nspname, rc.relname,
                   array(select fa.attname from unnest(co.confkey) with ordinality k(num, ord)
                         join pg_catalog.pg_attribute fa on fa.attrelid = co.confrelid and fa.attnum = k.num
                         order by k.ord))
               ) filter (where co.contype in ('p', 'u', 'f')) as items,
               """
_CONSTRAINT_JOINS = """
        left join pg_catalog.pg_class rc on rc.oid = co.confrelid
        left join pg_catalog.pg_namespace rn on rn.oid = rc.relnamespace"""

# A view's (and a materialized view's) query is its ``_RETURN`` rule in pg_rewrite (ev_class = the
# view); pg_depend records a normal dependency of that rule on every relation it reads, one row
# per column read (refobjsubid = attnum) plus one for the whole relation (refobjsubid = 0)
# (https://www.postgresql.org/docs/current/catalog-pg-rewrite.html,
# https://www.postgresql.org/docs/current/catalog-pg-depend.html). The rule's dependency on its own
# view is left out. Which view column each read column feeds is not recorded: only the tables.
#: [[schema, relation], ...] that view ``c`` reads (else null).
UPSTREAMS = """case when c.relkind in ('v', 'm') then (
               select json_agg(json_build_array(u.schema_name, u.name) order by u.schema_name, u.name)
               from (select distinct un.nspname::text as schema_name, uc.relname::text as name
                     from pg_catalog.pg_rewrite r
                     join pg_catalog.pg_depend d
                       on d.classid = 'pg_catalog.pg_rewrite'::regclass and d.objid = r.oid
                      and d.refclassid = 'pg_catalog.pg_class'::regclass and d.deptype = 'n'
                     join pg_catalog.pg_class uc on uc.oid = d.refobjid
                     join pg_catalog.pg_namespace un on un.oid = uc.relnamespace
                     where r.ev_class = c.oid and r.rulename = '_RETURN' and d.refobjid <> c.oid) u) end"""

#: The partition key's columns, in key order, of a partitioned table ``c`` (else null).
PARTITION_COLUMNS = """case when c.relkind = 'p' then array(
               select pa.attname::text
               from pg_catalog.pg_partitioned_table pt
               cross join lateral unnest(pt.partattrs::int2[]) with ordinality as k(attnum, ord)
               join pg_catalog.pg_attribute pa on pa.attrelid = pt.partrelid and pa.attnum = k.attnum
               where pt.partrelid = c.oid
               order by k.ord) end"""

_READ = text(
    """
    select c.oid as oid, c.relkind::text as relkind, c.reltuples::bigint as row_estimate,
           td.description as description, def.view_definition, def.partition_key,
           """
    + PARTITION_COLUMNS
    + """ as partition_columns,
           """
    + UPSTREAMS
    + """ as upstreams,
           cols.items as columns, cons.items as constraints, """
    + PG_DIGEST
    + """ as digest
    from pg_catalog.pg_class c"""
    + PG_RELATION_JOINS.format(
        column_items=_COLUMN_ITEMS,
        column_joins=_COLUMN_JOINS,
        constraint_items=_CONSTRAINT_ITEMS,
        constraint_joins=_CONSTRAINT_JOINS,
    )
    + """
    where c.oid = any(cast(:oids as oid[]))
    """
)


@dataclass
class SchemaListing:
    """One schema as listed: its entity and its relations (name -> (oid, is a view))."""

    schema: DatabaseSchema
    relations: dict[str, tuple[int, bool]] = field(default_factory=dict)


def supports_bulk_reads(conn: Connection) -> bool:
    """Return whether the server is recent enough to be read here (the digest query's version)."""
    return supports_digests(conn)


def list_relations(
    conn: Connection, schemas: Sequence[str], names: Sequence[str] | None = None
) -> dict[str, SchemaListing]:
    """Return the listing of each of ``schemas`` that exists, in one statement.

    :param names: list only relations of these names (in any of the schemas), or all.
    """
    listings: dict[str, SchemaListing] = {}
    params = {"schemas": list(schemas), "names": None if names is None else list(names)}
    for row in conn.execute(_LIST, params):
        listing = listings.get(row.schema_name)
        if listing is None:
            listing = listings[row.schema_name] = SchemaListing(
                DatabaseSchema(name=row.schema_name, description=row.schema_description)
            )
        if row.name is not None:
            listing.relations[row.name] = (row.oid, row.relkind in ("v", "m"))
    return listings


def read_relations(conn: Connection, oids: dict[int, tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Read the relations ``oids`` (oid -> (schema, name)) in one statement; return schema -> name -> row.

    A relation dropped between the listing and this read is left out. The rows are mapped to
    entities by :class:`TableBuilder`, one table at a time.
    """
    rows: dict[str, dict[str, Any]] = {}
    if not oids:
        return rows
    disable_jit(conn)
    for row in conn.execute(_READ, {"oids": list(oids)}):
        schema, name = oids[row.oid]
        rows.setdefault(schema, {})[name] = row
    return rows


class TableBuilder:
    """Map rows of :func:`read_relations` to tables, each distinct type mapped once.

    :param database: the database, for the referred tables of foreign keys and the object ids.
    """

    def __init__(self, database: str) -> None:
        self.database = database
        self._types: dict[tuple[Any, ...], dict[str, Any]] = {}  # thousands of columns, a few dozen types

    def build(self, row: Any, name: str) -> Table:
        """Return the table of one row."""
        # One validation of the whole table (columns as dicts): a third faster than a model per column.
        table_type = RELKINDS[row.relkind]
        return Table.model_validate({
            "name": name,
            "table_type": table_type,
            "description": row.description,
            "columns": [_column(item, i, self._types) for i, item in enumerate(row.columns or (), start=1)],
            "constraints": _constraints(row.constraints or (), self.database),
            "view_definition": row.view_definition.strip() if row.view_definition else None,
            "partition_columns": tuple(row.partition_columns or ()),
            "properties": {"partition_key": row.partition_key} if row.partition_key else {},
            "row_count": row_count(table_type, row.row_estimate),
            "source_digest": row.digest,
            "object_id": object_id(self.database, row.oid),
            "upstreams": [{"table": build_fqn(self.database, schema, relation)}
                          for schema, relation in row.upstreams or ()],
        })


def object_id(database: str, oid: int) -> str:
    """Return a relation's identity in the catalog: its OID, qualified by the database (OIDs are per database).

    The OID survives ``ALTER TABLE … RENAME`` and ``SET SCHEMA``; ``DROP`` and ``CREATE`` give a new one.
    """
    return f"{database}/{oid}"


def _column(item: list[Any], position: int, types: dict[tuple[Any, ...], dict[str, Any]]) -> dict[str, Any]:
    name, spelled, kind, element_kind, domain_base, not_null, default, comment = item
    key = (spelled, kind, element_kind, domain_base)
    type_fields = types.get(key)
    if type_fields is None:
        type_fields = types[key] = map_postgres_type(spelled, kind, element_kind, domain_base)._asdict()
    return {"name": name, "nullable": not not_null, "default": default, "description": comment or None,
            "ordinal_position": position, **type_fields}


def _constraints(items: Sequence[list[Any]], database: str) -> tuple[TableConstraint, ...]:
    ordered = sorted(items, key=lambda i: (_CONSTRAINT_ORDER[i[1]], i[0], tuple(i[2])))
    return tuple(_constraint(item, database) for item in ordered)


def _constraint(item: list[Any], database: str) -> TableConstraint:
    name, contype, columns, referred_schema, referred_table, referred_columns = item
    if contype != "f":
        return TableConstraint(constraint_type=_CONSTRAINT_TYPES[contype], columns=tuple(columns), name=name)
    return TableConstraint(
        constraint_type=ConstraintType.FOREIGN_KEY,
        columns=tuple(columns),
        name=name,
        referred_table=build_fqn(database, referred_schema, referred_table),
        referred_columns=tuple(referred_columns),
    )


def row_count(table_type: TableType, estimate: int | None) -> int | None:
    """Return the row count to report from ``pg_class.reltuples`` (None for views and foreign tables)."""
    # pg_class.reltuples is the planner's estimate, free to read; -1 means never analysed.
    if table_type in (TableType.VIEW, TableType.FOREIGN) or estimate is None or estimate < 0:
        return None
    return int(estimate)


