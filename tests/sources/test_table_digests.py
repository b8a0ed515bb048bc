"""SqlAlchemySource.table_digests: structural digests computed in PostgreSQL, DuckDB and SQLite.

Each structural change is a separate case on a fresh database: the digest of exactly the
changed relation moves, the others stay. Data changes and statistics do not move digests, and
``extract`` sets ``Table.source_digest`` to the digest ``table_digests`` returns.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.demo.warehouse import build_demo_warehouse, mutate_demo_warehouse
from airflow_provider_omingest.exceptions import ConfigError, IncrementalUnsupported
from airflow_provider_omingest.models.units import WorkUnit
from airflow_provider_omingest.sources.sql.source import SqlAlchemySource

Digests = dict[str, str]

T_COLS = "id integer, name varchar(20), amount numeric(10, 2), note varchar(20)"
K_COLS = "id integer primary key, code varchar(10) unique, parent_id integer references {s}parent (id)"

#: Base structure; ``{s}`` is the schema prefix ("s." on PostgreSQL and DuckDB, "" on SQLite).
BASE_DDL = [
    "create table {s}parent (id integer primary key, code varchar(10) unique)",
    f"create table {{s}}k ({K_COLS})",
    f"create table {{s}}t ({T_COLS})",
    "create table {s}other (x integer)",
    "create view {s}v as select id, code from {s}parent",
]


def _recreate(table: str, columns: str) -> list[str]:
    return [f"drop table {{s}}{table}", f"create table {{s}}{table} ({columns})"]


@dataclass(frozen=True)
class Case:
    """A structural change: DDL per dialect (absent: not applicable) and the relations it changes."""

    changed: frozenset[str]
    ddl: dict[str, list[str]]


def _same(*statements: str) -> dict[str, list[str]]:
    return {d: list(statements) for d in ("postgresql", "duckdb", "sqlite")}


def _alter_or_recreate(alter: str, table: str, columns: str) -> dict[str, list[str]]:
    """``alter`` on PostgreSQL and DuckDB; SQLite cannot alter that, so the table is recreated."""
    return {"postgresql": [alter], "duckdb": [alter], "sqlite": _recreate(table, columns)}


def _pg_alter_or_recreate(alter: str, table: str, columns: str) -> dict[str, list[str]]:
    """``alter`` on PostgreSQL; DuckDB and SQLite cannot alter constraints, so the table is recreated."""
    recreated = _recreate(table, columns)
    return {"postgresql": [alter], "duckdb": recreated, "sqlite": recreated}


T, K = frozenset({"t"}), frozenset({"k"})
CASES: dict[str, Case] = {
    "add_column": Case(T, _same("alter table {s}t add column extra integer")),
    "drop_column": Case(T, _same("alter table {s}t drop column note")),
    "rename_column": Case(T, _same("alter table {s}t rename column note to remark")),
    "retype_column": Case(
        T,
        _alter_or_recreate(
            "alter table {s}t alter column amount type numeric(12, 2)",
            "t",
            T_COLS.replace("numeric(10, 2)", "numeric(12, 2)"),
        ),
    ),
    "set_not_null": Case(
        T,
        _alter_or_recreate("alter table {s}t alter column note set not null", "t", T_COLS + " not null"),
    ),
    "set_default": Case(
        T,
        _alter_or_recreate(
            "alter table {s}t alter column note set default 'x'", "t", T_COLS + " default 'x'"
        ),
    ),
    "comment_column": Case(
        T, {d: ["comment on column {s}t.note is 'A note'"] for d in ("postgresql", "duckdb")}
    ),
    "comment_table": Case(T, {d: ["comment on table {s}t is 'A table'"] for d in ("postgresql", "duckdb")}),
    "add_primary_key": Case(
        T,
        _alter_or_recreate(
            "alter table {s}t add primary key (id)",
            "t",
            T_COLS.replace("id integer", "id integer primary key"),
        ),
    ),
    "add_unique": Case(
        T,
        _pg_alter_or_recreate(
            "alter table s.t add constraint t_name_key unique (name)",
            "t",
            T_COLS.replace("varchar(20),", "varchar(20) unique,", 1),
        ),
    ),
    "add_foreign_key": Case(
        T,
        _pg_alter_or_recreate(
            "alter table s.t add constraint t_id_fkey foreign key (id) references s.parent (id)",
            "t",
            T_COLS.replace("id integer", "id integer references {s}parent (id)"),
        ),
    ),
    "drop_primary_key": Case(
        K,
        _pg_alter_or_recreate(
            "alter table s.k drop constraint k_pkey", "k", K_COLS.replace("integer primary key", "integer")
        ),
    ),
    "drop_unique": Case(
        K,
        _pg_alter_or_recreate(
            "alter table s.k drop constraint k_code_key",
            "k",
            K_COLS.replace("varchar(10) unique", "varchar(10)"),
        ),
    ),
    "drop_foreign_key": Case(
        K,
        _pg_alter_or_recreate(
            "alter table s.k drop constraint k_parent_id_fkey",
            "k",
            K_COLS.replace(" references {s}parent (id)", ""),
        ),
    ),
    "redefine_view": Case(
        frozenset({"v"}),
        {
            "postgresql": ["create or replace view s.v as select id, code from s.parent where id > 0"],
            "duckdb": ["create or replace view s.v as select id, code from s.parent where id > 0"],
            "sqlite": ["drop view v", "create view v as select id, code from parent where id > 0"],
        },
    ),
    "rename_table": Case(frozenset({"other", "renamed"}), _same("alter table {s}other rename to renamed")),
    # PostgreSQL stores references by OID: renaming what a key or a view refers to changes their
    # text (the referred table or column, the view definition), so their digests move too.
    "rename_referred_table": Case(
        frozenset({"parent", "parent2", "k", "v"}), {"postgresql": ["alter table s.parent rename to parent2"]}
    ),
    "rename_referred_column": Case(
        frozenset({"parent", "k", "v"}), {"postgresql": ["alter table s.parent rename column id to pid"]}
    ),
}

DATA_DDL = {
    "postgresql": [
        "insert into s.parent select g, 'c' || g from generate_series(1, 500) g",
        "insert into s.t select g, 'n', g, 'x' from generate_series(1, 500) g",
        "update s.t set note = 'y' where id < 100",
        "delete from s.t where id > 400",
        "analyze",
    ],
    "duckdb": [
        "insert into s.parent select g, 'c' || g from range(1, 501) r(g)",
        "insert into s.t select g, 'n', g, 'x' from range(1, 501) r(g)",
        "update s.t set note = 'y' where id < 100",
        "delete from s.t where id > 400",
        "analyze",
    ],
    "sqlite": [
        "insert into parent values (1, 'a'), (2, 'b')",
        "insert into t values (1, 'n', 1, 'x'), (2, 'n', 2, 'x')",
        "update t set note = 'y' where id = 1",
        "delete from t where id = 2",
        "analyze",  # creates sqlite_stat1, an internal table: not listed
    ],
}


# --------------------------------------------------------------------------- helpers


@dataclass
class Db:
    """A database of one dialect holding the base structure."""

    dialect: str
    url: str
    database: str
    schema: str

    @property
    def prefix(self) -> str:
        return "" if self.dialect == "sqlite" else "s."

    def run(self, statements: list[str]) -> None:
        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as conn:
                for statement in statements:
                    conn.exec_driver_sql(statement.format(s=self.prefix))
        finally:
            engine.dispose()

    def digests(self, source: SqlAlchemySource | None = None) -> Digests:
        if source is not None:
            return source.table_digests(self.database, [self.schema])[self.schema]
        with SqlAlchemySource(self.url) as fresh:
            return fresh.table_digests(self.database, [self.schema])[self.schema]


def changed(before: Digests, after: Digests) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def _pg_db(pg_url: str) -> Db:
    db = Db("postgresql", pg_url, sa.engine.make_url(pg_url).database, "s")
    db.run(["create schema s", *BASE_DDL])
    return db


def _duckdb_db(tmp_path: Path) -> Db:
    db = Db("duckdb", f"duckdb:///{tmp_path / 'lake.duckdb'}", "lake", "s")
    db.run(["create schema s", *BASE_DDL])
    return db


def _sqlite_db(tmp_path: Path) -> Db:
    path = tmp_path / "shop.db"
    sqlite3.connect(path).close()
    db = Db("sqlite", f"sqlite:///{path}", "shop", "main")
    db.run(BASE_DDL)
    return db


DIALECTS = ("postgresql", "duckdb", "sqlite")


@pytest.fixture(params=DIALECTS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Db:
    if request.param == "postgresql":
        return _pg_db(request.getfixturevalue("pg_url"))
    if request.param == "duckdb":
        return _duckdb_db(tmp_path)
    return _sqlite_db(tmp_path)


def _extract_digests(source: SqlAlchemySource, db: Db) -> dict[str, str | None]:
    unit = WorkUnit(unit_id="u", database=db.database, schemas=(db.schema,))
    (snapshot,) = source.extract(unit, Filters())
    return {t.name: t.source_digest for t in snapshot.tables}


# --------------------------------------------------------------------------- every dialect


def test_lists_every_relation_and_is_stable(db: Db) -> None:
    with SqlAlchemySource(db.url) as source:
        first = db.digests(source)
        assert sorted(first) == ["k", "other", "parent", "t", "v"]
        assert all(len(d) == 32 for d in first.values())
        assert len(set(first.values())) == len(first)
        assert db.digests(source) == first, "stable across calls"
        assert source.table_digests(db.database, [db.schema, "absent"]) == {db.schema: first, "absent": {}}
        assert source.table_digests(db.database, []) == {}
    assert db.digests() == first, "stable across connections"


@pytest.mark.parametrize(
    ("db", "case"), [(d, c) for c in CASES for d in DIALECTS if d in CASES[c].ddl], indirect=["db"]
)
def test_structural_change_moves_the_digest(db: Db, case: str) -> None:
    before = db.digests()
    db.run(CASES[case].ddl[db.dialect])
    after = db.digests()
    assert changed(before, after) == CASES[case].changed
    if case == "rename_table":
        assert "other" not in after and "renamed" in after


def test_data_and_statistics_do_not_move_digests(db: Db) -> None:
    before = db.digests()
    db.run(DATA_DDL[db.dialect])
    assert db.digests() == before


def test_extract_sets_the_same_digest(db: Db) -> None:
    with SqlAlchemySource(db.url) as source:
        digests = db.digests(source)
        assert _extract_digests(source, db) == digests
        db.run(CASES["add_column"].ddl[db.dialect])
        after = _extract_digests(source, db)
        assert after == db.digests(source) and changed(digests, after) == {"t"}
        # Only some tables read: each carries the digest of the whole-schema listing.
        unit = WorkUnit(
            unit_id="u", database=db.database, schemas=(db.schema,), only_tables={db.schema: ("t",)}
        )
        (snapshot,) = source.extract(unit, Filters())
        assert [(t.name, t.source_digest) for t in snapshot.tables] == [("t", after["t"])]


@pytest.mark.parametrize("db", ["duckdb", "sqlite"], indirect=True)
def test_digest_is_read_before_the_structure(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DDL committed between the digest and the structure reads leaves the older digest.

    PostgreSQL reads both in one statement: see test_postgres_digest_and_structure_are_one_read.
    """
    from airflow_provider_omingest.sources.sql import source as sqlalchemy_source

    before = db.digests()
    reader = "_read_duckdb" if db.dialect == "duckdb" else "_read_with_inspector"
    original = getattr(sqlalchemy_source, reader)

    def racing_reader(conn: sa.Connection, *args: object) -> object:
        # DuckDB and SQLite take one writer at a time: the DDL goes through the source's connection.
        if db.dialect == "postgresql":
            db.run(CASES["add_column"].ddl[db.dialect])
        else:
            conn.exec_driver_sql(CASES["add_column"].ddl[db.dialect][0].format(s=db.prefix))
            conn.commit()
        return original(conn, *args)

    monkeypatch.setattr(sqlalchemy_source, reader, racing_reader)
    with SqlAlchemySource(db.url) as source:
        unit = WorkUnit(unit_id="u", database=db.database, schemas=(db.schema,))
        (snapshot,) = source.extract(unit, Filters())
    t = next(t for t in snapshot.tables if t.name == "t")
    assert "extra" in [c.name for c in t.columns], "the structure is the new one"
    assert t.source_digest == before["t"], "the digest is the old one: the next run refetches t"
    assert db.digests()["t"] != before["t"]


# --------------------------------------------------------------------------- PostgreSQL


def test_postgres_digest_and_structure_are_one_read(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DDL committed between the listing and the read: the structure and its digest are both new."""
    from airflow_provider_omingest.sources.sql import postgres_reflection

    db = _pg_db(pg_url)
    before = db.digests()
    original = postgres_reflection.read_relations

    def racing_read(*args: object) -> object:
        db.run(CASES["add_column"].ddl["postgresql"])
        return original(*args)

    monkeypatch.setattr(postgres_reflection, "read_relations", racing_read)
    with SqlAlchemySource(db.url) as source:
        unit = WorkUnit(unit_id="u", database=db.database, schemas=(db.schema,))
        (snapshot,) = source.extract(unit, Filters())
    t = next(t for t in snapshot.tables if t.name == "t")
    assert "extra" in [c.name for c in t.columns]
    assert t.source_digest == db.digests()["t"] != before["t"]


@contextmanager
def counting_statements(source: SqlAlchemySource) -> Iterator[list[str]]:
    statements: list[str] = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    sa.event.listen(source.engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        sa.event.remove(source.engine, "before_cursor_execute", before_cursor_execute)


PG_KINDS_DDL = """
create schema s;
create table s.regular (id integer primary key);
create table s.events (id bigint, day date not null) partition by range (day);
create table s.events_2024 partition of s.events for values from ('2024-01-01') to ('2025-01-01');
create view s.a_view as select id from s.regular;
create materialized view s.a_matview as select id from s.regular;
create foreign data wrapper omingest_dummy;
create server omingest_srv foreign data wrapper omingest_dummy;
create foreign table s.a_foreign (id integer) server omingest_srv;
create schema x;
create table x.one (id integer);
"""


def test_postgres_kinds_and_one_statement_for_many_schemas(pg_url: str) -> None:
    db = Db("postgresql", pg_url, sa.engine.make_url(pg_url).database, "s")
    db.run([PG_KINDS_DDL])
    with SqlAlchemySource(pg_url, digest_connections=1) as source:
        source.list_schemas(db.database)  # connect and initialise the dialect first
        with counting_statements(source) as statements:
            digests = source.table_digests(db.database, ["s", "x", "public"])
        assert len(statements) == 2 and statements[0] == "set jit = off", statements
        # The same relations extract reads: the partition events_2024 is part of events.
        assert sorted(digests["s"]) == ["a_foreign", "a_matview", "a_view", "events", "regular"]
        assert list(digests["x"]) == ["one"] and "s" in digests and "public" in digests
        assert _extract_digests(source, db) == digests["s"]

        with counting_statements(source) as statements:
            _extract_digests(source, db)
        assert sum("md5(" in s for s in statements) == 1, "one digest query per schema"

    # Partition key and materialized view definition are covered too.
    db.run(
        [
            "drop table s.events",
            "create table s.events (id bigint, day date not null) partition by list (day)",
            "drop materialized view s.a_matview",
            "create materialized view s.a_matview as select id from s.regular where id > 1",
        ]
    )
    after = db.digests()
    assert changed(digests["s"], after) == {"events", "a_matview"}


def test_postgres_digest_time_2000_tables(pg_url: str) -> None:
    """One schema x 2,000 tables x 20 columns (with a primary key and comments)."""
    tables, columns = 2000, 20
    lines = ["create schema big;"]
    for i in range(tables):
        cols = ", ".join(
            ["id integer primary key"]
            + [f"c{j:02d} {('text', 'numeric(12, 2)', 'timestamptz')[j % 3]}" for j in range(1, columns)]
        )
        lines.append(f"create table big.t{i:04d} ({cols});")
        lines.append(f"comment on table big.t{i:04d} is 'table {i}';")
        lines.append(f"comment on column big.t{i:04d}.c01 is 'column of {i}';")
    start = time.perf_counter()
    Db("postgresql", pg_url, "", "big").run(["\n".join(lines)])
    created = time.perf_counter() - start
    database = sa.engine.make_url(pg_url).database
    with SqlAlchemySource(pg_url) as source:
        source.list_schemas(database)
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            digests = source.table_digests(database, ["big"])
            timings.append(time.perf_counter() - start)
    assert len(digests["big"]) == tables
    print(
        f"\nPostgreSQL digest query, 1 schema x {tables} tables x {columns} columns: "
        f"{', '.join(f'{t * 1000:.0f} ms' for t in timings)} (DDL script: {created:.1f} s)"
    )
    assert min(timings) < 10


# --------------------------------------------------------------------------- DuckDB and SQLite


def test_duckdb_digests_are_limited_to_the_current_database(tmp_path: Path) -> None:
    db = _duckdb_db(tmp_path)
    with SqlAlchemySource(db.url) as source:
        before = db.digests(source)
        with source.engine.begin() as conn:
            conn.exec_driver_sql(f"attach '{tmp_path / 'other.duckdb'}' as other")
            conn.exec_driver_sql("create schema other.s")
            conn.exec_driver_sql("create table other.s.t (id integer, extra integer)")
            conn.exec_driver_sql("create table other.s.elsewhere (id integer)")
        assert db.digests(source) == before


def test_duckdb_demo_mutation_moves_exactly_the_mutated_tables(tmp_path: Path) -> None:
    path = build_demo_warehouse(tmp_path / "warehouse.duckdb")
    schemas = ["finance", "marketing", "sales", "staging"]

    def flat() -> Digests:
        with SqlAlchemySource(f"duckdb:///{path}") as source:
            per_schema = source.table_digests("warehouse", schemas)
        return {f"{s}.{t}": d for s, tables in per_schema.items() for t, d in tables.items()}

    before = flat()
    mutate_demo_warehouse(path)
    assert changed(before, flat()) == {
        "finance.invoices",
        "sales.customers",
        "marketing.email_sends",
        "staging.tmp_currency_rates",
    }


def test_sqlite_view_over_star_and_broken_view(tmp_path: Path) -> None:
    db = _sqlite_db(tmp_path)
    db.run(["create view star as select * from t", "create view broken as select * from other"])
    before = db.digests()
    db.run(["alter table t add column extra integer"])
    assert changed(before, db.digests()) == {"t", "star"}, "a select-* view's columns follow its table"
    db.run(["drop table other"])
    after = db.digests()  # a view whose table is gone does not break the listing
    assert "other" not in after and after["broken"] != before["broken"]
    assert changed(before, after) == {"t", "star", "other", "broken"}


def test_other_dialects_are_unsupported() -> None:
    source = SqlAlchemySource("mysql+pymysql://u@127.0.0.1:1/db")
    with pytest.raises(IncrementalUnsupported) as info:
        source.table_digests("db", ["s"])
    assert info.value.source == "mysql" and "runs are full" in info.value.reason
    assert source._engine is None, "refused before connecting"


def test_postgres_digests_over_several_connections(pg_url: str) -> None:
    """The schemas are split over ``digest_connections`` connections; the result is the same."""
    db = Db("postgresql", pg_url, sa.engine.make_url(pg_url).database, "s")
    db.run([PG_KINDS_DDL])
    schemas = ["s", "x", "public", "absent"]
    with SqlAlchemySource(pg_url, digest_connections=1) as one:
        expected = one.table_digests(db.database, schemas)
    with SqlAlchemySource(pg_url, digest_connections=3) as three:
        three.list_schemas(db.database)
        with counting_statements(three) as statements:
            assert three.table_digests(db.database, schemas) == expected
        assert three.engine.pool.checkedout() == 0
    assert sum(1 for s in statements if "md5(" in s) == 3
    assert list(expected) == schemas and sorted(expected["s"]) == ["a_foreign", "a_matview", "a_view", "events",
                                                                  "regular"]


def test_digest_connections_must_be_sensible() -> None:
    with pytest.raises(ConfigError, match="digest_connections=0"):
        SqlAlchemySource("postgresql+psycopg://u@h/db", digest_connections=0)


def test_disable_jit_leaves_servers_without_the_setting_alone(tmp_path: Path) -> None:
    from airflow_provider_omingest.sources.sql.digests import disable_jit

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            disable_jit(conn)  # SQLite has no such statement: the error is swallowed
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
    finally:
        engine.dispose()
