"""SqlAlchemySource when things go wrong: locks, timeouts, grants, odd tables, missing files.

Every test runs against a real database (the suite's PostgreSQL server, SQLite and DuckDB files).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.exceptions import ConfigError, SourceError
from airflow_provider_omingest.models.units import WorkUnit
from airflow_provider_omingest.sources.sql import duckdb_reflection, postgres_reflection
from airflow_provider_omingest.sources.sql import source as sql_source
from airflow_provider_omingest.sources.sql.source import SqlAlchemySource
from airflow_provider_omingest.sources.sqlstate import is_transient_sqlstate


def _conninfo(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(url: str, sql: str) -> None:
    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def exclusive_lock(url: str, table: str, release_after: float = 20.0) -> Iterator[None]:
    """Hold ACCESS EXCLUSIVE on ``table`` from another connection (released after ``release_after`` s at most).

    The release timer keeps a source without a lock timeout from hanging the test forever: it then
    fails on the elapsed time instead.
    """
    conn = psycopg.connect(_conninfo(url))
    conn.execute(f"lock table {table} in access exclusive mode")
    timer = threading.Timer(release_after, conn.cancel_safe)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        conn.rollback()
        conn.close()


@pytest.fixture
def two_schemas(pg_url: str) -> tuple[str, str]:
    _run(pg_url, "create schema a; create table a.t (id int default 1 primary key);"
                 "create schema b; create table b.locked (id int default 2, v text); create table b.free (id int)")
    return pg_url, sa.engine.make_url(pg_url).database


# --------------------------------------------------------------------------- locks and timeouts


@pytest.mark.parametrize("connections, schema", [(2, "b"), (1, None)])
def test_digests_fail_within_the_lock_timeout_naming_the_schema(two_schemas, connections, schema) -> None:
    url, db = two_schemas
    with SqlAlchemySource(url, lock_timeout=1, digest_connections=connections) as source:
        assert sorted(source.table_digests(db, ["a", "b"])) == ["a", "b"]
        with exclusive_lock(url, "b.locked"):
            started = time.monotonic()
            with pytest.raises(SourceError) as info:
                source.table_digests(db, ["a", "b"])
            elapsed = time.monotonic() - started
    assert elapsed < 8, f"waited {elapsed:.1f}s for a lock: statements are not bounded"
    assert (info.value.database, info.value.schema) == (db, schema)
    assert "lock timeout" in info.value.reason and info.value.retryable
    # One schema at a time (the engine's fallback) names it; the other schema is readable.
    with SqlAlchemySource(url, lock_timeout=1) as source, exclusive_lock(url, "b.locked"):
        assert source.table_digests(db, ["a"])["a"]
        with pytest.raises(SourceError) as single:
            source.table_digests(db, ["b"])
    assert single.value.schema == "b"


def test_extraction_fails_within_the_lock_timeout(two_schemas) -> None:
    url, db = two_schemas
    unit = WorkUnit(unit_id="u", database=db, schemas=("a", "b"))
    with SqlAlchemySource(url, lock_timeout=1) as source, exclusive_lock(url, "b.locked"):
        started = time.monotonic()
        with pytest.raises(SourceError) as info:
            list(source.extract(unit, Filters()))
        elapsed = time.monotonic() - started
    assert elapsed < 8, f"waited {elapsed:.1f}s for a lock"
    assert info.value.database == db and info.value.schema == "a, b" and info.value.retryable
    assert "lock timeout" in info.value.reason


def test_statement_timeout_bounds_every_statement(pg_url: str) -> None:
    db = sa.engine.make_url(pg_url).database
    with SqlAlchemySource(pg_url, statement_timeout=0.5) as source:
        with source.engine.connect() as conn:
            assert conn.execute(sa.text("show statement_timeout")).scalar_one() == "500ms"
            assert conn.execute(sa.text("show lock_timeout")).scalar_one() == "30s"
        with pytest.raises(SourceError) as info, source._listing(db) as conn:
            conn.execute(sa.text("select pg_sleep(3)"))
    assert "statement timeout" in info.value.reason and info.value.retryable


def test_no_limit_and_options_of_the_url_are_kept(pg_url: str) -> None:
    url = sa.engine.make_url(pg_url).update_query_dict({"options": "-c work_mem=8MB"})
    with SqlAlchemySource(url, statement_timeout=0) as source, source.engine.connect() as conn:
        assert conn.execute(sa.text("show statement_timeout")).scalar_one() == "0"
        assert conn.execute(sa.text("show work_mem")).scalar_one() == "8MB"


@pytest.mark.parametrize("value", ["soon", -1, "inf"])
def test_bad_timeouts_name_the_setting(value: object) -> None:
    with pytest.raises(ConfigError, match="lock_timeout"):
        SqlAlchemySource("postgresql+psycopg://u@h/db", lock_timeout=value)  # type: ignore[arg-type]


def test_timeouts_from_connection_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_omingest.hooks.source import OmingestSourceHook

    conn = {"conn_type": "postgres", "host": "db.example", "schema": "wh",
            "extra": {"statement_timeout": "120", "lock_timeout": 5}}
    monkeypatch.setenv("AIRFLOW_CONN_WH_TIMEOUTS", json.dumps(conn))
    source = OmingestSourceHook("wh_timeouts").get_source()
    assert (source.statement_timeout, source.lock_timeout) == (120.0, 5.0)
    monkeypatch.setenv("AIRFLOW_CONN_WH_BAD", json.dumps({**conn, "extra": {"lock_timeout": "a minute"}}))
    with pytest.raises(ConfigError, match=r"extra lock_timeout='a minute'"):
        OmingestSourceHook("wh_bad").get_source()


def test_sqlite_lock_is_bounded_by_the_lock_timeout(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table t (id integer)")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("begin exclusive")
    try:
        with SqlAlchemySource(f"sqlite:///{path}", lock_timeout=0.5) as source:
            started = time.monotonic()
            with pytest.raises(SourceError) as info:
                source.count_tables("busy", ["main"])
            assert time.monotonic() - started < 5
    finally:
        holder.rollback()
        holder.close()
    assert "locked" in info.value.reason and info.value.retryable


# --------------------------------------------------------------------------- grants and classification


def test_permission_denied_is_terminal(pg_url: str) -> None:
    db = sa.engine.make_url(pg_url).database
    _run(pg_url, f'create role omingest_nobody login; revoke connect on database "{db}" from public')
    url = sa.engine.make_url(pg_url).set(username="omingest_nobody")
    with SqlAlchemySource(url) as source, pytest.raises(SourceError) as info:
        source.list_schemas(db)
    assert "permission denied" in info.value.reason and not info.value.retryable


def test_missing_schema_is_terminal(two_schemas) -> None:
    url, db = two_schemas
    with SqlAlchemySource(url) as source, pytest.raises(SourceError) as info:
        list(source.extract(WorkUnit(unit_id="u", database=db, schemas=("nope",)), Filters()))
    assert info.value.schema == "nope" and not info.value.retryable


@pytest.mark.parametrize("code, transient", [
    ("42501", False),  # insufficient_privilege
    ("3F000", False),  # invalid_schema_name
    ("3D000", False),  # invalid_catalog_name
    ("28P01", False),  # invalid_password
    ("42P01", False),  # undefined_table
    ("55P03", True),   # lock_not_available
    ("57014", True),   # query_canceled (statement timeout)
    ("08006", True),   # connection_failure
    ("53300", True),   # too_many_connections
    ("40P01", True),   # deadlock_detected
    (None, True),      # no SQLSTATE: a network failure
])
def test_sqlstate_classes(code: str | None, transient: bool) -> None:
    assert is_transient_sqlstate(code) is transient


def test_duckdb_and_sqlite_errors_are_classified(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    with SqlAlchemySource(f"duckdb:///{path}") as source:
        try:
            with source.engine.connect() as conn:
                conn.execute(sa.text("select * from nowhere"))
        except sa.exc.DBAPIError as e:
            assert not source.is_transient(e)
    assert SqlAlchemySource("sqlite://").is_transient(sqlite3.OperationalError("database is locked"))
    assert not SqlAlchemySource("sqlite://").is_transient(sqlite3.OperationalError("no such table: t"))


# --------------------------------------------------------------------------- a table that cannot be read


@pytest.fixture
def odd_column(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the column mappings of every path fail on a column named ``boom`` (an unreadable table)."""

    def failing(original):
        def wrapper(item, *args, **kwargs):
            name = item[0] if isinstance(item, list) else (getattr(item, "column_name", None) or item.get("name"))
            if name == "boom":
                raise ValueError("cannot map the column boom")
            return original(item, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(postgres_reflection, "_column", failing(postgres_reflection._column))
    monkeypatch.setattr(duckdb_reflection, "_column", failing(duckdb_reflection._column))
    monkeypatch.setattr(sql_source, "_column", failing(sql_source._column))


def _assert_odd_table_is_unreflectable(source: SqlAlchemySource, database: str, schema: str) -> None:
    (snapshot,) = source.extract(WorkUnit(unit_id="u", database=database, schemas=(schema,)), Filters())
    assert snapshot.complete
    assert [t.name for t in snapshot.tables] == ["fine"]
    assert snapshot.unreflectable == {"odd": "ValueError: cannot map the column boom"}


def test_postgres_odd_table_is_unreflectable(pg_url: str, odd_column: None) -> None:
    _run(pg_url, "create schema s; create table s.fine (id int); create table s.odd (id int, boom int)")
    db = sa.engine.make_url(pg_url).database
    with SqlAlchemySource(pg_url) as source:
        _assert_odd_table_is_unreflectable(source, db, "s")
        source.engine.dialect.server_version_info = (13, 0)  # the Inspector path
        _assert_odd_table_is_unreflectable(source, db, "s")


def test_duckdb_odd_table_is_unreflectable(tmp_path: Path, odd_column: None) -> None:
    import duckdb

    path = tmp_path / "odd.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema s; create table s.fine (id int); create table s.odd (id int, boom int)")
    with SqlAlchemySource(f"duckdb:///{path}") as source:
        _assert_odd_table_is_unreflectable(source, "odd", "s")


def test_sqlite_odd_table_is_unreflectable(tmp_path: Path, odd_column: None) -> None:
    path = tmp_path / "odd.db"
    with sqlite3.connect(path) as conn:
        conn.executescript("create table fine (id int); create table odd (id int, boom int);")
    with SqlAlchemySource(f"sqlite:///{path}") as source:
        _assert_odd_table_is_unreflectable(source, "odd", "main")


# --------------------------------------------------------------------------- identity


def test_object_ids_are_the_oids_and_survive_a_move(pg_url: str) -> None:
    _run(pg_url, "create schema a; create schema b; create table a.t (id int)")
    db = sa.engine.make_url(pg_url).database
    with psycopg.connect(_conninfo(pg_url)) as conn:
        oid = conn.execute("select 'a.t'::regclass::oid").fetchone()[0]
    with SqlAlchemySource(pg_url) as source:
        (snap,) = source.extract(WorkUnit(unit_id="u", database=db, schemas=("a",)), Filters())
        assert snap.tables[0].object_id == f"{db}/{oid}"
        _run(pg_url, "alter table a.t set schema b; alter table b.t rename to moved")
        (moved,) = source.extract(WorkUnit(unit_id="u", database=db, schemas=("b",)), Filters())
        assert (moved.tables[0].name, moved.tables[0].object_id) == ("moved", f"{db}/{oid}")


# --------------------------------------------------------------------------- files that do not exist


@pytest.mark.parametrize("dialect", ["sqlite", "duckdb"])
def test_missing_database_file_is_refused_and_not_created(tmp_path: Path, dialect: str) -> None:
    path = tmp_path / "typo" / f"warehouse.{dialect}"
    path.parent.mkdir()
    source = SqlAlchemySource(f"{dialect}:///{path}")
    with pytest.raises(ConfigError) as info:
        source.list_schemas("warehouse")
    assert str(path) in str(info.value) and "does not exist" in str(info.value)
    assert not info.value.retryable
    assert not path.exists(), "connecting would have created an empty database"


def test_missing_file_through_the_hook(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from airflow_provider_omingest.hooks.source import OmingestSourceHook

    missing = tmp_path / "nope.duckdb"
    monkeypatch.setenv("AIRFLOW_CONN_WH_MISSING", json.dumps({"conn_type": "duckdb", "host": str(missing)}))
    with OmingestSourceHook("wh_missing").get_source() as source, pytest.raises(ConfigError, match="nope.duckdb"):
        source.list_databases()
    assert not missing.exists()
