"""SQLAlchemy plumbing shared by the SQL-backed stores (the embedded catalog, run side stores).

SQLite gets WAL mode, a long busy timeout and ``BEGIN IMMEDIATE`` for write transactions,
because several Airflow task processes write to the same file at once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine

from airflow_provider_omingest.catalog.base import JsonText

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "WRITE_OPTION", "as_utc", "create_store_engine", "upsert", "utcnow"]

#: How long a SQLite connection waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 120_000
#: Execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``.
WRITE_OPTION = "omingest_write"


def serialise_json(value: Any) -> str:
    """Encode a JSON column's value; text already serialised (:class:`JsonText`) is kept as it is."""
    if isinstance(value, JsonText):
        return str(value)
    return json.dumps(value)


def create_store_engine(url: URL, engine_kwargs: dict[str, Any]) -> Engine:
    """Create the engine; on SQLite, set WAL mode, the busy timeout and immediate write transactions."""
    kwargs = dict(engine_kwargs)
    kwargs.setdefault("json_serializer", serialise_json)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, **kwargs)
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    engine = sa.create_engine(url, **kwargs)
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let the "begin" event start transactions instead of the driver's implicit deferred BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL (a persistent setting), waiting for other connections.

    Changing the journal mode of a new file needs an exclusive lock and fails at once with
    "database is locked" (the busy timeout does not apply) while another connection, e.g. a
    parallel task, opens the same new file: retried until the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_on_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def upsert(conn: Connection, table: sa.Table, values: dict[str, Any], key: str) -> None:
    """Insert one row, or update it if a row with the same primary key ``key`` exists."""
    changed = {k: v for k, v in values.items() if k != key}
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = (postgresql if dialect == "postgresql" else sqlite).insert(table).values(values)
        conn.execute(insert.on_conflict_do_update(index_elements=[table.c[key]], set_=changed))
        return
    updated = conn.execute(sa.update(table).where(table.c[key] == values[key]).values(changed))
    if not updated.rowcount:
        conn.execute(sa.insert(table).values(values))


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """Return ``value`` as an aware UTC time (SQLite hands back naive times)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
