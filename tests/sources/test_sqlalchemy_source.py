"""SqlAlchemySource against real PostgreSQL, SQLite and DuckDB databases: every entity field."""

from __future__ import annotations

import socket
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from airflow_provider_omingest.config import FilterPattern, Filters
from airflow_provider_omingest.exceptions import IncrementalUnsupported, MissingDependency, SourceError
from airflow_provider_omingest.models.entities import (
    Column,
    ColumnUpstream,
    ConstraintType,
    DatabaseSchema,
    Table,
    TableConstraint,
    TableType,
    TableUpstream,
)
from airflow_provider_omingest.models.units import SchemaSnapshot, TableSlice, WorkUnit
from airflow_provider_omingest.sources.sql.source import SqlAlchemySource

PK, UQ, FK = ConstraintType.PRIMARY_KEY, ConstraintType.UNIQUE, ConstraintType.FOREIGN_KEY


def col(name: str, data_type: str, display: str, position: int, **kw: object) -> Column:
    return Column(name=name, data_type=data_type, data_type_display=display, ordinal_position=position, **kw)


def extract(
    source: SqlAlchemySource,
    database: str,
    schemas: tuple[str, ...],
    filters: Filters | None = None,
    include_views: bool = True,
    **unit_kw: object,
) -> dict[str, SchemaSnapshot]:
    unit = WorkUnit(unit_id="u1", database=database, schemas=schemas, **unit_kw)
    snapshots = list(source.extract(unit, filters or Filters(), include_views=include_views))
    assert [s.schema_name for s in snapshots] == list(schemas)
    return {s.schema_name: s for s in snapshots}


def by_name(snapshot: SchemaSnapshot) -> dict[str, Table]:
    return {t.name: t for t in snapshot.tables}


def without_volatile(table: Table) -> Table:
    return table.model_copy(update={"row_count": None, "last_altered": None, "source_digest": None,
                                    "object_id": None})


def assert_table(got: Table, expected: Table) -> None:
    """Compare two tables field by field, column by column, so that a failure names the difference."""
    for name in Table.model_fields:
        if name in ("source_digest", "object_id"):
            continue  # digests: test_table_digests.py; object ids: test_object_ids_are_the_oids
        if name == "columns":
            assert [c.name for c in got.columns] == [c.name for c in expected.columns], got.name
            for g, e in zip(got.columns, expected.columns):
                assert g == e, f"{got.name}.{g.name}"
        else:
            assert getattr(got, name) == getattr(expected, name), f"{got.name}: {name}"


def run_ddl(url: str, ddl: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(ddl)
    finally:
        engine.dispose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# =========================================================================== PostgreSQL

PG_DDL = """
create table public.countries (code char(2) primary key, name text not null);
create schema sales;
comment on schema sales is 'Sales data';
create type sales.status as enum ('new', 'paid');
create table sales.customers (
    id bigserial primary key,
    email varchar(120) not null unique,
    name text,
    country char(2) default 'FR',
    created_at timestamptz not null default now()
);
comment on table sales.customers is 'People who buy';
comment on column sales.customers.email is 'Login e-mail';
create table sales.orders (
    id bigint primary key,
    customer_id bigint not null constraint fk_orders_customer references sales.customers (id),
    amount numeric(10, 2) not null default 0,
    tags text[],
    status sales.status,
    payload jsonb,
    uid uuid,
    data bytea,
    ratio double precision,
    score real,
    small smallint,
    flag boolean,
    d date,
    t time,
    iv interval,
    ip inet,
    doc xml,
    constraint uq_orders_customer_id unique (customer_id, id)
);
create view sales.big_orders as select id, amount from sales.orders where amount > 100;
comment on view sales.big_orders is 'Orders above 100';
comment on column sales.big_orders.amount is 'Order amount';
create materialized view sales.order_totals as
    select customer_id, sum(amount) as total from sales.orders group by customer_id;
comment on materialized view sales.order_totals is 'Totals per customer';
create table sales.events (id bigint, happened_at date not null, kind text) partition by range (happened_at);
create table sales.events_2024 partition of sales.events for values from ('2024-01-01') to ('2025-01-01');
create schema finance;
create table finance.invoices (
    id integer primary key,
    order_id bigint references sales.orders (id),
    country char(2) references public.countries (code),
    total numeric(12, 3),
    note varchar(20)
);
"""


def pg_expected(db: str) -> dict[str, Table]:
    return {
        "sales.customers": Table(
            name="customers",
            description="People who buy",
            columns=(
                col(
                    "id",
                    "BIGINT",
                    "bigint",
                    1,
                    nullable=False,
                    default="nextval('sales.customers_id_seq'::regclass)",
                ),
                col(
                    "email",
                    "VARCHAR",
                    "varchar(120)",
                    2,
                    nullable=False,
                    data_length=120,
                    description="Login e-mail",
                ),
                col("name", "TEXT", "text", 3),
                col("country", "CHAR", "char(2)", 4, data_length=2, default="'FR'::bpchar"),
                col(
                    "created_at", "TIMESTAMPZ", "timestamp with time zone", 5, nullable=False, default="now()"
                ),
            ),
            constraints=(
                TableConstraint(constraint_type=PK, columns=("id",), name="customers_pkey"),
                TableConstraint(constraint_type=UQ, columns=("email",), name="customers_email_key"),
            ),
        ),
        "sales.orders": Table(
            name="orders",
            columns=(
                col("id", "BIGINT", "bigint", 1, nullable=False),
                col("customer_id", "BIGINT", "bigint", 2, nullable=False),
                col(
                    "amount",
                    "NUMERIC",
                    "numeric(10,2)",
                    3,
                    nullable=False,
                    precision=10,
                    scale=2,
                    default="0",
                ),
                col("tags", "ARRAY", "text[]", 4, array_data_type="TEXT"),
                col("status", "ENUM", "sales.status", 5),
                col("payload", "JSON", "jsonb", 6),
                col("uid", "UUID", "uuid", 7),
                col("data", "BYTEA", "bytea", 8),
                col("ratio", "DOUBLE", "double precision", 9),
                col("score", "FLOAT", "real", 10),
                col("small", "SMALLINT", "smallint", 11),
                col("flag", "BOOLEAN", "boolean", 12),
                col("d", "DATE", "date", 13),
                col("t", "TIME", "time without time zone", 14),
                col("iv", "INTERVAL", "interval", 15),
                col("ip", "INET", "inet", 16),
                col("doc", "XML", "xml", 17),
            ),
            constraints=(
                TableConstraint(constraint_type=PK, columns=("id",), name="orders_pkey"),
                TableConstraint(
                    constraint_type=UQ, columns=("customer_id", "id"), name="uq_orders_customer_id"
                ),
                TableConstraint(
                    constraint_type=FK,
                    columns=("customer_id",),
                    name="fk_orders_customer",
                    referred_table=f"{db}.sales.customers",
                    referred_columns=("id",),
                ),
            ),
        ),
        "sales.big_orders": Table(
            name="big_orders",
            table_type=TableType.VIEW,
            description="Orders above 100",
            columns=(
                col("id", "BIGINT", "bigint", 1),
                col(
                    "amount", "NUMERIC", "numeric(10,2)", 2, precision=10, scale=2, description="Order amount"
                ),
            ),
            view_definition="SELECT orders.id,\n    orders.amount\n   FROM sales.orders\n"
            "  WHERE (orders.amount > (100)::numeric);",
            upstreams=(TableUpstream(table=f"{db}.sales.orders"),),
        ),
        "sales.order_totals": Table(
            name="order_totals",
            table_type=TableType.MATERIALIZED_VIEW,
            description="Totals per customer",
            columns=(col("customer_id", "BIGINT", "bigint", 1), col("total", "NUMERIC", "numeric", 2)),
            view_definition=(
                "SELECT orders.customer_id,\n    sum(orders.amount) AS total\n"
                "   FROM sales.orders\n  GROUP BY orders.customer_id;"
            ),
            upstreams=(TableUpstream(table=f"{db}.sales.orders"),),
        ),
        "sales.events": Table(
            name="events",
            table_type=TableType.PARTITIONED,
            columns=(
                col("id", "BIGINT", "bigint", 1),
                col("happened_at", "DATE", "date", 2, nullable=False),
                col("kind", "TEXT", "text", 3),
            ),
            partition_columns=("happened_at",),
            properties={"partition_key": "RANGE (happened_at)"},
        ),
        "finance.invoices": Table(
            name="invoices",
            columns=(
                col("id", "INT", "integer", 1, nullable=False),
                col("order_id", "BIGINT", "bigint", 2),
                col("country", "CHAR", "char(2)", 3, data_length=2),
                col("total", "NUMERIC", "numeric(12,3)", 4, precision=12, scale=3),
                col("note", "VARCHAR", "varchar(20)", 5, data_length=20),
            ),
            constraints=(
                TableConstraint(constraint_type=PK, columns=("id",), name="invoices_pkey"),
                TableConstraint(
                    constraint_type=FK,
                    columns=("country",),
                    name="invoices_country_fkey",
                    referred_table=f"{db}.public.countries",
                    referred_columns=("code",),
                ),
                TableConstraint(
                    constraint_type=FK,
                    columns=("order_id",),
                    name="invoices_order_id_fkey",
                    referred_table=f"{db}.sales.orders",
                    referred_columns=("id",),
                ),
            ),
        ),
    }


@pytest.fixture
def pg_db(pg_url: str) -> tuple[str, str]:
    """A PostgreSQL database holding the test schemas: (url, database name)."""
    run_ddl(pg_url, PG_DDL)
    return pg_url, sa.engine.make_url(pg_url).database


class TestPostgres:
    def test_listing(self, pg_db: tuple[str, str]) -> None:
        url, db = pg_db
        with SqlAlchemySource(url) as source:
            assert source.kind == "postgresql"
            now = source.now()
            assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
            assert abs(now - datetime.now(timezone.utc)) < timedelta(minutes=5)
            assert source.list_databases() == [db]
            assert source.list_schemas(db) == ["finance", "public", "sales"]
            assert source.engine.pool.checkedin() + source.engine.pool.checkedout() == 1  # one connection opened
            # public also holds the two views of the pg_stat_statements extension.
            assert source.count_tables(db, ["sales", "finance", "public", "absent"]) == {
                "sales": 5,
                "finance": 1,
                "public": 3,
                "absent": 0,
            }
        assert SqlAlchemySource(url, database_name="warehouse").list_databases() == ["warehouse"]

    def test_extracts_every_field(self, pg_db: tuple[str, str]) -> None:
        url, db = pg_db
        with SqlAlchemySource(url) as source:
            snaps = extract(source, db, ("sales", "finance"))
        sales, finance = snaps["sales"], snaps["finance"]
        assert sales.database == db and sales.complete and sales.table_slice is None
        assert sales.schema_entity == DatabaseSchema(name="sales", description="Sales data")
        assert finance.schema_entity == DatabaseSchema(name="finance")
        # The partition events_2024 is part of events, not a table of its own.
        assert [t.name for t in sales.tables] == [
            "big_orders",
            "customers",
            "events",
            "order_totals",
            "orders",
        ]
        assert [t.name for t in finance.tables] == ["invoices"]
        got = {f"{s}.{t.name}": without_volatile(t) for s, snap in snaps.items() for t in snap.tables}
        for key, expected in pg_expected(db).items():
            assert_table(got[key], expected)

    def test_filters_views_slice_and_only_tables(self, pg_db: tuple[str, str]) -> None:
        url, db = pg_db
        with SqlAlchemySource(url) as source:
            include = Filters(table=FilterPattern(include=("orders", "big_")))
            assert [t.name for t in extract(source, db, ("sales",), include)["sales"].tables] == [
                "big_orders",
                "orders",
            ]
            exclude = Filters(table=FilterPattern(exclude=("order",)))
            assert [t.name for t in extract(source, db, ("sales",), exclude)["sales"].tables] == [
                "big_orders",
                "customers",
                "events",
            ]
            no_views = extract(source, db, ("sales",), include_views=False)["sales"]
            assert [t.name for t in no_views.tables] == ["customers", "events", "orders"]

            names = ["big_orders", "customers", "events", "order_totals", "orders"]
            seen: list[str] = []
            for index in range(3):
                piece = TableSlice(index=index, count=3)
                snap = extract(source, db, ("sales",), table_slice=piece)["sales"]
                assert snap.table_slice == piece and snap.complete
                assert [t.name for t in snap.tables] == [n for n in names if piece.contains(n)]
                seen += [t.name for t in snap.tables]
            assert sorted(seen) == names

            only = extract(source, db, ("sales", "finance"), only_tables={"sales": ("orders", "big_orders")})
            assert not only["sales"].complete and not only["finance"].complete
            expected = pg_expected(db)
            assert [without_volatile(t) for t in only["sales"].tables] == [
                expected["sales.big_orders"],
                expected["sales.orders"],
            ]
            assert only["finance"].tables == []
            assert only["finance"].schema_entity == DatabaseSchema(name="finance")

    def test_many_names_are_filtered_in_python(self, pg_db: tuple[str, str], monkeypatch) -> None:
        url, db = pg_db
        monkeypatch.setattr(SqlAlchemySource, "max_bound_names", 1)
        with SqlAlchemySource(url) as source:
            only = extract(source, db, ("sales",), only_tables={"sales": ("orders", "customers")})
        expected = pg_expected(db)
        assert [without_volatile(t) for t in only["sales"].tables] == [
            expected["sales.customers"],
            expected["sales.orders"],
        ]

    def test_servers_before_14_are_read_through_the_inspector(self, pg_db: tuple[str, str]) -> None:
        url, db = pg_db
        with SqlAlchemySource(url) as source:
            source.list_schemas(db)  # connect: the dialect learns the server version
            source.engine.dialect.server_version_info = (13, 16)
            snapshots = extract(source, db, ("sales", "finance"))
            with pytest.raises(IncrementalUnsupported, match=r"13\.16 has no digest query"):
                source.table_digests(db, ["sales"])
        got = {f"{s}.{t.name}": t for s, snap in snapshots.items() for t in snap.tables}
        assert all(t.source_digest is None for t in got.values())
        for key, expected in pg_expected(db).items():
            assert_table(without_volatile(got[key]), expected)

    def test_missing_schema_raises_source_error(self, pg_db: tuple[str, str]) -> None:
        url, db = pg_db
        unit = WorkUnit(unit_id="u", database=db, schemas=("sales", "vanished"))
        with SqlAlchemySource(url) as source:
            snapshots = source.extract(unit, Filters())
            assert next(snapshots).schema_name == "sales"
            with pytest.raises(SourceError) as info:
                next(snapshots)
        assert (info.value.database, info.value.schema) == (db, "vanished")
        assert "does not exist" in str(info.value)

    def test_unreachable_server_raises_source_error(self) -> None:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nowhere"
        with SqlAlchemySource(url, engine_kwargs={"connect_args": {"connect_timeout": 2}}) as source:
            with pytest.raises(SourceError) as info:
                list(source.extract(WorkUnit(unit_id="u", database="nowhere", schemas=("sales",)), Filters()))
            assert (info.value.database, info.value.schema) == ("nowhere", "sales")
            assert isinstance(info.value.__cause__, sa.exc.OperationalError)
            with pytest.raises(SourceError) as listing:
                source.list_schemas("nowhere")
            assert listing.value.schema is None


def test_engine_is_lazy_and_missing_driver_is_named() -> None:
    source = SqlAlchemySource("postgresql+nosuchdriver://u@127.0.0.1:1/db")
    assert source.kind == "postgresql" and source._engine is None
    with pytest.raises(MissingDependency, match=r"airflow-provider-omingest\[postgres\]"):
        source.list_schemas("db")


def _shape_ddl(schema: str, tables: int) -> str:
    """``tables`` tables chained by foreign keys, with comments, plus one view per 5 tables."""
    lines = [f"create schema {schema};"]
    for i in range(tables):
        name = f"{schema}.t{i:03d}"
        parent = f", parent_id integer references {schema}.t{i - 1:03d} (id)" if i else ""
        columns = (
            "id integer primary key, code varchar(20) unique, amount numeric(10, 2) default 0, tags text[]"
        )
        lines += [
            f"create table {name} ({columns}, created_at timestamptz{parent});",
            f"comment on table {name} is 'table {i}';",
            f"comment on column {name}.code is 'code {i}';",
        ]
        if i % 5 == 4:
            lines.append(f"create view {schema}.v{i:03d} as select id, code from {name};")
    return "\n".join(lines)


#: Top-level statements sent to extract one schema, by number of tables (filled by the test).
STATEMENTS_PER_SCHEMA: dict[int, int] = {}


def test_postgres_statements_do_not_grow_with_tables(pg_url: str) -> None:
    import psycopg

    run_ddl(pg_url, _shape_ddl("small", 5) + _shape_ddl("large", 50))
    db = sa.engine.make_url(pg_url).database
    conninfo = sa.engine.make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    count_sql = (
        "select coalesce(sum(s.calls), 0) from pg_stat_statements s "
        "join pg_database d on d.oid = s.dbid "
        "where d.datname = current_database() and s.query not ilike '%pg_stat_statements%' "
        "and s.toplevel = {}"
    )
    with psycopg.connect(conninfo, autocommit=True) as admin, SqlAlchemySource(pg_url) as source:
        source.list_schemas(db)  # connect and initialise the dialect before counting
        for schema, tables in (("small", 5), ("large", 50)):
            admin.execute("select pg_stat_statements_reset()")
            snap = extract(source, db, (schema,))[schema]
            STATEMENTS_PER_SCHEMA[tables] = int(admin.execute(count_sql.format("true")).fetchone()[0])
            # pg_get_viewdef() looks the view's rule up through SPI: a server-side lookup per view,
            # counted by pg_stat_statements.track=all as a nested statement, not a round trip.
            # It is evaluated twice per view, for the digest and for the definition, in one statement.
            nested = admin.execute(count_sql.format("false")).fetchone()[0]
            assert nested == 2 * (tables // 5)
            assert len(snap.tables) == tables + tables // 5
            assert all(t.columns for t in snap.tables)
            assert sum(1 for t in snap.tables for c in t.constraints if c.constraint_type is FK) == tables - 1
        # A unit of several schemas is read with the same statements as one schema.
        admin.execute("select pg_stat_statements_reset()")
        both = extract(source, db, ("small", "large"))
        per_unit = int(admin.execute(count_sql.format("true")).fetchone()[0])
        assert [len(s.tables) for s in both.values()] == [6, 60]
    print(f"PostgreSQL statements per schema: {STATEMENTS_PER_SCHEMA}, per unit of two schemas: {per_unit}")
    assert STATEMENTS_PER_SCHEMA[5] == STATEMENTS_PER_SCHEMA[50] == per_unit
    # the listing, set jit = off, the read (autocommit: no BEGIN and ROLLBACK)
    assert STATEMENTS_PER_SCHEMA[5] == 3


# =========================================================================== SQLite

SQLITE_DDL = """
create table customers (
    id integer primary key,
    email text not null unique,
    name varchar(120),
    balance numeric(10, 2) default 0,
    created_at datetime,
    active boolean default 1,
    photo blob
);
create table orders (
    id integer primary key,
    customer_id integer not null references customers (id),
    amount decimal(8, 3),
    note char(10),
    constraint uq_order unique (customer_id, amount)
);
create view big_orders as select id, amount from orders where amount > 100;
"""


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SQLITE_DDL)
    return path


class TestSqlite:
    def test_listing(self, sqlite_path: Path) -> None:
        with SqlAlchemySource(f"sqlite:///{sqlite_path}") as source:
            assert source.kind == "sqlite"
            assert source.now().tzinfo is not None
            assert source.list_databases() == ["shop"]
            assert source.list_schemas("shop") == ["main"]
            assert source.count_tables("shop", ["main"]) == {"main": 3}
        assert SqlAlchemySource("sqlite://").list_databases() == ["main"]

    def test_extracts_every_field(self, sqlite_path: Path) -> None:
        with SqlAlchemySource(f"sqlite:///{sqlite_path}") as source:
            snap = extract(source, "shop", ("main",))["main"]
        assert snap.schema_entity == DatabaseSchema(name="main") and snap.complete
        tables = by_name(snap)
        assert list(tables) == ["big_orders", "customers", "orders"]
        assert_table(
            tables["customers"],
            Table(
                name="customers",
                columns=(
                    # SQLite reports an INTEGER PRIMARY KEY (the rowid) as nullable.
                    col("id", "INT", "integer", 1),
                    col("email", "TEXT", "text", 2, nullable=False),
                    col("name", "VARCHAR", "varchar(120)", 3, data_length=120),
                    col("balance", "NUMERIC", "numeric(10,2)", 4, precision=10, scale=2, default="0"),
                    col("created_at", "DATETIME", "datetime", 5),
                    col("active", "BOOLEAN", "boolean", 6, default="1"),
                    col("photo", "BLOB", "blob", 7),
                ),
                constraints=(
                    TableConstraint(constraint_type=PK, columns=("id",)),
                    TableConstraint(constraint_type=UQ, columns=("email",)),
                ),
            ),
        )
        assert_table(
            tables["orders"],
            Table(
                name="orders",
                columns=(
                    col("id", "INT", "integer", 1),
                    col("customer_id", "INT", "integer", 2, nullable=False),
                    col("amount", "DECIMAL", "decimal(8,3)", 3, precision=8, scale=3),
                    col("note", "CHAR", "char(10)", 4, data_length=10),
                ),
                constraints=(
                    TableConstraint(constraint_type=PK, columns=("id",)),
                    TableConstraint(constraint_type=UQ, columns=("customer_id", "amount"), name="uq_order"),
                    TableConstraint(
                        constraint_type=FK,
                        columns=("customer_id",),
                        referred_table="shop.main.customers",
                        referred_columns=("id",),
                    ),
                ),
            ),
        )
        assert_table(
            tables["big_orders"],
            Table(
                name="big_orders",
                table_type=TableType.VIEW,
                columns=(
                    col("id", "INT", "integer", 1),
                    col("amount", "DECIMAL", "decimal(8,3)", 2, precision=8, scale=3),
                ),
                view_definition="CREATE VIEW big_orders as select id, amount from orders where amount > 100",
                upstreams=(TableUpstream(table="shop.main.orders", columns=(
                    ColumnUpstream(downstream_column="id", upstream_columns=("id",)),
                    ColumnUpstream(downstream_column="amount", upstream_columns=("amount",)),
                )),),
            ),
        )

    def test_filters_and_only_tables(self, sqlite_path: Path) -> None:
        with SqlAlchemySource(f"sqlite:///{sqlite_path}") as source:
            kept = extract(source, "shop", ("main",), Filters(table=FilterPattern(exclude=("big_",))))
            assert [t.name for t in kept["main"].tables] == ["customers", "orders"]
            assert [
                t.name for t in extract(source, "shop", ("main",), include_views=False)["main"].tables
            ] == [
                "customers",
                "orders",
            ]
            only = extract(source, "shop", ("main",), only_tables={"main": ("orders",)})["main"]
            assert [t.name for t in only.tables] == ["orders"] and not only.complete
            assert only.tables[0].constraints[-1].referred_table == "shop.main.customers"

    def test_missing_schema_raises_source_error(self, sqlite_path: Path) -> None:
        with SqlAlchemySource(f"sqlite:///{sqlite_path}") as source, pytest.raises(SourceError) as info:
            extract(source, "shop", ("attached_but_gone",))
        assert (info.value.database, info.value.schema) == ("shop", "attached_but_gone")


# =========================================================================== DuckDB

DUCKDB_DDL = [
    "create schema shop",
    "create schema crm",
    """create table shop.customers (
        id integer primary key,
        email varchar not null unique,
        name varchar,
        score decimal(10, 2) default 0,
        tags varchar[],
        profile struct(age integer, city varchar),
        prefs map(varchar, integer),
        created timestamp with time zone,
        uid uuid,
        raw blob,
        doc json,
        big hugeint,
        ratio double,
        flag boolean default true,
        mood enum('happy', 'sad')
    )""",
    "comment on table shop.customers is 'People'",
    "comment on column shop.customers.email is 'Login e-mail'",
    """create table shop.orders (
        id bigint primary key,
        customer_id integer references shop.customers (id),
        amount decimal(12, 3) not null,
        unique (customer_id, id)
    )""",
    "create view shop.big_orders as select id, amount from shop.orders where amount > 100",
    "comment on view shop.big_orders is 'Large orders'",
    "create table crm.contacts (id integer primary key, note varchar)",
]


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    import duckdb

    path = tmp_path / "lake.duckdb"
    with duckdb.connect(str(path)) as conn:
        for statement in DUCKDB_DDL:
            conn.execute(statement)
    return path


class TestDuckDB:
    def test_listing(self, duckdb_path: Path, tmp_path: Path) -> None:
        with SqlAlchemySource(f"duckdb:///{duckdb_path}") as source:
            assert source.kind == "duckdb"
            now = source.now()
            assert now.utcoffset() == timedelta(0)
            assert abs(now - datetime.now(timezone.utc)) < timedelta(minutes=5)
            assert source.list_databases() == ["lake"]
            # Another attached catalog is another database: its schemas are not listed.
            with source.engine.begin() as conn:
                conn.exec_driver_sql(f"attach '{tmp_path / 'other.duckdb'}' as other")
                conn.exec_driver_sql("create schema other.elsewhere")
                conn.exec_driver_sql("create table other.elsewhere.t (id integer)")
            assert source.list_schemas("lake") == ["crm", "shop"]
            assert source.count_tables("lake", ["shop", "crm", "main"]) == {"shop": 3, "crm": 1, "main": 0}
            with source.engine.begin() as conn:
                conn.exec_driver_sql("create table main.loose (id integer)")
            # main is listed once it holds something.
            assert source.list_schemas("lake") == ["crm", "main", "shop"]

    def test_extracts_every_field(self, duckdb_path: Path) -> None:
        with SqlAlchemySource(f"duckdb:///{duckdb_path}") as source:
            snaps = extract(source, "lake", ("shop", "crm"))
        shop = snaps["shop"]
        assert shop.schema_entity == DatabaseSchema(name="shop") and shop.complete
        tables = {name: without_volatile(t) for name, t in by_name(shop).items()}
        assert list(tables) == ["big_orders", "customers", "orders"]
        assert_table(
            tables["customers"],
            Table(
                name="customers",
                description="People",
                columns=(
                    col("id", "INT", "INTEGER", 1, nullable=False),
                    col("email", "VARCHAR", "VARCHAR", 2, nullable=False, description="Login e-mail"),
                    col("name", "VARCHAR", "VARCHAR", 3),
                    col("score", "DECIMAL", "DECIMAL(10,2)", 4, precision=10, scale=2, default="0"),
                    col("tags", "ARRAY", "VARCHAR[]", 5, array_data_type="VARCHAR"),
                    col(
                        "profile",
                        "STRUCT",
                        "STRUCT(age INTEGER, city VARCHAR)",
                        6,
                        children=(
                            col("age", "INT", "INTEGER", 1),
                            col("city", "VARCHAR", "VARCHAR", 2),
                        ),
                    ),
                    col("prefs", "MAP", "MAP(VARCHAR, INTEGER)", 7),
                    col("created", "TIMESTAMPZ", "TIMESTAMP WITH TIME ZONE", 8),
                    col("uid", "UUID", "UUID", 9),
                    col("raw", "BLOB", "BLOB", 10),
                    col("doc", "JSON", "JSON", 11),
                    col("big", "LARGEINT", "HUGEINT", 12),
                    col("ratio", "DOUBLE", "DOUBLE", 13),
                    col("flag", "BOOLEAN", "BOOLEAN", 14, default="true"),
                    col("mood", "ENUM", "ENUM('happy', 'sad')", 15),
                ),
                constraints=(
                    TableConstraint(constraint_type=PK, columns=("id",), name="customers_id_pkey"),
                    TableConstraint(constraint_type=UQ, columns=("email",), name="customers_email_key"),
                ),
            ),
        )
        assert_table(
            tables["orders"],
            Table(
                name="orders",
                columns=(
                    col("id", "BIGINT", "BIGINT", 1, nullable=False),
                    col("customer_id", "INT", "INTEGER", 2),
                    col("amount", "DECIMAL", "DECIMAL(12,3)", 3, nullable=False, precision=12, scale=3),
                ),
                constraints=(
                    TableConstraint(constraint_type=PK, columns=("id",), name="orders_id_pkey"),
                    TableConstraint(
                        constraint_type=UQ, columns=("customer_id", "id"), name="orders_customer_id_id_key"
                    ),
                    TableConstraint(
                        constraint_type=FK,
                        columns=("customer_id",),
                        name="orders_customer_id_id_fkey",
                        referred_table="lake.shop.customers",
                        referred_columns=("id",),
                    ),
                ),
            ),
        )
        assert_table(
            tables["big_orders"],
            Table(
                name="big_orders",
                table_type=TableType.VIEW,
                description="Large orders",
                columns=(
                    col("id", "BIGINT", "BIGINT", 1),
                    col("amount", "DECIMAL", "DECIMAL(12,3)", 2, precision=12, scale=3),
                ),
                view_definition=(
                    "CREATE VIEW shop.big_orders AS SELECT id, amount FROM shop.orders WHERE (amount > 100);"
                ),
                upstreams=(TableUpstream(table="lake.shop.orders", columns=(
                    ColumnUpstream(downstream_column="id", upstream_columns=("id",)),
                    ColumnUpstream(downstream_column="amount", upstream_columns=("amount",)),
                )),),
            ),
        )
        assert [t.name for t in snaps["crm"].tables] == ["contacts"]

    def test_filters_slice_and_only_tables(self, duckdb_path: Path) -> None:
        with SqlAlchemySource(f"duckdb:///{duckdb_path}") as source:
            got = extract(source, "lake", ("shop",), Filters(table=FilterPattern(include=("cust", "big"))))
            assert [t.name for t in got["shop"].tables] == ["big_orders", "customers"]
            assert [
                t.name for t in extract(source, "lake", ("shop",), include_views=False)["shop"].tables
            ] == [
                "customers",
                "orders",
            ]
            piece = TableSlice(index=1, count=2)
            sliced = extract(source, "lake", ("shop",), table_slice=piece)["shop"]
            assert [t.name for t in sliced.tables] == [
                n for n in ("big_orders", "customers", "orders") if piece.contains(n)
            ]
            only = extract(source, "lake", ("shop", "crm"), only_tables={"shop": ("orders",)})
            assert [t.name for t in only["shop"].tables] == ["orders"] and not only["shop"].complete
            assert only["crm"].tables == []

    def test_missing_schema_raises_source_error(self, duckdb_path: Path) -> None:
        with SqlAlchemySource(f"duckdb:///{duckdb_path}") as source, pytest.raises(SourceError) as info:
            extract(source, "lake", ("gone",))
        assert (info.value.database, info.value.schema) == ("lake", "gone")
