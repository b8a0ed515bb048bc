"""insert_rows: the SQLite driver-level bulk insert stores exactly what SQLAlchemy's insert stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from airflow_provider_omingest.catalog.base import JsonText
from airflow_provider_omingest.catalog.sql_engine import create_store_engine, insert_rows


def _table(metadata: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("label", sa.Text, nullable=True),
        sa.Column("flag", sa.Boolean, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("body", sa.JSON, nullable=False),
    )


def test_insert_rows_matches_sqlalchemy_insert_on_sqlite(tmp_path: Path) -> None:
    engine = create_store_engine(sa.make_url(f"sqlite:///{tmp_path / 'c.db'}"), {})
    metadata = sa.MetaData()
    fast, reference = _table(metadata, "fast"), _table(metadata, "reference")
    metadata.create_all(engine)
    now = datetime(2026, 12, 3, 6, 30, 1, 123456, tzinfo=UTC)
    rows = [
        {"label": "a", "flag": True, "at": now, "body": {"k": [1, 2], "s": "é"}},
        {"label": None, "flag": False, "at": now, "body": JsonText('{"pre":"serialised"}')},
        {"label": "c'\"", "flag": True, "at": None, "body": {}},
        {"label": "d", "flag": False, "at": now.astimezone(timezone(timedelta(hours=2))), "body": [None]},
    ]
    with engine.begin() as conn:
        insert_rows(conn, fast, rows)
        conn.execute(sa.insert(reference), rows)
        stored_fast = conn.execute(sa.select(fast).order_by(fast.c.id)).all()
        stored_reference = conn.execute(sa.select(reference).order_by(reference.c.id)).all()
        raw_fast = conn.exec_driver_sql("SELECT label, flag, at, body FROM fast ORDER BY id").all()
        raw_reference = conn.exec_driver_sql("SELECT label, flag, at, body FROM reference ORDER BY id").all()
    assert stored_fast == stored_reference
    assert raw_fast == raw_reference  # the same text in the file, not only the same values read back
    assert stored_fast[1].body == {"pre": "serialised"}
    assert [r.id for r in stored_fast] == [1, 2, 3, 4]
    engine.dispose()


def test_insert_rows_takes_no_rows(tmp_path: Path) -> None:
    engine = create_store_engine(sa.make_url(f"sqlite:///{tmp_path / 'c.db'}"), {})
    metadata = sa.MetaData()
    table = _table(metadata, "t")
    metadata.create_all(engine)
    with engine.begin() as conn:
        insert_rows(conn, table, [])
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0
    engine.dispose()
