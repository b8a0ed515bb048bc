"""Full extraction through the real Snowflake connector against a fakesnow server."""

from __future__ import annotations

import pytest

from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.exceptions import SourceError
from airflow_provider_omingest.models.entities import ConstraintType, TableType
from airflow_provider_omingest.models.units import TableSlice, WorkUnit

#: Statements per schema of a full extraction: SCHEMATA, TABLES, SHOW VIEWS, COLUMNS and
#: SHOW PRIMARY/UNIQUE/IMPORTED KEYS (plus, per unit, one TAG_REFERENCES query and one
#: ACCOUNT_USAGE.TABLES query for the table ids and one OBJECT_DEPENDENCIES query for view lineage).
STATEMENTS_PER_SCHEMA = 7
STATEMENTS_PER_UNIT = 2  # ACCOUNT_USAGE.TABLES and OBJECT_DEPENDENCIES (tags off)


def _unit(database: str, *schemas: str, **kwargs) -> WorkUnit:
    return WorkUnit(unit_id="u", database=database, schemas=schemas, **kwargs)


@pytest.fixture
def sales(admin) -> str:
    """A database with a schema of tables, keys, comments, defaults and a view."""
    db = admin.database("sales")
    q = f'"{db}"'
    admin.sql(f"create schema {q}.CORE")
    admin.sql(f"comment on schema {q}.CORE is 'core tables'")
    admin.sql(
        f"create table {q}.CORE.CUSTOMERS (ID int not null primary key, NAME varchar(100) default 'n/a', "
        f"BALANCE number(12,2), CREATED_AT timestamp_ntz, PROFILE variant, TAGS array, ACTIVE boolean) "
        f"comment='one row per customer'"
    )
    admin.sql(f"create table {q}.CORE.ORDERS (ID int not null primary key, CUSTOMER_ID int, AMOUNT float)")
    admin.sql(f"create view {q}.CORE.BIG_ORDERS as select ID, AMOUNT from {q}.CORE.ORDERS where AMOUNT > 100")
    admin.sql(f'create table {q}.CORE."mixed.Case" ("Col x" int)')
    admin.sql(f"create schema {q}.EMPTY")
    return db


def test_lists_databases_schemas_and_counts(sales, make_source):
    source = make_source(include_tags=False)
    databases = source.list_databases()
    assert sales in databases
    assert "SNOWFLAKE" not in databases  # the shared system database is excluded
    assert source.list_schemas(sales) == ["CORE", "EMPTY"]
    assert source.count_tables(sales, ["CORE", "EMPTY"]) == {"CORE": 3, "EMPTY": 0}  # fakesnow's TABLES omits views
    assert source.now().tzinfo is not None


def test_full_extraction_maps_tables_columns_keys_and_views(sales, make_source):
    source = make_source(include_tags=False)
    (snap,) = source.extract(_unit(sales, "CORE"), Filters())
    assert snap.complete and snap.schema_name == "CORE"
    tables = {t.name: t for t in snap.tables}
    assert sorted(tables) == ["BIG_ORDERS", "CUSTOMERS", "ORDERS", "mixed.Case"]

    customers = tables["CUSTOMERS"]
    assert customers.table_type is TableType.REGULAR
    assert customers.description == "one row per customer"
    cols = {c.name: c for c in customers.columns}
    assert [c.ordinal_position for c in customers.columns] == [1, 2, 3, 4, 5, 6, 7]
    assert (cols["ID"].data_type, cols["ID"].nullable) == ("NUMBER", False)
    assert (cols["NAME"].data_type, cols["NAME"].data_type_display, cols["NAME"].data_length) == (
        "VARCHAR", "VARCHAR(100)", 100)
    assert cols["NAME"].default == "'n/a'"
    assert (cols["BALANCE"].precision, cols["BALANCE"].scale, cols["BALANCE"].data_type_display) == (
        12, 2, "NUMBER(12,2)")
    assert cols["CREATED_AT"].data_type == "TIMESTAMP"
    assert cols["PROFILE"].data_type == "VARIANT"
    assert cols["TAGS"].data_type in ("ARRAY", "VARIANT")  # fakesnow reports ARRAY as VARIANT
    assert cols["ACTIVE"].data_type == "BOOLEAN"
    (pk,) = customers.constraints
    assert (pk.constraint_type, pk.columns) == (ConstraintType.PRIMARY_KEY, ("ID",))

    view = tables["BIG_ORDERS"]
    assert view.table_type is TableType.VIEW
    assert "AMOUNT > 100" in view.view_definition.upper()
    assert [c.name for c in view.columns] == ["ID", "AMOUNT"]
    assert [c.name for c in tables["mixed.Case"].columns] == ["Col x"]


def test_schema_comment_is_read(sales, make_source):
    # fakesnow applies COMMENT ON SCHEMA but its SCHEMATA view reports no comment; the mapping of a
    # documented SCHEMATA row with a comment is covered in test_mapping.py
    (snap,) = make_source(include_tags=False).extract(_unit(sales, "EMPTY"), Filters())
    assert snap.schema_entity.name == "EMPTY" and snap.tables == [] and snap.complete


def test_round_trips_per_schema_do_not_grow_with_tables(admin, make_source):
    db = admin.database("wide")
    for schema, n in (("SMALL", 2), ("LARGE", 40)):
        admin.sql(f'create schema "{db}".{schema}')
        for i in range(n):
            admin.sql(f'create table "{db}".{schema}.T{i} (ID int primary key, V varchar)')
    counts = {}
    for schema in ("SMALL", "LARGE"):
        source = make_source(include_tags=False)
        (snap,) = source.extract(_unit(db, schema), Filters())
        counts[schema] = source.round_trips
        assert len(snap.tables) == {"SMALL": 2, "LARGE": 40}[schema]
    expected = STATEMENTS_PER_SCHEMA + STATEMENTS_PER_UNIT
    assert counts == {"SMALL": expected, "LARGE": expected}


def test_tags_add_one_query_per_unit(admin, make_source):
    db = admin.database("tagged")
    for schema in ("A", "B"):
        admin.sql(f'create schema "{db}".{schema}')
        admin.sql(f'create table "{db}".{schema}.T (ID int, EMAIL varchar)')
    rows = [
        ("GOVERNANCE", "PII", "email", db, "A", "T", None, "COLUMN", "EMAIL"),
        ("GOVERNANCE", "TIER", "gold", db, "A", "T", None, "TABLE", None),
        ("GOVERNANCE", "OWNER", "finance", db, None, "B", None, "SCHEMA", None),
        ("GOVERNANCE", "TIER", "bronze", db, "B", "T", "2024-01-01", "TABLE", None),  # dropped object
    ]
    for r in rows:
        admin.sql(
            "insert into SNOWFLAKE.ACCOUNT_USAGE.TAG_REFERENCES (TAG_SCHEMA, TAG_NAME, TAG_VALUE, OBJECT_DATABASE,"
            " OBJECT_SCHEMA, OBJECT_NAME, OBJECT_DELETED, DOMAIN, COLUMN_NAME) values (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            r,
        )
    source = make_source()
    snaps = {s.schema_name: s for s in source.extract(_unit(db, "A", "B"), Filters())}
    assert source.round_trips == 2 * STATEMENTS_PER_SCHEMA + STATEMENTS_PER_UNIT + 1  # + TAG_REFERENCES
    a_table = snaps["A"].tables[0]
    assert a_table.tags == ("TIER.gold",)
    assert {c.name: c.tags for c in a_table.columns} == {"ID": (), "EMAIL": ("PII.email",)}
    assert snaps["B"].schema_entity.tags == ("OWNER.finance",)
    assert snaps["B"].tables[0].tags == ()


def test_missing_tag_view_leaves_tags_out_and_keeps_extracting(sales, make_source):
    source = make_source(account_usage="NOWHERE.ACCOUNT_USAGE")
    (snap,) = source.extract(_unit(sales, "CORE"), Filters())
    assert len(snap.tables) == 4 and all(t.tags == () for t in snap.tables)


def test_filters_slices_and_only_tables(sales, make_source):
    source = make_source(include_tags=False)
    filters = Filters(table={"exclude": ["^ORD"]})
    names = [t.name for s in source.extract(_unit(sales, "CORE"), filters) for t in s.tables]
    assert names == ["BIG_ORDERS", "CUSTOMERS", "mixed.Case"]

    no_views = [t.name for s in source.extract(_unit(sales, "CORE"), Filters(), include_views=False) for t in s.tables]
    assert no_views == ["CUSTOMERS", "ORDERS", "mixed.Case"]

    halves = [
        {t.name for s in source.extract(_unit(sales, "CORE", table_slice=TableSlice(index=i, count=2)), Filters())
         for t in s.tables}
        for i in range(2)
    ]
    assert halves[0].isdisjoint(halves[1])
    assert halves[0] | halves[1] == {"BIG_ORDERS", "CUSTOMERS", "ORDERS", "mixed.Case"}

    (snap,) = source.extract(_unit(sales, "CORE", only_tables={"CORE": ("ORDERS", "BIG_ORDERS", "GONE")}), Filters())
    assert not snap.complete
    assert sorted(t.name for t in snap.tables) == ["BIG_ORDERS", "ORDERS"]  # GONE was dropped: not found


def test_missing_schema_raises_instead_of_an_empty_snapshot(sales, make_source):
    source = make_source(include_tags=False)
    with pytest.raises(SourceError) as err:
        list(source.extract(_unit(sales, "NOPE"), Filters()))
    assert (err.value.database, err.value.schema) == (sales, "NOPE")


def test_unreachable_server_raises_source_error(sf_config):
    from dataclasses import replace

    from airflow_provider_omingest.sources.snowflake.source import SnowflakeSource

    source = SnowflakeSource(replace(sf_config, port=1, login_timeout=2, network_timeout=1))
    try:
        with pytest.raises(SourceError) as err:
            source.list_schemas("ANY")
        assert "snow" not in str(err.value)  # the password never shows
    finally:
        source.close()
