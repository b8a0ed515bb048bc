"""SQLAlchemy plumbing shared by the SQL-backed stores (the embedded catalog, run side stores).

SQLite gets WAL mode, a long busy timeout and ``BEGIN IMMEDIATE`` for write transactions,
because several Airflow task processes write to the same file at once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine

from airflow_provider_omingest.catalog.base import JsonText
from airflow_provider_omingest.models.times import as_utc as _as_utc
from airflow_provider_omingest.models.times import utcnow

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS", "WRITE_OPTION", "as_utc", "create_store_engine", "insert_rows", "upsert", "utcnow",
]

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


def insert_rows(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) in one statement executed for many rows.

    On SQLite the statement is compiled once and handed to the driver's ``executemany`` with each
    value passed through its column's bind processor: SQLAlchemy's own executemany spends
    several times longer per row in Python than SQLite takes to store it. Other dialects take
    SQLAlchemy's path (batched by the driver already).
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(sa.insert(table), rows)
        return
    keys = list(rows[0])
    dialect = conn.dialect
    processors = [table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys]
    columns = ", ".join(dialect.identifier_preparer.quote(key) for key in keys)
    statement = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({columns}) "
        f"VALUES ({', '.join('?' * len(keys))})"
    )
    columns_values = [[row[key] for row in rows] for key in keys]
    for values, process, key in zip(columns_values, processors, keys, strict=True):
        if process is not None:
            _process_column(values, process, memo=not isinstance(table.c[key].type, sa.JSON))
    conn.exec_driver_sql(statement, list(zip(*columns_values, strict=True)))


def _process_column(values: list[Any], process: Any, *, memo: bool) -> None:
    """Bind-process one column's values in place; one object repeated (a run's time) is processed once.

    The memo is by identity, not equality: equal times in other time zones are stored differently.
    """
    done: dict[int, tuple[Any, Any]] = {}  # id -> (the object, kept alive so its id stays its own; result)
    for i, value in enumerate(values):
        if value is None:
            continue
        if not memo:
            values[i] = process(value)
            continue
        hit = done.get(id(value))
        if hit is None:
            hit = done[id(value)] = (value, process(value))
        values[i] = hit[1]


def as_utc(value: datetime | None) -> datetime | None:
    """Return a stored time as an aware UTC time, ``None`` as is (SQLite hands back naive times)."""
    return None if value is None else _as_utc(value)
