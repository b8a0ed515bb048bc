"""Type normalisation: every value produced is one of OpenMetadata's dataType values."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from airflow_provider_omingest.sources.sql.type_mapping import (
    DUCKDB_TYPE_NAMES,
    POSTGRES_EXTRA_TYPE_NAMES,
    SQLALCHEMY_TYPE_NAMES,
    SourceType,
    TypeInfo,
    extend_postgres_type_names,
    map_duckdb_type,
    map_sqlalchemy_type,
    split_duckdb_struct_fields,
)

REPO = Path(__file__).resolve().parents[2]
SPEC_ENV = "OMINGEST_OPENMETADATA_SPEC"


@pytest.fixture(scope="module")
def om_data_types() -> frozenset[str]:
    """OpenMetadata's ``dataType`` enum, read from the spec folder (never skipped)."""
    spec = Path(os.environ.get(SPEC_ENV, REPO.parent / "shared" / "openmetadata-spec"))
    table_json = spec / "entity" / "data" / "table.json"
    if not table_json.is_file():
        pytest.fail(
            f"OpenMetadata spec not found: looked for {table_json}. Set {SPEC_ENV} to the folder "
            "holding entity/data/table.json (the openmetadata-spec json schema folder).",
            pytrace=False,
        )
    return frozenset(json.loads(table_json.read_text())["definitions"]["dataType"]["enum"])


@pytest.mark.parametrize(
    "table",
    [SQLALCHEMY_TYPE_NAMES, POSTGRES_EXTRA_TYPE_NAMES, DUCKDB_TYPE_NAMES],
    ids=["sqlalchemy", "postgres-extra", "duckdb"],
)
def test_every_table_value_is_an_openmetadata_type(
    table: dict[str, str], om_data_types: frozenset[str]
) -> None:
    assert set(table.values()) - om_data_types == set()


PG = postgresql.dialect()
LITE = sqlite.dialect()

SQLALCHEMY_CASES = [
    (sa.Integer(), LITE, "INT", None),
    (sa.BigInteger(), PG, "BIGINT", None),
    (sa.SmallInteger(), PG, "SMALLINT", None),
    (sa.Numeric(10, 2), PG, "NUMERIC", None),
    (sa.DECIMAL(8, 3), LITE, "DECIMAL", None),
    (sa.Float(), LITE, "FLOAT", None),
    (sa.REAL(), PG, "FLOAT", None),
    (sa.Double(), LITE, "DOUBLE", None),
    (postgresql.DOUBLE_PRECISION(), PG, "DOUBLE", None),
    (sa.String(20), LITE, "VARCHAR", None),
    (sa.VARCHAR(20), PG, "VARCHAR", None),
    (sa.CHAR(2), PG, "CHAR", None),
    (sa.Text(), PG, "TEXT", None),
    (sa.Boolean(), PG, "BOOLEAN", None),
    (sa.Date(), PG, "DATE", None),
    (sa.DateTime(), PG, "TIMESTAMP", None),
    (sa.DateTime(timezone=True), PG, "TIMESTAMPZ", None),
    (postgresql.TIMESTAMP(timezone=True), PG, "TIMESTAMPZ", None),
    (sqlite.DATETIME(), LITE, "DATETIME", None),
    (sa.Time(), PG, "TIME", None),
    (sa.Interval(), PG, "INTERVAL", None),
    (postgresql.INTERVAL(), PG, "INTERVAL", None),
    (sa.LargeBinary(), PG, "BYTEA", None),
    (sa.LargeBinary(), LITE, "BLOB", None),
    (postgresql.BYTEA(), PG, "BYTEA", None),
    (sa.BLOB(), LITE, "BLOB", None),
    (sa.JSON(), LITE, "JSON", None),
    (postgresql.JSONB(), PG, "JSON", None),
    (sa.Uuid(), PG, "UUID", None),
    (postgresql.UUID(), PG, "UUID", None),
    (postgresql.ARRAY(sa.Integer()), PG, "ARRAY", "INT"),
    (postgresql.ARRAY(sa.Text()), PG, "ARRAY", "TEXT"),
    (sa.Enum("a", "b", name="mood"), PG, "ENUM", None),
    (postgresql.ENUM("a", "b", name="mood"), PG, "ENUM", None),
    (sa.types.NullType(), PG, "UNKNOWN", None),
    (postgresql.INET(), PG, "INET", None),
    (postgresql.CIDR(), PG, "CIDR", None),
    (postgresql.MACADDR(), PG, "MACADDR", None),
    (postgresql.MONEY(), PG, "MONEY", None),
    (postgresql.TSVECTOR(), PG, "TSVECTOR", None),
    (postgresql.HSTORE(), PG, "MAP", None),
    (postgresql.INT4RANGE(), PG, "STRING", None),
    (postgresql.DOMAIN("positive", sa.Integer()), PG, "INT", None),
    (mysql.TINYINT(), mysql.dialect(), "TINYINT", None),
    (mysql.MEDIUMTEXT(), mysql.dialect(), "MEDIUMTEXT", None),
    (mysql.LONGBLOB(), mysql.dialect(), "LONGBLOB", None),
    (mysql.YEAR(), mysql.dialect(), "YEAR", None),
    (mysql.SET("a", "b"), mysql.dialect(), "SET", None),
]


@pytest.mark.parametrize(
    ("type_", "dialect", "expected", "array_of"),
    SQLALCHEMY_CASES,
    ids=[f"{type(c[0]).__name__}-{c[1].name}" for c in SQLALCHEMY_CASES],
)
def test_sqlalchemy_types(
    type_: sa.types.TypeEngine,
    dialect: object,
    expected: str,
    array_of: str | None,
    om_data_types: frozenset[str],
) -> None:
    info = map_sqlalchemy_type(type_, dialect)
    assert (info.data_type, info.array_data_type) == (expected, array_of)
    assert info.data_type in om_data_types
    assert info.array_data_type is None or info.array_data_type in om_data_types


@pytest.mark.parametrize(
    ("type_", "dialect", "expected"),
    [
        (sa.VARCHAR(20), PG, TypeInfo("VARCHAR", "varchar(20)", data_length=20)),
        (sa.CHAR(2), LITE, TypeInfo("CHAR", "char(2)", data_length=2)),
        (sa.Numeric(10, 2), PG, TypeInfo("NUMERIC", "numeric(10,2)", precision=10, scale=2)),
        (postgresql.DOUBLE_PRECISION(53), PG, TypeInfo("DOUBLE", "double precision")),
        (postgresql.ARRAY(sa.VARCHAR(5)), PG, TypeInfo("ARRAY", "varchar(5)[]", array_data_type="VARCHAR")),
        (postgresql.ENUM("a", name="Mood"), PG, TypeInfo("ENUM", '"Mood"')),
        (postgresql.DOMAIN("Code", sa.VARCHAR(3)), PG, TypeInfo("VARCHAR", '"Code"', data_length=3)),
        (sa.types.NullType(), PG, TypeInfo("UNKNOWN", "unknown")),
    ],
)
def test_sqlalchemy_display_length_precision(
    type_: sa.types.TypeEngine, dialect: object, expected: TypeInfo
) -> None:
    assert map_sqlalchemy_type(type_, dialect) == expected


def test_postgres_extra_names_keep_the_source_spelling(om_data_types: frozenset[str]) -> None:
    dialect = postgresql.dialect()
    extend_postgres_type_names(dialect)
    assert "xml" not in postgresql.dialect().ischema_names  # only this dialect instance changed
    xml_type = dialect.ischema_names["xml"]()
    assert isinstance(xml_type, SourceType)
    assert map_sqlalchemy_type(xml_type, dialect) == TypeInfo("XML", "xml")
    assert map_sqlalchemy_type(dialect.ischema_names["pg_lsn"](), dialect).data_type == "PG_LSN"
    assert dialect.ischema_names["integer"] is postgresql.INTEGER  # known names untouched


DUCKDB_CASES = [
    ("INTEGER", TypeInfo("INT", "INTEGER")),
    ("BIGINT", TypeInfo("BIGINT", "BIGINT")),
    ("SMALLINT", TypeInfo("SMALLINT", "SMALLINT")),
    ("TINYINT", TypeInfo("TINYINT", "TINYINT")),
    ("HUGEINT", TypeInfo("LARGEINT", "HUGEINT")),
    ("UBIGINT", TypeInfo("UINT", "UBIGINT")),
    ("VARCHAR", TypeInfo("VARCHAR", "VARCHAR")),
    ("VARCHAR(20)", TypeInfo("VARCHAR", "VARCHAR(20)", data_length=20)),
    ("DECIMAL(10,2)", TypeInfo("DECIMAL", "DECIMAL(10,2)", precision=10, scale=2)),
    ("DOUBLE", TypeInfo("DOUBLE", "DOUBLE")),
    ("FLOAT", TypeInfo("FLOAT", "FLOAT")),
    ("BOOLEAN", TypeInfo("BOOLEAN", "BOOLEAN")),
    ("DATE", TypeInfo("DATE", "DATE")),
    ("TIME", TypeInfo("TIME", "TIME")),
    ("TIMESTAMP", TypeInfo("TIMESTAMP", "TIMESTAMP")),
    ("TIMESTAMP_NS", TypeInfo("TIMESTAMP", "TIMESTAMP_NS")),
    ("TIMESTAMP WITH TIME ZONE", TypeInfo("TIMESTAMPZ", "TIMESTAMP WITH TIME ZONE")),
    ("TIME WITH TIME ZONE", TypeInfo("TIME", "TIME WITH TIME ZONE")),
    ("INTERVAL", TypeInfo("INTERVAL", "INTERVAL")),
    ("INTEGER[]", TypeInfo("ARRAY", "INTEGER[]", array_data_type="INT")),
    ("VARCHAR[3]", TypeInfo("ARRAY", "VARCHAR[3]", array_data_type="VARCHAR")),
    ("DECIMAL(4,1)[][]", TypeInfo("ARRAY", "DECIMAL(4,1)[][]", array_data_type="ARRAY")),
    ("STRUCT(x INTEGER, y VARCHAR)", TypeInfo("STRUCT", "STRUCT(x INTEGER, y VARCHAR)")),
    ("STRUCT(a INTEGER)[]", TypeInfo("ARRAY", "STRUCT(a INTEGER)[]", array_data_type="STRUCT")),
    ("MAP(VARCHAR, INTEGER)", TypeInfo("MAP", "MAP(VARCHAR, INTEGER)")),
    ("UNION(a INTEGER, b VARCHAR)", TypeInfo("UNION", "UNION(a INTEGER, b VARCHAR)")),
    ("ENUM('x', 'y')", TypeInfo("ENUM", "ENUM('x', 'y')")),
    ("JSON", TypeInfo("JSON", "JSON")),
    ("UUID", TypeInfo("UUID", "UUID")),
    ("BLOB", TypeInfo("BLOB", "BLOB")),
    ("BIT", TypeInfo("BIT", "BIT")),
    ('"NULL"', TypeInfo("NULL", '"NULL"')),
]


@pytest.mark.parametrize(("type_string", "expected"), DUCKDB_CASES, ids=[c[0] for c in DUCKDB_CASES])
def test_duckdb_types(type_string: str, expected: TypeInfo, om_data_types: frozenset[str]) -> None:
    info = map_duckdb_type(type_string)
    assert info == expected
    assert info.data_type in om_data_types
    assert info.array_data_type is None or info.array_data_type in om_data_types


DUCKDB_DDL_TYPES = [
    "boolean",
    "tinyint",
    "smallint",
    "integer",
    "bigint",
    "hugeint",
    "utinyint",
    "usmallint",
    "uinteger",
    "ubigint",
    "uhugeint",
    "float",
    "double",
    "decimal(10,2)",
    "varchar",
    "char(3)",
    "blob",
    "bit",
    "date",
    "time",
    "timetz",
    "time_ns",
    "timestamp",
    "timestamp_s",
    "timestamp_ms",
    "timestamp_ns",
    "timestamptz",
    "interval",
    "uuid",
    "json",
    "integer[]",
    "integer[3]",
    "struct(a int)",
    "map(varchar, int)",
    "union(a int, b varchar)",
    "enum('a')",
    "bignum",
    "variant",
    "geometry",
]


def test_every_duckdb_column_type_maps(om_data_types: frozenset[str]) -> None:
    """Each type DuckDB reports for a real column maps to a known OpenMetadata value."""
    import duckdb

    with duckdb.connect() as conn:
        for i, ddl_type in enumerate(DUCKDB_DDL_TYPES):
            conn.execute(f"create table t{i} (c {ddl_type})")
        reported = [
            row[0]
            for row in conn.execute("select data_type from duckdb_columns() where not internal").fetchall()
        ]
    assert len(reported) == len(DUCKDB_DDL_TYPES)
    mapped = {name: map_duckdb_type(name).data_type for name in reported}
    assert set(mapped.values()) <= om_data_types
    assert [name for name, data_type in mapped.items() if data_type == "UNKNOWN"] == []


def test_unknown_types_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    class FancyGeoType(sa.types.UserDefinedType):
        cache_ok = True

        def get_col_spec(self, **kw: object) -> str:
            return "FANCYGEO"

    with caplog.at_level(logging.WARNING, logger="airflow_provider_omingest.sources.sql.type_mapping"):
        first = map_sqlalchemy_type(FancyGeoType(), PG)
        second = map_sqlalchemy_type(FancyGeoType(), PG)
        duck = [map_duckdb_type("SOMETHING_NEW"), map_duckdb_type("SOMETHING_NEW")]
    assert first == second == TypeInfo("UNKNOWN", "fancygeo")
    assert [d.data_type for d in duck] == ["UNKNOWN", "UNKNOWN"]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("FancyGeoType" in m for m in messages) == 1
    assert sum("SOMETHING_NEW" in m for m in messages) == 1


def test_split_duckdb_struct_fields() -> None:
    assert split_duckdb_struct_fields(
        'STRUCT(x INTEGER, "my ""odd"", name" VARCHAR[], m MAP(VARCHAR, INTEGER), '
        "s STRUCT(a DECIMAL(10,2), b INTEGER))"
    ) == [
        ("x", "INTEGER"),
        ('my "odd", name', "VARCHAR[]"),
        ("m", "MAP(VARCHAR, INTEGER)"),
        ("s", "STRUCT(a DECIMAL(10,2), b INTEGER)"),
    ]
    assert split_duckdb_struct_fields("INTEGER") == []
    assert split_duckdb_struct_fields("MAP(VARCHAR, INTEGER)") == []
