"""One SQLAlchemy engine per server and settings in a process, shared by every source that reads it.

Creating an engine is cheap; its first connection is not: the dialect asks the server its
version, current schema and settings (three or four round trips on PostgreSQL). The units of a
run read the same server, so they share one engine and its pool: that setup happens once per
worker process, not once per unit. File databases (SQLite, DuckDB) are not shared: a pooled
connection would keep their file open (DuckDB locks it) after the source is closed.

Engines are disposed when the process exits, after a fork (a child never uses its parent's
connections) or by :func:`dispose_shared_engines`.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable, Hashable

from sqlalchemy.engine import Engine

__all__ = ["dispose_shared_engines", "shared_engine"]

_lock = threading.Lock()
_engines: dict[Hashable, Engine] = {}
_owner_pid = os.getpid()


def shared_engine(key: Hashable, create: Callable[[], Engine]) -> Engine:
    """Return this process's engine for ``key``, creating it with ``create`` on first use."""
    global _owner_pid
    with _lock:
        if os.getpid() != _owner_pid:  # forked: the parent's connections are not ours to use
            _engines.clear()
            _owner_pid = os.getpid()
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = create()
        return engine


def dispose_shared_engines() -> int:
    """Close every shared engine's connections and forget the engines; return how many there were."""
    with _lock:
        engines = list(_engines.values()) if os.getpid() == _owner_pid else []
        _engines.clear()
    for engine in engines:
        engine.dispose()
    return len(engines)


atexit.register(dispose_shared_engines)
