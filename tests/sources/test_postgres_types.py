"""PostgreSQL column types read from pg_catalog map as SQLAlchemy's Inspector maps them.

The bulk reader maps ``format_type()`` strings itself
(:func:`~airflow_provider_omingest.sources.sql.type_mapping.map_postgres_type`); the Inspector is
the oracle: for every type below both give the same OpenMetadata type, length, precision,
scale and display string.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.models.units import WorkUnit
from airflow_provider_omingest.sources.sql.source import SqlAlchemySource
from airflow_provider_omingest.sources.sql.type_mapping import (
    TypeInfo,
    map_postgres_type,
    map_sqlalchemy_type,
)

TYPES = [
    "smallint", "integer", "bigint", "numeric", "numeric(10, 2)", "numeric(5)", "real", "double precision",
    "money", "varchar", "varchar(20)", "char", "char(3)", "text", '"char"', "name", "bytea", "boolean", "date",
    "time", "time(3)", "timetz", "timestamp", "timestamp(3)", "timestamptz", "timestamptz(0)", "interval",
    "interval day to second", "interval(2)", "uuid", "json", "jsonb", "inet", "cidr", "macaddr", "macaddr8",
    "tsvector", "tsquery", "bit(8)", "varbit(5)", "oid", "regclass", "int4range", "tstzrange", "xml", "point",
    "pg_lsn", "integer[]", "varchar(10)[]", "numeric(5, 2)[]", "timestamptz[]", "t.mood", "t.mood[]",
    "t.code", "t.amount", "public.mood",
]

#: Where the bulk reader is more precise than the Inspector: PostgreSQL's one-byte "char" and
#: ``name`` keep their names, ``interval(2)`` has no stray space, domains keep their base type's
#: length, precision and scale.
BETTER_THAN_INSPECTOR = {
    '"char"': TypeInfo("CHAR", '"char"'),
    "name": TypeInfo("VARCHAR", "name"),
    "interval(2)": TypeInfo("INTERVAL", "interval(2)"),
    "t.code": TypeInfo("VARCHAR", "t.code", data_length=10),
    "t.amount": TypeInfo("NUMERIC", "t.amount", precision=8, scale=2),
}

DDL = """
create schema t;
create type t.mood as enum ('ok', 'sad');
create type public.mood as enum ('fine');
create domain t.code as varchar(10);
create domain t.amount as numeric(8, 2) check (value >= 0);
create table t.wide ({columns});
"""


def test_every_type_maps_as_the_inspector_maps_it(pg_url: str) -> None:
    columns = ", ".join(f"c{i} {type_}" for i, type_ in enumerate(TYPES))
    with SqlAlchemySource(pg_url) as oracle_source:  # its dialect knows the extra type names
        with oracle_source.engine.begin() as conn:
            conn.exec_driver_sql(DDL.format(columns=columns))
        with oracle_source.engine.connect() as conn:
            oracle = {
                c["name"]: map_sqlalchemy_type(c["type"], conn.dialect)
                for c in sa.inspect(conn).get_columns("wide", schema="t")
            }
    db = sa.engine.make_url(pg_url).database
    with SqlAlchemySource(pg_url) as source:
        (snapshot,) = source.extract(WorkUnit(unit_id="u", database=db, schemas=("t",)), Filters())
    (table,) = snapshot.tables
    got = {c.name: TypeInfo(c.data_type, c.data_type_display, c.array_data_type, c.data_length, c.precision,
                            c.scale) for c in table.columns}
    assert len(got) == len(TYPES)
    mismatches = {
        f"{name} {TYPES[int(name[1:])]}": (got[name], oracle[name])
        for name in got
        if got[name] != BETTER_THAN_INSPECTOR.get(TYPES[int(name[1:])], oracle[name])
    }
    assert not mismatches, "\n".join(f"{k}: got {g}, Inspector {o}" for k, (g, o) in mismatches.items())


@pytest.mark.parametrize(
    ("spelled", "kind", "element", "base", "expected"),
    [
        ("character varying(20)[]", "b", "b", None, TypeInfo("ARRAY", "varchar(20)[]", "VARCHAR")),
        ("sales.status", "e", None, None, TypeInfo("ENUM", "sales.status")),
        ("t.code", "d", None, "character varying(10)", TypeInfo("VARCHAR", "t.code", data_length=10)),
        ("numrange", "r", None, None, TypeInfo("STRING", "numrange")),
        ("my_range", "r", None, None, TypeInfo("STRING", "my_range")),
        ("no_such_type", "b", None, None, TypeInfo("UNKNOWN", "no_such_type")),
    ],
)
def test_map_postgres_type(spelled: str, kind: str, element: str | None, base: str | None,
                           expected: TypeInfo) -> None:
    assert map_postgres_type(spelled, kind, element, base) == expected
