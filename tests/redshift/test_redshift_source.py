"""RedshiftSource with the real redshift_connector against PostgreSQL with Redshift's views stood in."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from airflow_provider_omingest.config import FilterPattern, Filters
from airflow_provider_omingest.exceptions import IncrementalUnsupported, SourceError
from airflow_provider_omingest.models.changes import TableRef
from airflow_provider_omingest.models.entities import (
    Column,
    ConstraintType,
    Table,
    TableConstraint,
    TableType,
)
from airflow_provider_omingest.models.units import SchemaSnapshot, TableSlice, WorkUnit
from airflow_provider_omingest.sources.redshift.source import RedshiftSource
from tests.redshift.conftest import RedshiftDatabase

PK, UQ, FK = ConstraintType.PRIMARY_KEY, ConstraintType.UNIQUE, ConstraintType.FOREIGN_KEY
SORT, DIST = ConstraintType.SORT_KEY, ConstraintType.DIST_KEY

SALES_DDL = (
    "CREATE SCHEMA sales",
    ("CREATE TABLE sales.customers (id bigint PRIMARY KEY, email varchar(320) NOT NULL UNIQUE, "
     "country char(2) DEFAULT 'FR')"),
    ("CREATE TABLE sales.orders (id integer NOT NULL, customer_id bigint REFERENCES sales.customers (id), "
     "amount numeric(12,2), ordered_at timestamp, shipped_at timestamptz, flag boolean, score double precision, "
     "note text, CONSTRAINT orders_pk PRIMARY KEY (id))"),
    "COMMENT ON TABLE sales.orders IS 'One row per order'",
    "COMMENT ON COLUMN sales.orders.amount IS 'Total, tax included'",
    "CREATE VIEW sales.big_orders AS SELECT id, amount FROM sales.orders WHERE amount > 100",
    ("CREATE MATERIALIZED VIEW sales.daily AS SELECT ordered_at::date AS day, sum(amount) AS total "
     "FROM sales.orders GROUP BY 1"),
    # Redshift shows a materialized view as a view, plus its internal table mv_tbl__<name>__0.
    "CREATE VIEW sales.rs_mv AS SELECT customer_id, count(*) AS n FROM sales.orders GROUP BY 1",
    "CREATE TABLE sales.mv_tbl__rs_mv__0 (customer_id bigint, n bigint)",
    "INSERT INTO omingest_standin.redshift_mvs VALUES ('sales', 'rs_mv', 't', 'f')",
    # A late-binding view: its columns come from PG_GET_LATE_BINDING_VIEW_COLS only.
    "CREATE VIEW sales.lbv AS SELECT id, note FROM sales.orders",
    "INSERT INTO omingest_standin.late_binding_views VALUES ('sales', 'lbv')",
    # DISTSTYLE KEY DISTKEY(customer_id) COMPOUND SORTKEY(ordered_at, id) ENCODE az64/lzo.
    ("INSERT INTO omingest_standin.table_settings VALUES ('sales', 'orders', 'KEY(customer_id)', 'customer_id', "
     "ARRAY['ordered_at', 'id']::name[], false, '{\"id\": \"az64\", \"note\": \"lzo\"}')"),
    ("INSERT INTO omingest_standin.table_settings VALUES ('sales', 'customers', 'ALL', NULL, "
     "ARRAY['country', 'email']::name[], true, '{}')"),
)

SPECTRUM_DDL = (
    "CREATE SCHEMA spectrum",
    "INSERT INTO omingest_standin.external_schemas VALUES ('spectrum', 'lake', 1, '{\"IAM_ROLE\":\"arn\"}')",
    ("INSERT INTO omingest_standin.external_tables VALUES ('spectrum', 'events', 's3://bucket/events/', "
     "'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat', "
     "'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat', "
     "'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe', '{}', 0, '{\"numRows\":\"10\"}', 'PARQUET')"),
    ("INSERT INTO omingest_standin.external_columns VALUES "
     "('spectrum', 'events', 'id', 'bigint', 1, 0, 'true'), "
     "('spectrum', 'events', 'payload', 'struct<kind:string,tags:array<string>>', 2, 0, 'true'), "
     "('spectrum', 'events', 'price', 'decimal(10,2)', 3, 0, 'true'), "
     "('spectrum', 'events', 'day', 'date', 4, 1, 'true')"),
)


def col(name: str, data_type: str, display: str, position: int, **kw: object) -> Column:
    return Column(name=name, data_type=data_type, data_type_display=display, ordinal_position=position, **kw)


def extract(source: RedshiftSource, db: RedshiftDatabase, *schemas: str, filters: Filters | None = None,
            include_views: bool = True, **unit_kw: object) -> dict[str, SchemaSnapshot]:
    unit = WorkUnit(unit_id="u1", database=db.name, schemas=schemas, **unit_kw)
    snapshots = list(source.extract(unit, filters or Filters(), include_views=include_views))
    assert [s.schema_name for s in snapshots] == list(schemas)
    return {s.schema_name: s for s in snapshots}


def tables_of(snapshot: SchemaSnapshot) -> dict[str, Table]:
    return {t.name: t for t in snapshot.tables}


# --------------------------------------------------------------------------- full extraction


def test_full_extraction_reads_every_kind_of_relation(rs_db: RedshiftDatabase, rs_source: RedshiftSource) -> None:
    rs_db.sql(*SALES_DDL)
    snapshot = extract(rs_source, rs_db, "sales")["sales"]
    assert snapshot.complete and snapshot.schema_entity is not None
    tables = tables_of(snapshot)
    assert sorted(tables) == ["big_orders", "customers", "daily", "lbv", "orders", "rs_mv"]  # no mv_tbl__

    orders = tables["orders"]
    assert orders.table_type is TableType.REGULAR
    assert orders.description == "One row per order"
    assert orders.columns == (
        col("id", "INT", "integer", 1, nullable=False),
        col("customer_id", "BIGINT", "bigint", 2),
        col("amount", "NUMERIC", "numeric(12,2)", 3, precision=12, scale=2, description="Total, tax included"),
        col("ordered_at", "TIMESTAMP", "timestamp without time zone", 4),
        col("shipped_at", "TIMESTAMPZ", "timestamp with time zone", 5),
        col("flag", "BOOLEAN", "boolean", 6),
        col("score", "DOUBLE", "double precision", 7),
        col("note", "VARCHAR", "text", 8),
    )
    assert set(orders.constraints) == {
        TableConstraint(constraint_type=PK, columns=("id",), name="orders_pk"),
        TableConstraint(constraint_type=FK, columns=("customer_id",), name="orders_customer_id_fkey",
                        referred_table=f"{rs_db.name}.sales.customers", referred_columns=("id",)),
        TableConstraint(constraint_type=SORT, columns=("ordered_at", "id")),
        TableConstraint(constraint_type=DIST, columns=("customer_id",)),
    }
    assert orders.properties["diststyle"] == "KEY(customer_id)"
    assert orders.properties["sortkey_type"] == "compound"
    encodings = json.loads(orders.properties["column_encodings"])
    assert encodings["id"] == "az64" and encodings["note"] == "lzo" and encodings["amount"] == "none"

    customers = tables["customers"]
    assert customers.columns[1] == col("email", "VARCHAR", "character varying(320)", 2, data_length=320,
                                       nullable=False)
    assert customers.columns[2] == col("country", "CHAR", "character(2)", 3, data_length=2,
                                       default="'FR'::bpchar")
    assert TableConstraint(constraint_type=UQ, columns=("email",), name="customers_email_key") in customers.constraints
    assert TableConstraint(constraint_type=SORT, columns=("country", "email")) in customers.constraints
    assert customers.properties["sortkey_type"] == "interleaved"
    assert customers.properties["diststyle"] == "ALL"

    view = tables["big_orders"]
    assert view.table_type is TableType.VIEW
    assert "orders.amount > (100)::numeric" in (view.view_definition or "")
    assert [c.name for c in view.columns] == ["id", "amount"]
    assert view.constraints == () and "column_encodings" not in view.properties

    assert tables["daily"].table_type is TableType.MATERIALIZED_VIEW
    assert [c.name for c in tables["daily"].columns] == ["day", "total"]
    rs_mv = tables["rs_mv"]
    assert rs_mv.table_type is TableType.MATERIALIZED_VIEW
    assert rs_mv.properties == {"auto_refresh": "t", "auto_rewrite": "f"}

    lbv = tables["lbv"]
    assert lbv.table_type is TableType.VIEW and lbv.properties == {"late_binding": "true"}
    assert lbv.columns == (col("id", "INT", "integer", 1), col("note", "VARCHAR", "text", 2))


def test_external_schema_reads_spectrum_tables(rs_db: RedshiftDatabase, rs_source: RedshiftSource) -> None:
    rs_db.sql(*SPECTRUM_DDL)
    assert "spectrum" in rs_source.list_schemas(rs_db.name)
    assert rs_source.count_tables(rs_db.name, ["spectrum"]) == {"spectrum": 1}
    events = tables_of(extract(rs_source, rs_db, "spectrum")["spectrum"])["events"]
    assert events.table_type is TableType.EXTERNAL
    assert events.partition_columns == ("day",)
    assert events.properties == {
        "location": "s3://bucket/events/",
        "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "serialization_lib": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "external_table_type": "PARQUET",
    }
    payload = events.columns[1]
    assert payload.data_type == "STRUCT"
    assert [(c.name, c.data_type, c.array_data_type) for c in payload.children] == [
        ("kind", "STRING", None), ("tags", "ARRAY", "STRING")]
    assert events.columns[2] == col("price", "DECIMAL", "decimal(10,2)", 3, precision=10, scale=2)


def test_statements_per_schema_do_not_grow_with_tables(rs_db: RedshiftDatabase, rs_source: RedshiftSource) -> None:
    rs_db.sql("CREATE SCHEMA small", "CREATE SCHEMA large")
    for schema, count in (("small", 2), ("large", 40)):
        rs_db.sql(*(f"CREATE TABLE {schema}.t{i} (id int PRIMARY KEY, v varchar(10))" for i in range(count)),
                  f"CREATE VIEW {schema}.v AS SELECT 1 AS one")
    rs_source.list_schemas(rs_db.name)  # connection opened
    measured = {}
    for schema in ("small", "large"):
        rs_db.proxy.reset_count()
        before = rs_source.statements
        snapshot = extract(rs_source, rs_db, schema)[schema]
        measured[schema] = (rs_source.statements - before, rs_db.proxy.statements, len(snapshot.tables),
                            rs_db.proxy.round_trips)
    assert measured["small"][2] == 3 and measured["large"][2] == 41
    # schema, relations, mv info, columns, physical columns, table info, constraints, view dependencies
    assert measured["small"][:2] == measured["large"][:2] == (8, 8)
    # redshift_connector: a statement costs a describe and an execute round trip, then only the execute
    assert measured["small"][3] == 16 and measured["large"][3] == 8  # the second time, statements are cached


def test_missing_schema_raises_instead_of_an_empty_snapshot(rs_db: RedshiftDatabase,
                                                            rs_source: RedshiftSource) -> None:
    with pytest.raises(SourceError, match="does not exist") as info:
        extract(rs_source, rs_db, "nope")
    assert info.value.schema == "nope"


def test_only_tables_slices_filters_and_views(rs_db: RedshiftDatabase, rs_source: RedshiftSource) -> None:
    rs_db.sql(*SALES_DDL)
    snap = extract(rs_source, rs_db, "sales", only_tables={"sales": ("orders", "gone")})["sales"]
    assert not snap.complete and [t.name for t in snap.tables] == ["orders"]
    assert len(snap.tables[0].columns) == 8 and len(snap.tables[0].constraints) == 4

    filtered = extract(rs_source, rs_db, "sales", include_views=False,
                       filters=Filters(table=FilterPattern(exclude=("^cust",))))["sales"]
    assert [t.name for t in filtered.tables] == ["orders"]

    halves = [tables_of(extract(rs_source, rs_db, "sales", table_slice=TableSlice(index=i, count=2))["sales"])
              for i in range(2)]
    assert sorted([*halves[0], *halves[1]]) == ["big_orders", "customers", "daily", "lbv", "orders", "rs_mv"]
    assert not set(halves[0]) & set(halves[1])


def test_listing_and_clock(rs_db: RedshiftDatabase, rs_source: RedshiftSource, make_redshift_db) -> None:
    rs_db.sql("CREATE SCHEMA a", "CREATE TABLE a.t (x int)", "CREATE VIEW a.v AS SELECT 1 AS one",
              "CREATE SCHEMA empty")
    assert rs_source.list_databases() == [rs_db.name]
    assert {"a", "empty", "public"} <= set(rs_source.list_schemas(rs_db.name))
    assert "pg_catalog" not in rs_source.list_schemas(rs_db.name)
    assert rs_source.count_tables(rs_db.name, ["a", "empty"]) == {"a": 2, "empty": 0}
    assert abs((rs_source.now() - rs_db.query("select now()")[0][0]).total_seconds()) < 5
    other = make_redshift_db()
    with rs_db.source(all_databases=True) as source:
        assert {rs_db.name, other.name} <= set(source.list_databases())
        assert "template0" not in source.list_databases()
        other.sql("CREATE SCHEMA b", "CREATE TABLE b.t (x int)")
        unit = WorkUnit(unit_id="u", database=other.name, schemas=("b",))
        assert [t.name for s in source.extract(unit, Filters()) for t in s.tables] == ["t"]


def test_connection_failure_is_a_source_error(rs_db: RedshiftDatabase) -> None:
    source = RedshiftSource({**rs_db.connect_kwargs(), "user": "nobody"}, database=rs_db.name)
    with pytest.raises(SourceError) as info:
        source.list_schemas(rs_db.name)
    assert "unused" not in str(info.value)
    assert "unused" not in repr(source)


# --------------------------------------------------------------------------- incremental


def test_changes_since_finds_real_ddl(rs_db: RedshiftDatabase, rs_source: RedshiftSource) -> None:
    rs_db.sql("CREATE SCHEMA app", "CREATE TABLE app.keep (id int)", "CREATE TABLE app.old_name (id int)",
              "CREATE TABLE app.doomed (id int)", "CREATE SCHEMA legacy", "CREATE SCHEMA temp_area",
              "CREATE TABLE app.untouched (id int)")
    since = rs_source.now()
    rs_db.sql(
        "ALTER TABLE app.keep ADD COLUMN name varchar(10)",
        "ALTER TABLE app.old_name RENAME TO new_name",
        'CREATE TABLE app."Odd ""Name"".v2" (id int)',
        "COMMENT ON COLUMN app.keep.name IS 'who'",
        "CREATE TABLE app.copy AS SELECT * FROM app.keep",
        "DROP TABLE app.doomed",
        "CREATE VIEW app.recent AS SELECT id FROM app.keep",
        "CREATE MATERIALIZED VIEW app.mv AS SELECT id FROM app.keep",
        "CREATE SCHEMA fresh",
        "DROP SCHEMA legacy",
        "ALTER SCHEMA temp_area RENAME TO archive",
        "SELECT 1",
    )
    # Unqualified names in a session whose search_path points at app.
    rs_db.sql("SET search_path TO app; CREATE TABLE unq (id int); COMMENT ON TABLE unq IS 'x'")
    rs_db.proxy.reset_count()
    changes = rs_source.changes_since(since, [rs_db.name])
    db = rs_db.name

    def ref(schema: str, table: str) -> TableRef:
        return TableRef(database=db, schema_name=schema, table=table)

    assert changes.method == "SYS_QUERY_HISTORY"
    assert changes.since == since and changes.until is not None and changes.until >= since
    assert set(changes.changed) == {
        ref("app", "keep"), ref("app", "new_name"), ref("app", 'Odd "Name".v2'), ref("app", 'odd "name".v2'),
        ref("app", "copy"), ref("app", "recent"), ref("app", "mv"), ref("app", "unq"), ref("public", "unq"),
    }
    assert set(changes.dropped) == {ref("app", "old_name"), ref("app", "doomed")}
    assert ref("app", "untouched") not in changes.changed
    assert changes.created_schemas == [(db, "archive"), (db, "fresh")]
    assert changes.dropped_schemas == [(db, "legacy"), (db, "temp_area")]
    # superuser check + history + lookup of the unqualified name
    assert rs_db.proxy.statements == 3


def test_changed_tables_fetch_by_name_settles_renames(rs_db: RedshiftDatabase, rs_source: RedshiftSource) -> None:
    rs_db.sql("CREATE SCHEMA app", "CREATE TABLE app.a (id int)")
    since = rs_source.now()
    rs_db.sql("ALTER TABLE app.a RENAME TO b", "CREATE TABLE app.a (id int, again int)")
    changes = rs_source.changes_since(since, [rs_db.name])
    names = sorted({r.table for r in [*changes.changed, *changes.dropped]})
    assert names == ["a", "b"]
    snapshot = extract(rs_source, rs_db, "app", only_tables={"app": tuple(names)})["app"]
    # the re-created "a" exists (kept although also dropped), and so does "b"
    assert {t.name: len(t.columns) for t in snapshot.tables} == {"a": 2, "b": 1}


def test_long_statements_are_read_from_sys_query_text(rs_db: RedshiftDatabase, rs_source: RedshiftSource) -> None:
    rs_db.sql("CREATE SCHEMA app", "CREATE TABLE app.victim (id int)")
    since = rs_source.now()
    padding = "/* " + "long comment\\with backslash\n" * 200 + " */ "
    columns = ", ".join(f"c{i} varchar(100)" for i in range(300))
    rs_db.sql(padding + "CREATE TABLE app.wide (" + columns + ")",
              "CREATE TABLE app.filler (" + columns + "); DROP TABLE app.victim")
    changes = rs_source.changes_since(since, [rs_db.name])
    assert changes.method == "SYS_QUERY_HISTORY + SYS_QUERY_TEXT"
    assert {r.table for r in changes.changed} == {"wide", "filler"}
    assert [r.table for r in changes.dropped] == ["victim"]


def test_incremental_needs_a_superuser(rs_db: RedshiftDatabase) -> None:
    rs_db.sql("CREATE ROLE reader LOGIN", f"GRANT CONNECT ON DATABASE {rs_db.name} TO reader")
    since = rs_db.source().now()
    rs_db.sql("CREATE TABLE public.by_admin (id int)")
    with rs_db.source(user="reader") as source, pytest.raises(IncrementalUnsupported, match="not a superuser"):
        source.changes_since(since, [rs_db.name])
    # Trusted but without SYSLOG ACCESS UNRESTRICTED: it sees no history at all, so still no.
    with (rs_db.source(user="reader", trust_history_visibility=True) as source,
          pytest.raises(IncrementalUnsupported, match="only reaches back to nothing")):
        source.changes_since(since, [rs_db.name])
    rs_db.sql("GRANT syslog_unrestricted TO reader")
    with rs_db.source(user="reader", trust_history_visibility=True) as source:
        changes = source.changes_since(since, [rs_db.name])
    assert changes.changed == [TableRef(database=rs_db.name, schema_name="public", table="by_admin")]


def test_history_must_reach_back_to_the_window(rs_db: RedshiftDatabase, rs_source: RedshiftSource) -> None:
    with pytest.raises(IncrementalUnsupported, match="only reaches back"):
        rs_source.changes_since(rs_source.now() - timedelta(days=3), [rs_db.name])


def test_unreadable_history_is_reported(rs_db: RedshiftDatabase, rs_source: RedshiftSource) -> None:
    rs_db.sql("SET allow_system_table_mods = on; DROP VIEW pg_catalog.sys_query_history")
    with pytest.raises(IncrementalUnsupported, match="SYS_QUERY_HISTORY is not readable"):
        rs_source.changes_since(rs_source.now(), [rs_db.name])
