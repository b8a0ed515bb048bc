"""Structural digests of tables, computed in the database, per dialect.

A digest is the MD5 of a canonical text of everything the generic SQLAlchemy source reads about
a relation (kind, comment, columns, constraints, view definition, partition key), and of
nothing that changes with the data (row counts, statistics, sizes). One query returns the
digests of every relation of the given schemas; see
:meth:`~airflow_provider_omingest.sources.sql.source.SqlAlchemySource.table_digests`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

__all__ = [
    "DIGEST_DIALECTS",
    "PG_DIGEST",
    "PG_DIGEST_MIN_VERSION",
    "PG_RELATION_FILTER",
    "PG_RELATION_JOINS",
    "disable_jit",
    "read_table_digests",
    "supports_digests",
]

log = logging.getLogger(__name__)

#: Dialects with a digest query.
DIGEST_DIALECTS = frozenset({"postgresql", "duckdb", "sqlite"})

# PostgreSQL (14 and later: hash_record_extended, bit_xor). The same relations as the extraction
# reads (partitions are part of their parent). Each column is hashed as a record of what the
# extraction reads (position, name, type, nullability, default, identity, generation, comment;
# the type's name too for user-defined types, which can be renamed), and the column hashes are
# XOR-ed: no string is built per column, which made the digest of 10,000 tables twice as slow.
# Constraints are hashed from their catalog rows plus the referred table's and columns' names
# (renaming them moves the digest); pg_get_constraintdef() would build the relation cache of
# every table on a new connection, doubling the cost of a first digest. Views keep their
# definition text. pg_description is joined rather than read through
# obj_description()/col_description(), which are SQL functions run as nested statements.
# Every variable field of the final text is quote_nullable()d, so the separators are unambiguous.
#
# The fragments below are shared with the extraction query
# (:mod:`~airflow_provider_omingest.sources.sql.postgres_reflection`), which computes the same digest
# in the same statement as the structure it reads.

#: A column as hashed; ``a`` is pg_attribute, ``ad`` pg_attrdef, ``cd`` the column's pg_description.
PG_COLUMN_RECORD = """(a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attidentity,
                a.attgenerated, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), cd.description,
                case when a.atttypid >= 16384 then pg_catalog.format_type(a.atttypid, a.atttypmod) end)"""

#: Lateral joins on a relation ``c`` (pg_class): ``def`` (view definition, partition key),
#: ``cols`` (``hash`` and ``{column_items}``), ``cons`` (``text`` and ``{constraint_items}``) and
#: ``td`` (the relation's comment). The placeholders add the extraction's own aggregates and joins.
PG_RELATION_JOINS = """
    cross join lateral (
        select case when c.relkind in ('v', 'm') then pg_catalog.pg_get_viewdef(c.oid) end as view_definition,
               case when c.relkind = 'p' then pg_catalog.pg_get_partkeydef(c.oid) end as partition_key
    ) def
    left join lateral (
        select {column_items}bit_xor(hash_record_extended(<column record>, 0)) as hash
        from pg_catalog.pg_attribute a
        left join pg_catalog.pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
        left join pg_catalog.pg_description cd
          on cd.objoid = a.attrelid and cd.classoid = 'pg_catalog.pg_class'::regclass
         and cd.objsubid = a.attnum{column_joins}
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    ) cols on true
    left join lateral (
        select {constraint_items}string_agg(
                   quote_nullable(co.conname::text)
                   || ' ' || quote_nullable(co.contype::text)
                   || ' ' || co.conkey::text
                   || ' ' || quote_nullable(case when co.contype = 'f' then co.confrelid::regclass::text
                                                 || ' ' || array(
                                                     select fa.attname::text from unnest(co.confkey)
                                                       with ordinality k(num, ord)
                                                     join pg_catalog.pg_attribute fa
                                                       on fa.attrelid = co.confrelid and fa.attnum = k.num
                                                     order by k.ord)::text end)
                   || ' ' || quote_nullable(co.conbin::text),
                   ', ' order by co.conname, co.contype) as text
        from pg_catalog.pg_constraint co{constraint_joins}
        where co.conrelid = c.oid
    ) cons on true
    left join pg_catalog.pg_description td
      on td.objoid = c.oid and td.classoid = 'pg_catalog.pg_class'::regclass and td.objsubid = 0
""".replace("<column record>", PG_COLUMN_RECORD)

#: The digest of relation ``c``, over :data:`PG_RELATION_JOINS`.
PG_DIGEST = """md5(quote_nullable(c.relkind::text)
               || '; ' || quote_nullable(td.description)
               || '; ' || coalesce(cols.hash::text, '')
               || '; (' || coalesce(cons.text, '') || ')'
               || '; ' || quote_nullable(def.view_definition)
               || '; ' || quote_nullable(def.partition_key))"""

#: The relations the PostgreSQL source reads (``c``, in schema ``n``).
PG_RELATION_FILTER = """c.relkind in ('r', 'p', 'v', 'm', 'f') and not c.relispartition"""

#: The first PostgreSQL version with a digest query.
PG_DIGEST_MIN_VERSION = (14,)

_PG_DIGESTS_TEMPLATE = (
    """
    select n.nspname::text as schema_name, c.relname::text as table_name, """
    + PG_DIGEST
    + """ as digest
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace"""
    + PG_RELATION_JOINS.format(column_items="", column_joins="", constraint_items="", constraint_joins="")
    + """
    where n.nspname = any(cast(:schemas as text[]))
      and """
    + PG_RELATION_FILTER
    + "\n"
)

_PG_DIGESTS = text(_PG_DIGESTS_TEMPLATE)

_PG_NO_JIT = text("set jit = off")


def disable_jit(conn: Connection) -> None:
    """Turn PostgreSQL's JIT off for this session, before the large catalog queries.

    The planner's estimates for them are high enough to JIT-compile them, which costs more (tens
    of ms) than it saves on catalog-sized data. A session setting: the source's connections are in
    autocommit mode. Servers without the setting (PostgreSQL-compatible ones) are left as they are.
    """
    try:
        conn.execute(_PG_NO_JIT)
    except DBAPIError:
        log.debug("This server has no jit setting; left as it is.", exc_info=True)

# Tables and views of the current database (attached catalogs are other databases), with their
# columns in column_index order and every constraint (NOT NULL and CHECK included) by type,
# name and text: constraint_index is numbered across the whole catalog, so it is not used.
_DUCKDB_DIGESTS = text(
    """
    with relations as (
        select schema_name, table_name as name, 'table' as kind, comment, null as sql
        from duckdb_tables()
        where database_name = current_database() and not temporary and schema_name in :schemas
        union all
        select schema_name, view_name, 'view', comment, sql
        from duckdb_views()
        where database_name = current_database() and not internal and not temporary
          and schema_name in :schemas
    ),
    cols as (
        select schema_name, table_name,
               string_agg(to_json([column_name, data_type, is_nullable::varchar, column_default, comment])::varchar,
                          ',' order by column_index) as text
        from duckdb_columns()
        where database_name = current_database() and not internal and schema_name in :schemas
        group by schema_name, table_name
    ),
    cons as (
        select schema_name, table_name,
               string_agg(to_json([constraint_type, constraint_name, constraint_text])::varchar,
                          ',' order by constraint_type, constraint_name, constraint_text) as text
        from duckdb_constraints()
        where database_name = current_database() and schema_name in :schemas
        group by schema_name, table_name
    )
    select r.schema_name, r.name as table_name,
           md5(to_json([r.kind, r.comment, r.sql, '[' || coalesce(c.text, '') || ']',
                        '[' || coalesce(k.text, '') || ']'])::varchar) as digest
    from relations r
    left join cols c on c.schema_name = r.schema_name and c.table_name = r.name
    left join cons k on k.schema_name = r.schema_name and k.table_name = r.name
    """
).bindparams(bindparam("schemas", expanding=True))

# sqlite_master.sql is the table's whole definition, rewritten by every ALTER TABLE; a view's
# columns can change without its text ("select *"), so they are read too.
_SQLITE_DIGESTS = """
    select m.type, m.name, m.sql, p.cid, p.name, p.type, p."notnull", p.dflt_value, p.pk
    from {schema}.sqlite_master m
    left join pragma_table_info(m.name, :schema) p on m.type = 'view'
    where m.type in ('table', 'view') and m.name not like 'sqlite\\_%' escape '\\'
    order by m.name, p.cid
    """

_SQLITE_RELATIONS = """
    select m.type, m.name, m.sql
    from {schema}.sqlite_master m
    where m.type in ('table', 'view') and m.name not like 'sqlite\\_%' escape '\\'
    """


def supports_digests(conn: Connection) -> bool:
    """Return whether the server behind ``conn`` has a digest query (PostgreSQL: 14 or later)."""
    if conn.dialect.name != "postgresql":
        return conn.dialect.name in DIGEST_DIALECTS
    return tuple((conn.dialect.server_version_info or ())[:1]) >= PG_DIGEST_MIN_VERSION


def read_table_digests(
    conn: Connection, schemas: Sequence[str], tables: Sequence[str] | None = None
) -> dict[str, dict[str, str]]:
    """Return schema -> relation -> digest for ``schemas``; every schema asked for is a key.

    :param conn: a connection to a dialect of :data:`DIGEST_DIALECTS`.
    :param schemas: the schemas to read (a missing schema has no relations).
    :param tables: only the relations of these names.
    :raises ValueError: for another dialect.
    """
    digests: dict[str, dict[str, str]] = {s: {} for s in schemas}
    if not schemas:
        return digests
    wanted = None if tables is None else frozenset(tables)
    dialect = conn.dialect.name
    if dialect == "postgresql":
        disable_jit(conn)
        rows = conn.execute(_PG_DIGESTS, {"schemas": list(schemas)})
    elif dialect == "duckdb":
        rows = conn.execute(_DUCKDB_DIGESTS, {"schemas": list(schemas)})
    elif dialect == "sqlite":
        rows = [(s, name, digest) for s in schemas for name, digest in _sqlite_digests(conn, s).items()]
    else:
        raise ValueError(f"no digest query for dialect {dialect}")
    for schema, table, digest in rows:
        if schema in digests and (wanted is None or table in wanted):
            digests[schema][table] = digest
    return digests


def _sqlite_digests(conn: Connection, schema: str) -> dict[str, str]:
    quoted = conn.dialect.identifier_preparer.quote_identifier(schema)
    try:
        rows = conn.execute(text(_SQLITE_DIGESTS.format(schema=quoted)), {"schema": schema}).all()
    except DBAPIError:
        if not _sqlite_schema_exists(conn, schema):
            return {}
        # A view whose tables are gone cannot be described: describe the views one by one.
        log.debug("Falling back to one pragma per view in SQLite schema %s.", schema, exc_info=True)
        rows = []
        for kind, name, sql in conn.execute(text(_SQLITE_RELATIONS.format(schema=quoted))).all():
            columns = _sqlite_view_columns(conn, schema, name) if kind == "view" else []
            rows += [(kind, name, sql, *c) for c in columns] or [(kind, name, sql, None)]
    parts: dict[str, list[object]] = {}
    for kind, name, sql, cid, *column in rows:
        entry = parts.setdefault(name, [kind, sql])
        if cid is not None:
            entry.append([cid, *column])
    return {name: _md5(entry) for name, entry in parts.items()}


def _sqlite_schema_exists(conn: Connection, schema: str) -> bool:
    return any(row[1] == schema for row in conn.exec_driver_sql("pragma database_list"))


def _sqlite_view_columns(conn: Connection, schema: str, view: str) -> list[tuple[object, ...]]:
    query = text('select cid, name, type, "notnull", dflt_value, pk from pragma_table_info(:view, :schema)')
    try:
        return [tuple(row) for row in conn.execute(query, {"view": view, "schema": schema})]
    except DBAPIError:
        return [("unreadable", None, None, None, None, None)]


def _md5(value: object) -> str:
    return hashlib.md5(json.dumps(value, separators=(",", ":")).encode(), usedforsecurity=False).hexdigest()
