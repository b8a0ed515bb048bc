"""A synthetic PostgreSQL warehouse of S schemas x T relations x C columns, built with bulk DDL.

Every schema holds ``T`` relations: about one in ten is a view over a table of the same schema,
the others are tables with a primary key and mixed column types; a third of the tables and a
fifth of the columns have comments, every schema has one. A whole schema is created in one
multi-statement round trip, several schemas at once over a few connections.

:func:`mutate` changes a given share of the relations (add a column, comment, drop, create,
rename) and returns what it did, so that a benchmark knows what an incremental run must find.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg

__all__ = ["WarehouseShape", "generate", "mutate", "schema_name", "table_name"]

# (type, literal used nowhere: only the DDL matters)
_TYPES = [
    "integer", "bigint", "numeric(12,2)", "varchar(64)", "text", "boolean", "date", "timestamp",
    "timestamptz", "jsonb", "uuid", "double precision", "smallint", "char(3)", "bytea", "integer[]",
    "interval", "varchar(255)", "real", "numeric(38,0)",
]
VIEW_EVERY = 10


@dataclass(frozen=True)
class WarehouseShape:
    """``schemas`` x ``tables`` (relations per schema, views included) x ``columns``."""

    schemas: int
    tables: int
    columns: int

    @property
    def relations(self) -> int:
        return self.schemas * self.tables

    def label(self) -> str:
        return f"{self.schemas}x{self.tables}x{self.columns}"


def schema_name(i: int) -> str:
    return f"s{i:04d}"


def table_name(j: int) -> str:
    return f"t{j:05d}"


def _is_view(j: int) -> bool:
    return j % VIEW_EVERY == VIEW_EVERY - 1


def _schema_ddl(i: int, shape: WarehouseShape) -> str:
    s = schema_name(i)
    out = [f"CREATE SCHEMA {s};", f"COMMENT ON SCHEMA {s} IS 'synthetic schema {i}';"]
    for j in range(shape.tables):
        t = table_name(j)
        if _is_view(j):
            base = table_name(j - 1)
            out.append(f"CREATE VIEW {s}.{t} AS SELECT * FROM {s}.{base} WHERE id > 0;")
            continue
        cols = ["id bigint PRIMARY KEY"]
        for k in range(1, shape.columns):
            typ = _TYPES[(j + k) % len(_TYPES)]
            cols.append(f"c{k:03d} {typ}{' NOT NULL' if k % 7 == 0 else ''}")
        out.append(f"CREATE TABLE {s}.{t} ({', '.join(cols)});")
        if j % 3 == 0:
            out.append(f"COMMENT ON TABLE {s}.{t} IS 'table {j} of schema {i}';")
        for k in range(1, shape.columns, 5):
            out.append(f"COMMENT ON COLUMN {s}.{t}.c{k:03d} IS 'column {k}';")
    return "\n".join(out)


def generate(dsn: str, shape: WarehouseShape, *, connections: int = 2) -> None:
    """Create the warehouse in the (empty) database ``dsn``: one transaction per schema."""

    def build(i: int) -> None:
        with psycopg.connect(dsn) as conn:
            conn.execute(_schema_ddl(i, shape))  # no parameters: one simple-protocol round trip
            conn.commit()

    with ThreadPoolExecutor(max_workers=max(1, connections)) as pool:
        list(pool.map(build, range(shape.schemas)))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")


_MUTABLE = """
    select n.nspname, c.relname
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'r' and n.nspname ~ '^s[0-9]+$'
      and not exists (select 1 from pg_catalog.pg_depend d join pg_catalog.pg_rewrite r on r.oid = d.objid
                      where d.classid = 'pg_catalog.pg_rewrite'::regclass and d.refobjid = c.oid
                        and r.ev_class <> c.oid)
    order by 1, 2
"""
_RELATIONS = """
    select count(*) from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'v') and n.nspname ~ '^s[0-9]+$'
"""


def mutate(dsn: str, percent: float, *, seed: int = 1, tag: str = "m") -> dict[str, list[str]]:
    """Change ``percent`` % of the relations, spread over five kinds of change; return them by kind.

    Kinds: ``alter`` (add a column), ``comment`` (table comment), ``drop``, ``create`` (a new
    table), ``rename``. Targets are distinct tables that exist now and that no view depends on.
    ``tag`` keeps the names (and the random choice) of several mutation rounds apart.
    """
    rng = random.Random(f"{seed}-{tag}")
    with psycopg.connect(dsn) as conn:
        relations = conn.execute(_RELATIONS).fetchone()[0]
        candidates = conn.execute(_MUTABLE).fetchall()
    n = max(1, round(relations * percent / 100))
    picked = rng.sample(candidates, min(n, len(candidates)))
    kinds = ["alter", "comment", "drop", "create", "rename"]
    done: dict[str, list[str]] = {k: [] for k in kinds}
    sql: list[str] = []
    for k, (s, t) in enumerate(picked):
        kind = kinds[k % len(kinds)]
        if kind == "alter":
            sql.append(f"ALTER TABLE {s}.{t} ADD COLUMN {tag}_added_{k} integer;")
        elif kind == "comment":
            sql.append(f"COMMENT ON TABLE {s}.{t} IS 'changed by {tag} {k}';")
        elif kind == "drop":
            sql.append(f"DROP TABLE {s}.{t};")
        elif kind == "create":
            t = f"{tag}_new_{k:05d}"
            sql.append(f"CREATE TABLE {s}.{t} (id bigint PRIMARY KEY, payload jsonb, at timestamptz);")
        else:
            new = f"{t}_{tag}_renamed"
            sql.append(f"ALTER TABLE {s}.{t} RENAME TO {new};")
            t = f"{t} -> {new}"
        done[kind].append(f"{s}.{t}")
    with psycopg.connect(dsn) as conn:
        conn.execute("\n".join(sql))
        conn.commit()
    return done
