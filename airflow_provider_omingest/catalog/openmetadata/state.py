"""What the catalog knows of entities stored in OpenMetadata: one paged list per scope, cached briefly."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote

from airflow_provider_omingest.catalog.openmetadata.client import OpenMetadataClient
from airflow_provider_omingest.catalog.openmetadata.names import om_fqn

__all__ = ["PATHS", "EntityState", "StateCache", "path_of_name", "state_of"]

PATHS = {
    "database": "/api/v1/databases",
    "schema": "/api/v1/databaseSchemas",
    "table": "/api/v1/tables",
}
#: Fields read for the compare (the scope lists).
SCOPE_FIELDS = "sourceHash"


class EntityState(NamedTuple):
    """What apply and delete need of an entity stored in OpenMetadata."""

    id: str
    name: str
    fingerprint: str | None
    deleted: bool
    version: float


def state_of(entity: dict[str, Any]) -> EntityState:
    return EntityState(id=str(entity["id"]), name=entity["name"], fingerprint=entity.get("sourceHash"),
                       deleted=bool(entity.get("deleted")), version=float(entity.get("version") or 0.1))


def path_of_name(kind: str, parts: list[str]) -> str:
    """``/api/v1/{collection}/name/{fqn}`` with the FQN URL-encoded."""
    return f"{PATHS[kind]}/name/{quote(om_fqn(*parts), safe='')}"


@dataclass
class _Cached:
    at: float
    states: dict[str, EntityState]


class StateCache:
    """The states of a database's schemas and of a schema's tables, read by paged lists.

    :param client: The server's client.
    :param page_size: ``limit`` of list requests.
    :param max_age: Seconds a list read serves later lookups before it is read again.
    """

    def __init__(self, client: OpenMetadataClient, page_size: int, max_age: float) -> None:
        self.client = client
        self.page_size = page_size
        self.max_age = max_age
        self._lock = threading.Lock()
        self._schemas: dict[tuple[str, str], _Cached] = {}
        self._tables: dict[tuple[str, str, str], _Cached] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_lock": None, "_schemas": {}, "_tables": {}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def schemas(self, service: str, database: str, *, fresh: bool) -> dict[str, EntityState]:
        """The schemas of a database (deleted ones too), by name."""
        key = (service, database)
        cached = None if fresh else self._cached(self._schemas, key)
        if cached is not None:
            return cached
        fqn = om_fqn(service, database)
        entities = self.list(PATHS["schema"], {"database": fqn, "include": "all", "fields": "sourceHash"},
                             f"list the schemas of {fqn}")
        states = {e["name"]: state_of(e) for e in entities}
        with self._lock:
            self._schemas[key] = _Cached(time.monotonic(), states)
        return states

    def tables(self, service: str, database: str, schema: str, *, fresh: bool) -> dict[str, EntityState]:
        """The tables of a schema (deleted ones too), by name."""
        key = (service, database, schema)
        cached = None if fresh else self._cached(self._tables, key)
        if cached is not None:
            return cached
        fqn = om_fqn(service, database, schema)
        entities = self.list(PATHS["table"], {"databaseSchema": fqn, "include": "all", "fields": SCOPE_FIELDS},
                             f"list the tables of {fqn}")
        states = {e["name"]: state_of(e) for e in entities}
        with self._lock:
            self._tables[key] = _Cached(time.monotonic(), states)
        return states

    def remember(self, kind: str, parts: list[str], state: EntityState | None) -> None:
        """Keep the cached lists in step with our own writes."""
        with self._lock:
            if kind == "table":
                cached = self._tables.get((parts[0], parts[1], parts[2]))
            elif kind == "schema":
                cached = self._schemas.get((parts[0], parts[1]))
            else:
                return
            if cached is None:
                return
            if state is None:
                cached.states.pop(parts[-1], None)
            else:
                cached.states[parts[-1]] = state

    def list(self, path: str, params: dict[str, str], action: str) -> list[dict[str, Any]]:
        """Return every entity of a paged list (``limit`` / ``after``); a 404 is an empty list."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page_params = {**params, "limit": str(self.page_size)}
            if after:
                page_params["after"] = after
            reply = self.client.request("GET", path, params=page_params, action=action, accept=(404,))
            if reply.status == 404:
                return out
            out.extend(reply.body.get("data") or ())
            after = (reply.body.get("paging") or {}).get("after")
            if not after:
                return out

    def _cached(self, store: dict[Any, _Cached], key: Any) -> dict[str, EntityState] | None:
        with self._lock:
            cached = store.get(key)
        if cached is not None and time.monotonic() - cached.at < self.max_age:
            return cached.states
        return None
