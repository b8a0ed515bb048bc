"""The side store of the OpenMetadata catalog: run records, and which run wrote which version.

OpenMetadata has no place for our run records (mode, status, counts per schema) nor for
"which run wrote this version": a run table and a journal of (entity id, version) → run id live
in a small SQL database (SQLite or PostgreSQL, the same kind as the embedded catalog).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

from airflow_provider_omingest.catalog.base import RunRecord
from airflow_provider_omingest.catalog.sql_engine import as_utc, create_store_engine, upsert
from airflow_provider_omingest.exceptions import CatalogError

__all__ = ["RunStore"]

log = logging.getLogger(__name__)

_MAX_DETAIL = 300


class RunStore:
    """Run records and the run journal in SQL (SQLite or PostgreSQL).

    :param url: SQLAlchemy URL; None keeps everything in memory (lost when the process ends).
    :param prefix: Prefix of the table names.
    """

    def __init__(self, url: str | None, prefix: str) -> None:
        self.url = make_url(url or "sqlite://")
        self.in_memory = url is None
        metadata = sa.MetaData()
        self.run = sa.Table(
            f"{prefix}run", metadata,
            sa.Column("run_id", sa.String(250), primary_key=True),
            sa.Column("service", sa.Text, nullable=False),
            sa.Column("mode", sa.String(32), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("summary", sa.JSON, nullable=False),
        )
        self.journal_table = sa.Table(
            f"{prefix}journal", metadata,
            sa.Column("entity_id", sa.String(64), primary_key=True),
            sa.Column("version", sa.String(16), primary_key=True),
            sa.Column("fqn", sa.Text, nullable=False),
            sa.Column("change", sa.String(16), nullable=False),
            sa.Column("run_id", sa.Text, nullable=False),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        )
        self.metadata = metadata
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def safe_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                kwargs: dict[str, Any] = {}
                if self.in_memory:
                    kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
                    log.warning("OpenMetadata catalog: no runs_url; run records are kept in memory only.")
                engine = create_store_engine(self.url, kwargs)
                try:
                    self.metadata.create_all(engine, checkfirst=True)
                except sa_exc.SQLAlchemyError as exc:
                    if "already exists" not in str(exc).lower():
                        raise self._error("create the run store tables", exc) from exc
                self._engine = engine
            return self._engine

    def close(self) -> None:
        with self._lock:
            if self._engine is not None and not self.in_memory:
                self._engine.dispose()
                self._engine = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_engine=None, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def record_run(self, run: RunRecord) -> None:
        with self._begin(f"record run {run.run_id}") as conn:
            upsert(conn, self.run, run.model_dump(mode="python"), "run_id")

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._begin(f"read run {run_id}") as conn:
            row = conn.execute(sa.select(self.run).where(self.run.c.run_id == run_id)).first()
        if row is None:
            return None
        data = row._asdict()
        data["started_at"] = as_utc(data["started_at"])
        data["ended_at"] = as_utc(data["ended_at"])
        return RunRecord(**data)

    def last_successful_run(self, service: str) -> RunRecord | None:
        query = (sa.select(self.run.c.run_id).where(self.run.c.service == service, self.run.c.status == "success")
                 .order_by(self.run.c.started_at.desc()).limit(1))
        with self._begin(f"find the last successful run of {service}") as conn:
            run_id = conn.execute(query).scalar()
        return None if run_id is None else self.get_run(run_id)

    def add_journal(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        now = datetime.now(timezone.utc)
        j = self.journal_table
        with self._begin(f"journal {len(rows)} version(s)") as conn:
            keys = [(r["entity_id"], r["version"]) for r in rows]
            conn.execute(sa.delete(j).where(sa.tuple_(j.c.entity_id, j.c.version).in_(keys)))
            conn.execute(sa.insert(j), [{**r, "recorded_at": now} for r in rows])

    def journal(self, entity_id: str) -> dict[str, str]:
        j = self.journal_table
        with self._begin(f"read the journal of {entity_id}") as conn:
            rows = conn.execute(sa.select(j.c.version, j.c.run_id).where(j.c.entity_id == entity_id))
            return {version: run_id for version, run_id in rows}

    def purge(self, entity_ids: list[str]) -> None:
        if not entity_ids:
            return
        j = self.journal_table
        with self._begin(f"purge the journal of {len(entity_ids)} entit(ies)") as conn:
            conn.execute(sa.delete(j).where(j.c.entity_id.in_(entity_ids)))

    @contextmanager
    def _begin(self, action: str) -> Iterator[sa.Connection]:
        """One transaction; database errors become :class:`CatalogError` naming ``action``."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa_exc.SQLAlchemyError as exc:
            raise self._error(action, exc) from exc

    def _error(self, action: str, exc: sa_exc.SQLAlchemyError) -> CatalogError:
        cause = getattr(exc, "orig", None) or exc
        return CatalogError(f"Could not {action} in the run store at {self.safe_url}: "
                            f"{type(cause).__name__}: {' '.join(str(cause).split())[:_MAX_DETAIL]}",
                            retryable=isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)))
