"""Sources of one server share an engine in a process: connection setup once per worker process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.models.units import WorkUnit
from airflow_provider_omingest.sources.sql import shared_engines
from airflow_provider_omingest.sources.sql.source import SqlAlchemySource

def _seed(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("create schema a; create table a.t (id int primary key); create schema b; "
                             "create table b.u (id int, note text)"))
    engine.dispose()


def _read(url: str, schema: str) -> int:
    with SqlAlchemySource(url) as source:
        unit = WorkUnit(unit_id=f"u-{schema}", database=source.url.database, schemas=(schema,))
        return sum(len(s.tables) for s in source.extract(unit, Filters(), include_views=True))


def test_units_of_one_process_set_the_connection_up_once(pg_url):
    _seed(pg_url)
    events: list[str] = []
    engine = SqlAlchemySource(pg_url).engine
    # "first_connect": the dialect's setup queries (version, current schema, settings); "connect": a new session.
    sa.event.listen(engine, "first_connect", lambda *args: events.append("first_connect"))
    sa.event.listen(engine, "connect", lambda *args: events.append("connect"))

    assert _read(pg_url, "a") == 1
    assert _read(pg_url, "b") == 1  # a second source, as the next unit opens it

    assert events == ["first_connect", "connect"]
    assert SqlAlchemySource(pg_url).engine is engine


def test_closing_a_source_leaves_the_shared_pool_to_the_next(pg_url):
    _seed(pg_url)
    first = SqlAlchemySource(pg_url)
    engine = first.engine
    assert _read(pg_url, "a") == 1
    first.close()
    assert engine.pool.checkedin() >= 1  # the connection stays open for the next unit
    assert _read(pg_url, "b") == 1


def test_other_settings_get_another_engine(pg_url):
    base = SqlAlchemySource(pg_url).engine
    assert SqlAlchemySource(pg_url, statement_timeout=5).engine is not base
    assert SqlAlchemySource(pg_url, digest_connections=3).engine is not base
    assert SqlAlchemySource(pg_url, engine_kwargs={"poolclass": sa.pool.NullPool}).engine is not base


def test_file_databases_are_not_shared(tmp_path: Path):
    path = tmp_path / "w.db"
    sqlite3.connect(path).close()
    a, b = SqlAlchemySource(f"sqlite:///{path}"), SqlAlchemySource(f"sqlite:///{path}")
    assert a.engine is not b.engine
    a.close()
    b.close()


def test_a_forked_process_builds_its_own_engine(pg_url, monkeypatch):
    parent = SqlAlchemySource(pg_url).engine
    monkeypatch.setattr(shared_engines, "_owner_pid", -1)  # as a child sees its parent's registry
    child = SqlAlchemySource(pg_url).engine
    assert child is not parent
    parent.dispose()


def test_dispose_closes_every_shared_engine(pg_url):
    _seed(pg_url)
    assert _read(pg_url, "a") == 1
    engine = SqlAlchemySource(pg_url).engine
    assert shared_engines.dispose_shared_engines() >= 1
    assert engine.pool.checkedin() == 0
    assert SqlAlchemySource(pg_url).engine is not engine
