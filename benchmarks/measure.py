"""What each benchmark run measures: peak RSS, source statements, catalog statements, time."""

from __future__ import annotations

import os
import resource
import threading
from typing import Any

import psycopg

__all__ = ["CatalogStatementCounter", "RssSampler", "SourceStatements", "current_rss_mib", "max_rss_mib"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


def current_rss_mib() -> float:
    """Resident set size of this process now, MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


def max_rss_mib() -> float:
    """Peak resident set size of this process since it started (getrusage), MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssSampler:
    """A thread sampling this process's RSS every ``interval`` s: the peak during a ``with`` block."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.peak = 0.0
        self.start_rss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, current_rss_mib())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.start_rss = self.peak = current_rss_mib()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_mib())


class SourceStatements:
    """Counts statements a database received, from ``pg_stat_statements`` (top-level only).

    Reset and read over an admin connection to another database (``postgres``), so that the
    counting itself is not counted.
    """

    def __init__(self, admin_dsn: str, database: str) -> None:
        self.admin_dsn, self.database = admin_dsn, database

    def reset(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute("select pg_stat_statements_reset()")

    def read(self) -> dict[str, int]:
        """Return ``{"statements": calls, "distinct": distinct statement texts}``."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            row = conn.execute(
                """select coalesce(sum(s.calls), 0), count(*)
                   from pg_stat_statements s join pg_database d on d.oid = s.dbid
                   where d.datname = %s and s.toplevel""", (self.database,)).fetchone()
        return {"statements": int(row[0]), "distinct": int(row[1])}


class CatalogStatementCounter:
    """Counts statements sent on a SQLAlchemy engine (an ``executemany`` counts once)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.count = 0
        self.rows = 0
        self._lock = threading.Lock()

        def before(conn, cursor, statement, parameters, context, executemany):
            with self._lock:
                self.count += 1
                self.rows += len(parameters) if executemany and parameters else 1

        event.listen(engine, "before_cursor_execute", before)

    def reset(self) -> None:
        with self._lock:
            self.count = self.rows = 0
