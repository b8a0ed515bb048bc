"""DDL text parsing and row → entity mapping, on texts and rows shaped as Redshift documents them."""

from __future__ import annotations

import pytest

from airflow_provider_omingest.models.entities import ConstraintType, TableType
from airflow_provider_omingest.sources.redshift.ddl import DdlParseError, parse_ddl, unescape_ddltext
from airflow_provider_omingest.sources.redshift.mapping import (
    ColumnRow,
    PhysicalColumnRow,
    RelationRow,
    build_table,
    map_external_type,
    map_redshift_type,
)


def effects(text: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(e.kind, e.name.parts) for e in parse_ddl(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CREATE TABLE IF NOT EXISTS Sales.Orders (id int) DISTSTYLE KEY DISTKEY(id) SORTKEY(id)",
         [("changed", ("sales", "orders"))]),
        ('create table "Sales"."Q1 ""final"".v2" (a int encode az64)', [("changed", ("Sales", 'Q1 "final".v2'))]),
        ("CREATE TABLE s.t AS SELECT * FROM s.u", [("changed", ("s", "t"))]),
        ("CREATE TEMP TABLE t (a int)", []),
        ("create or replace view s.v as select 1 with no schema binding", [("changed", ("s", "v"))]),
        ("CREATE MATERIALIZED VIEW s.mv AUTO REFRESH YES AS SELECT 1", [("changed", ("s", "mv"))]),
        ("CREATE EXTERNAL TABLE spectrum.ev (a int) PARTITIONED BY (d date) STORED AS PARQUET LOCATION 's3://b/'",
         [("changed", ("spectrum", "ev"))]),
        ("ALTER TABLE s.t RENAME TO u", [("dropped", ("s", "t")), ("changed", ("s", "u"))]),
        ("ALTER TABLE s.t RENAME COLUMN a TO b", [("changed", ("s", "t"))]),
        ("alter table s.t alter distkey id", [("changed", ("s", "t"))]),
        ("ALTER TABLE s.t SET SCHEMA archive", [("dropped", ("s", "t")), ("changed", ("archive", "t"))]),
        ("DROP TABLE IF EXISTS s.a, s.\"B\" CASCADE", [("dropped", ("s", "a")), ("dropped", ("s", "B"))]),
        ("DROP MATERIALIZED VIEW s.mv", [("dropped", ("s", "mv"))]),
        ("COMMENT ON TABLE s.t IS 'a ; b'", [("changed", ("s", "t"))]),
        ("COMMENT ON COLUMN db.s.t.c IS 'x'", [("changed", ("db", "s", "t"))]),
        ("CREATE SCHEMA IF NOT EXISTS stage AUTHORIZATION etl", [("schema_created", ("stage",))]),
        ("CREATE EXTERNAL SCHEMA lake FROM DATA CATALOG DATABASE 'x' IAM_ROLE 'arn'",
         [("schema_created", ("lake",))]),
        ("DROP SCHEMA old1, old2 CASCADE", [("schema_dropped", ("old1",)), ("schema_dropped", ("old2",))]),
        ("ALTER SCHEMA a RENAME TO b", [("schema_dropped", ("a",)), ("schema_created", ("b",))]),
        ("/* c */ -- x\n create table a(x int); drop view v; grant select on a to u",
         [("changed", ("a",)), ("dropped", ("v",))]),
        ("SELECT * INTO s.copy FROM s.t", [("changed", ("s", "copy"))]),
        ("VACUUM s.t; ANALYZE s.t; TRUNCATE s.t; CREATE FUNCTION f() RETURNS int AS $$ select 1 $$ LANGUAGE sql",
         []),
    ],
)
def test_ddl_effects(text: str, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    assert effects(text) == expected


def test_cut_off_statement_is_an_error_not_a_guess() -> None:
    with pytest.raises(DdlParseError):
        parse_ddl('DROP TABLE s."half a na')
    with pytest.raises(DdlParseError):
        parse_ddl("CREATE TABLE")


def test_drop_cascade_is_flagged() -> None:
    assert [e.cascade for e in parse_ddl("DROP TABLE a CASCADE; DROP TABLE b")] == [True, False]


def test_stl_ddltext_escapes() -> None:
    chunks = ["create table a(\\n x varchar(10) default 'c:\\\\t", "mp')"]
    assert unescape_ddltext("".join(chunks)) == "create table a(\n x varchar(10) default 'c:\\tmp')"


@pytest.mark.parametrize(
    ("spelled", "args", "expected"),
    [
        ("character varying", (256, None, None), ("VARCHAR", "character varying(256)", 256, None, None)),
        ("character varying(200)", (None, None, None), ("VARCHAR", "character varying(200)", 200, None, None)),
        ("numeric", (None, 18, 4), ("NUMERIC", "numeric(18,4)", None, 18, 4)),
        ("numeric(8,2)", (None, None, None), ("NUMERIC", "numeric(8,2)", None, 8, 2)),
        ("integer", (None, 32, 0), ("INT", "integer", None, None, None)),
        ("timestamp without time zone", (None, None, None), ("TIMESTAMP", "timestamp without time zone", None,
                                                              None, None)),
        ("timestamp with time zone", (None, None, None), ("TIMESTAMPZ", "timestamp with time zone", None, None,
                                                           None)),
        ("super", (None, None, None), ("SUPER", "super", None, None, None)),
        ("hllsketch", (None, None, None), ("HLLSKETCH", "hllsketch", None, None, None)),
        ("geometry", (None, None, None), ("GEOMETRY", "geometry", None, None, None)),
        ("varbyte(64)", (None, None, None), ("VARBINARY", "varbyte(64)", 64, None, None)),
        ("something new", (None, None, None), ("UNKNOWN", "something new", None, None, None)),
    ],
)
def test_redshift_types(spelled: str, args: tuple, expected: tuple) -> None:
    info = map_redshift_type(spelled, *args)
    assert (info.data_type, info.data_type_display, info.data_length, info.precision, info.scale) == expected


def test_external_types() -> None:
    info, children = map_external_type("array<struct<a:int,b:map<string,int>>>")
    assert (info.data_type, info.array_data_type, children) == ("ARRAY", "STRUCT", ())
    info, children = map_external_type("struct<a:int,b:varchar(5)>")
    assert info.data_type == "STRUCT"
    assert [(c.name, c.data_type, c.data_length, c.ordinal_position) for c in children] == [
        ("a", "INT", None, 1), ("b", "VARCHAR", 5, 2)]


def test_late_binding_view_from_its_documented_definition() -> None:
    # pg_get_viewdef of a late-binding view, as Redshift returns it.
    relation = RelationRow(name="sales_lbv", relkind="v",
                           view_definition="create view public.sales_lbv as select * from public.sales "
                                           "with no schema binding;")
    columns = [ColumnRow("sales_lbv", "salesid", 1, "integer"),
               ColumnRow("sales_lbv", "pricepaid", 2, "numeric(8,2)")]
    table = build_table(relation, columns, database="dev")
    assert table.table_type is TableType.VIEW and table.properties == {"late_binding": "true"}
    assert [(c.name, c.data_type_display) for c in table.columns] == [("salesid", "integer"),
                                                                      ("pricepaid", "numeric(8,2)")]


def test_physical_columns_make_sort_and_dist_keys() -> None:
    relation = RelationRow(name="t", relkind="r", properties={"diststyle": "AUTO(KEY(b))"})
    physical = [PhysicalColumnRow("t", "a", "az64", False, -2), PhysicalColumnRow("t", "b", "lzo", True, -1),
                PhysicalColumnRow("t", "c", "raw", False, 0)]
    table = build_table(relation, [ColumnRow("t", n, i, "integer") for i, n in enumerate("abc", 1)],
                        database="dev", physical=physical)
    keys = {c.constraint_type: c.columns for c in table.constraints}
    assert keys == {ConstraintType.SORT_KEY: ("b", "a"), ConstraintType.DIST_KEY: ("b",)}
    assert table.properties == {"diststyle": "AUTO(KEY(b))", "sortkey_type": "interleaved",
                                "column_encodings": '{"a":"az64","b":"lzo","c":"raw"}'}
