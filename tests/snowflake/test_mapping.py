"""Row → entity mapping for what fakesnow cannot emulate, from rows shaped as Snowflake documents them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_omingest.models.entities import ConstraintType, TableType
from airflow_provider_omingest.sources.snowflake.mapping import (
    build_table,
    constraints_from_show,
    parse_clustering_key,
    relations_from_rows,
    resolve_changes,
    schema_entity,
    snowflake_type,
    tag_index,
)
from airflow_provider_omingest.sources.snowflake.source import (
    SnowflakeConfig,
    SnowflakeSource,
    is_too_much_data,
    query_split_by_names,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def tables_row(name, table_type="BASE TABLE", **kw):
    """An INFORMATION_SCHEMA.TABLES row (documented columns)."""
    row = {
        "TABLE_CATALOG": "DB", "TABLE_SCHEMA": "S", "TABLE_NAME": name, "TABLE_OWNER": "SYSADMIN",
        "TABLE_TYPE": table_type, "IS_TRANSIENT": "NO", "CLUSTERING_KEY": None, "ROW_COUNT": 10, "BYTES": 1024,
        "RETENTION_TIME": 1, "CREATED": T0, "LAST_ALTERED": T0, "LAST_DDL": T0, "LAST_DDL_BY": "SYSADMIN",
        "AUTO_CLUSTERING_ON": "NO", "COMMENT": None, "IS_TEMPORARY": "NO", "IS_ICEBERG": "NO",
        "IS_DYNAMIC": "NO", "IS_IMMUTABLE": "NO", "IS_HYBRID": "NO",
    }
    row.update(kw)
    return row


def show_views_row(name, text, *, secure="false", materialized="false", comment=""):
    """A SHOW VIEWS row: flags are the strings 'true'/'false'."""
    return {
        "created_on": T0, "name": name, "reserved": "", "database_name": "DB", "schema_name": "S",
        "owner": "SYSADMIN", "comment": comment, "text": text, "is_secure": secure,
        "is_materialized": materialized, "owner_role_type": "ROLE", "change_tracking": "OFF",
    }


def column_row(table, name, position, data_type, **kw):
    row = {
        "TABLE_NAME": table, "COLUMN_NAME": name, "ORDINAL_POSITION": position, "COLUMN_DEFAULT": None,
        "IS_NULLABLE": "YES", "DATA_TYPE": data_type, "CHARACTER_MAXIMUM_LENGTH": None,
        "NUMERIC_PRECISION": None, "NUMERIC_SCALE": None, "COMMENT": None,
    }
    row.update(kw)
    return row


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (tables_row("T"), TableType.REGULAR),
        (tables_row("T", IS_TRANSIENT="YES"), TableType.TRANSIENT),
        (tables_row("T", IS_DYNAMIC="YES"), TableType.DYNAMIC),
        (tables_row("T", IS_ICEBERG="YES"), TableType.ICEBERG),
        (tables_row("T", "EXTERNAL TABLE"), TableType.EXTERNAL),
        (tables_row("T", "VIEW"), TableType.VIEW),
        (tables_row("T", "MATERIALIZED VIEW"), TableType.MATERIALIZED_VIEW),
        (tables_row("T", "EVENT TABLE"), TableType.REGULAR),
    ],
    ids=["regular", "transient", "dynamic", "iceberg", "external", "view", "materialized", "event"],
)
def test_table_types(row, expected):
    (rel,) = relations_from_rows([row]).values()
    assert rel.table_type is expected


def test_temporary_tables_are_left_out():
    assert relations_from_rows([tables_row("T", "TEMPORARY TABLE", IS_TEMPORARY="YES")]) == {}


def test_show_views_gives_definitions_secure_and_materialized():
    rels = relations_from_rows(
        [tables_row("V", "VIEW", COMMENT="from tables"), tables_row("MV", "MATERIALIZED VIEW")],
        [
            show_views_row("V", "create view V as select 1 as X", comment="ignored when TABLES has one"),
            show_views_row("SV", "", secure="true", comment="secret"),
            show_views_row("MV", "create materialized view MV as select 1", secure="true", materialized="true"),
        ],
    )
    assert rels["V"].table_type is TableType.VIEW
    assert rels["V"].view_definition == "create view V as select 1 as X"
    assert rels["V"].description == "from tables"
    assert rels["SV"].table_type is TableType.SECURE_VIEW
    assert rels["SV"].view_definition is None  # hidden from a role that does not own it
    assert rels["SV"].description == "secret"
    assert rels["MV"].table_type is TableType.MATERIALIZED_VIEW
    assert rels["MV"].properties == {"secure": "true"}


def test_dynamic_and_external_details():
    rels = relations_from_rows(
        [tables_row("D", IS_DYNAMIC="YES"), tables_row("E", "EXTERNAL TABLE")],
        dynamic_rows=[{"name": "D", "text": "create dynamic table D target_lag='1 hour' as select 1",
                       "target_lag": "1 hour", "refresh_mode": "INCREMENTAL", "warehouse": "WH"}],
        external_rows=[{"name": "E", "location": "@STAGE/path/", "file_format_name": "",
                        "file_format_type": "PARQUET"}],
    )
    assert rels["D"].view_definition.startswith("create dynamic table")
    assert rels["D"].properties == {"target_lag": "1 hour", "refresh_mode": "INCREMENTAL", "warehouse": "WH"}
    assert rels["E"].properties == {"location": "@STAGE/path/", "file_format_type": "PARQUET"}


@pytest.mark.parametrize(
    ("expression", "columns", "expected"),
    [
        ("LINEAR(ID, NAME)", ["ID", "NAME"], ("ID", "NAME")),
        ("LINEAR(to_date(CREATED_AT), REGION)", ["CREATED_AT", "REGION", "X"], ("CREATED_AT", "REGION")),
        ('LINEAR("Mixed Col", id)', ["Mixed Col", "ID"], ("Mixed Col", "ID")),
        ("LINEAR(SUBSTRING(CODE, 1, 3))", ["CODE"], ("CODE",)),
        (None, ["ID"], ()),
    ],
)
def test_clustering_keys(expression, columns, expected):
    assert parse_clustering_key(expression, columns) == expected


def test_clustering_key_and_comments_on_a_table():
    (rel,) = relations_from_rows([tables_row("T", CLUSTERING_KEY="LINEAR(ID)", COMMENT="orders")]).values()
    table = build_table(rel, [column_row("T", "ID", 1, "NUMBER", NUMERIC_PRECISION=38, NUMERIC_SCALE=0,
                                         IS_NULLABLE="NO", COMMENT="key")], [])
    assert table.cluster_columns == ("ID",)
    assert table.properties == {"clustering_key": "LINEAR(ID)"}
    assert table.description == "orders"
    assert table.columns[0].description == "key" and not table.columns[0].nullable
    assert table.row_count == 10 and table.last_altered == T0.isoformat()
    empty_comment = relations_from_rows([tables_row("U", COMMENT="")])["U"]
    assert empty_comment.description is None


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"DATA_TYPE": "NUMBER", "NUMERIC_PRECISION": 38, "NUMERIC_SCALE": 0}, ("NUMBER", "NUMBER(38,0)")),
        ({"DATA_TYPE": "TEXT", "CHARACTER_MAXIMUM_LENGTH": 16777216}, ("VARCHAR", "VARCHAR(16777216)")),
        ({"DATA_TYPE": "BINARY", "CHARACTER_MAXIMUM_LENGTH": 8388608}, ("BINARY", "BINARY(8388608)")),
        ({"DATA_TYPE": "FLOAT"}, ("FLOAT", "FLOAT")),
        ({"DATA_TYPE": "TIMESTAMP_NTZ"}, ("TIMESTAMP", "TIMESTAMP_NTZ")),
        ({"DATA_TYPE": "TIMESTAMP_LTZ"}, ("TIMESTAMPZ", "TIMESTAMP_LTZ")),
        ({"DATA_TYPE": "TIMESTAMP_TZ"}, ("TIMESTAMPZ", "TIMESTAMP_TZ")),
        ({"DATA_TYPE": "OBJECT"}, ("JSON", "OBJECT")),
        ({"DATA_TYPE": "ARRAY"}, ("ARRAY", "ARRAY")),
        ({"DATA_TYPE": "GEOGRAPHY"}, ("GEOGRAPHY", "GEOGRAPHY")),
        ({"DATA_TYPE": "VECTOR(FLOAT, 256)"}, ("ARRAY", "VECTOR(FLOAT, 256)")),
        ({"DATA_TYPE": "SOMETHING_NEW"}, ("UNKNOWN", "SOMETHING_NEW")),
    ],
)
def test_types(row, expected):
    info = snowflake_type(row)
    assert (info.data_type, info.data_type_display) == expected


def test_types_are_openmetadata_values():
    import json
    from pathlib import Path

    from airflow_provider_omingest.sources.snowflake.mapping import SNOWFLAKE_TYPE_NAMES

    spec = Path(__file__).resolve().parents[3] / "shared/openmetadata-spec/entity/data/table.json"
    if not spec.exists():  # pragma: no cover - the spec sits beside the repository
        spec = Path("/work/shared/openmetadata-spec/entity/data/table.json")
    allowed = set(json.loads(spec.read_text())["definitions"]["dataType"]["enum"])
    assert set(SNOWFLAKE_TYPE_NAMES.values()) <= allowed


def test_keys_from_show_commands():
    pk = [{"created_on": T0, "database_name": "DB", "schema_name": "S", "table_name": "ORDERS",
           "column_name": c, "key_sequence": i, "constraint_name": "PK_ORDERS", "rely": "false", "comment": None}
          for c, i in (("LINE", 2), ("ID", 1))]
    uk = [{"created_on": T0, "database_name": "DB", "schema_name": "S", "table_name": "ORDERS",
           "column_name": "CODE", "key_sequence": 1, "constraint_name": "UQ_CODE", "rely": "false", "comment": None}]
    fk = [{"created_on": T0, "pk_database_name": "DB", "pk_schema_name": "REF", "pk_table_name": "CUSTOMERS",
           "pk_column_name": "ID", "fk_database_name": "DB", "fk_schema_name": "S", "fk_table_name": "ORDERS",
           "fk_column_name": "CUSTOMER_ID", "key_sequence": 1, "update_rule": "NO ACTION",
           "delete_rule": "NO ACTION", "fk_name": "FK_CUST", "pk_name": "PK_CUSTOMERS",
           "deferrability": "NOT DEFERRABLE", "rely": "false", "comment": None}]
    (p, u, f) = constraints_from_show(pk, uk, fk)["ORDERS"]
    assert (p.constraint_type, p.columns, p.name) == (ConstraintType.PRIMARY_KEY, ("ID", "LINE"), "PK_ORDERS")
    assert (u.constraint_type, u.columns) == (ConstraintType.UNIQUE, ("CODE",))
    assert (f.constraint_type, f.columns, f.referred_table, f.referred_columns) == (
        ConstraintType.FOREIGN_KEY, ("CUSTOMER_ID",), "DB.REF.CUSTOMERS", ("ID",))


def test_tags_from_tag_references():
    rows = [
        {"TAG_NAME": "PII", "TAG_VALUE": "email", "OBJECT_DATABASE": "DB", "OBJECT_SCHEMA": "S",
         "OBJECT_NAME": "T", "COLUMN_NAME": "EMAIL", "DOMAIN": "COLUMN"},
        {"TAG_NAME": "TIER", "TAG_VALUE": "gold", "OBJECT_DATABASE": "DB", "OBJECT_SCHEMA": "S",
         "OBJECT_NAME": "T", "COLUMN_NAME": None, "DOMAIN": "TABLE"},
        {"TAG_NAME": "OWNER", "TAG_VALUE": "a.b", "OBJECT_DATABASE": "DB", "OBJECT_SCHEMA": None,
         "OBJECT_NAME": "S", "COLUMN_NAME": None, "DOMAIN": "SCHEMA"},
        {"TAG_NAME": "TIER", "TAG_VALUE": "old", "OBJECT_DATABASE": "DB", "OBJECT_SCHEMA": "S",
         "OBJECT_NAME": "T", "COLUMN_NAME": None, "DOMAIN": "TABLE", "OBJECT_DELETED": T0},
    ]
    tags = tag_index(rows)[("DB", "S")]
    assert tags.tables["T"] == ["TIER.gold"]
    assert tags.columns[("T", "EMAIL")] == ["PII.email"]
    assert schema_entity({"SCHEMA_NAME": "S", "COMMENT": "sales"}, tags).model_dump() == {
        "name": "S", "description": "sales", "tags": ('OWNER."a.b"',)}


def test_change_rows_resolution_is_order_independent():
    rows = [
        {"KIND": "TABLE", "TABLE_CATALOG": "DB", "TABLE_SCHEMA": "S", "TABLE_NAME": "T", "TABLE_TYPE": "BASE TABLE",
         "IS_DELETED": True, "CREATED_BEFORE": True},
        {"KIND": "TABLE", "TABLE_CATALOG": "DB", "TABLE_SCHEMA": "S", "TABLE_NAME": "T", "TABLE_TYPE": "BASE TABLE",
         "IS_DELETED": False, "CREATED_BEFORE": False},
    ]
    for ordered in (rows, rows[::-1]):
        out = resolve_changes(ordered)
        assert [r.table for r in out.changed] == ["T"] and out.dropped == []
        assert out.altered_before_window == []


class _TooMuchData(Exception):
    errno = 90030


def test_too_much_data_splits_by_table_names():
    calls = []

    def run(names):
        calls.append(None if names is None else tuple(names))
        if names is None or len(names) > 2:
            raise _TooMuchData("Information schema query returned too much data. Please repeat query with more "
                               "selective predicates.")
        return [{"TABLE_NAME": n} for n in names]

    rows = query_split_by_names(run, lambda: ["A", "B", "C", "D", "E"])
    assert [r["TABLE_NAME"] for r in rows] == ["A", "B", "C", "D", "E"]
    assert calls[0] is None and all(c is None or len(c) <= 5 for c in calls)
    assert is_too_much_data(_TooMuchData()) and not is_too_much_data(ValueError("other"))
    with pytest.raises(ValueError):
        query_split_by_names(lambda names: (_ for _ in ()).throw(ValueError("boom")), lambda: ["A"])


class _PagedSource(SnowflakeSource):
    """Serves SHOW pages from a list, as Snowflake does with LIMIT n FROM 'name'."""

    show_page_size = 2

    def __init__(self, names):
        super().__init__(SnowflakeConfig(account="acct"))
        self.names, self.sent = names, []

    def _run(self, sql, params=None):
        self.sent.append(sql)
        after = sql.split(" FROM '")[1].rstrip("'") if " FROM '" in sql else None
        rest = [n for n in self.names if after is None or n > after]
        return [{"name": n} for n in rest[: self.show_page_size]]


def test_show_output_is_paged():
    source = _PagedSource(["A", "B", "C", "D", "E"])
    assert [r["name"] for r in source._show("SHOW VIEWS IN SCHEMA x")] == ["A", "B", "C", "D", "E"]
    assert source.sent == ["SHOW VIEWS IN SCHEMA x LIMIT 2", "SHOW VIEWS IN SCHEMA x LIMIT 2 FROM 'B'",
                           "SHOW VIEWS IN SCHEMA x LIMIT 2 FROM 'D'"]
