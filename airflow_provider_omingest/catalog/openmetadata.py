"""The OpenMetadata catalog: entities live in an OpenMetadata server (REST API v1).

Writes use OpenMetadata's create-or-update ``PUT`` (services, databases, schemas, tables)
carrying our structural fingerprint in ``sourceHash``: an entity whose stored ``sourceHash``
equals the fingerprint is not written at all. A ``PUT`` of a soft-deleted entity restores it
(one new version, as OpenMetadata records it). Reads are one paged list per schema
(``GET /api/v1/tables?databaseSchema=…&include=all``) plus one paged list of a database's
schemas. Deletes go by fully qualified name, soft by default.

OpenMetadata has no transactions: a batch is applied entity by entity (bounded concurrency),
and because every write is a create-or-update decided from the stored state, a retried batch
converges. Requests are retried with exponential backoff on 429, 5xx, timeouts and transport
errors; 401 and 403 fail at once with a message that names the server but never the token.

OpenMetadata has no place for our run records nor for "which run wrote this version", so both
live in a small SQL side store (``runs_url``: SQLite or PostgreSQL, the same kind of database
as the embedded catalog): a run table, and a journal of (entity id, version) → run id that
:meth:`OpenMetadataCatalog.history` joins with OpenMetadata's own version history.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote

import httpx
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

from airflow_provider_omingest.catalog.base import (
    Catalog,
    EntityWrite,
    HistoryEntry,
    RunRecord,
    StoredEntity,
)
from airflow_provider_omingest.catalog.diff import diff_bodies
from airflow_provider_omingest.catalog.openmetadata_mapping import (
    database_body,
    database_request,
    om_fqn,
    schema_body,
    schema_request,
    service_request,
    table_body,
    table_request,
)
from airflow_provider_omingest.catalog.sql_engine import as_utc, create_store_engine, upsert
from airflow_provider_omingest.exceptions import CatalogError
from airflow_provider_omingest.models.entities import Database, DatabaseSchema, Table
from airflow_provider_omingest.models.fqn import build_fqn, split_fqn

__all__ = ["DEFAULT_EXTRAS_PROPERTY", "DEFAULT_SERVICE_TYPE", "RETRY_STATUSES", "OpenMetadataCatalog"]

log = logging.getLogger(__name__)

#: Service type of the database services this catalog creates.
DEFAULT_SERVICE_TYPE = "CustomDatabase"
#: String custom property of tables that carries what OpenMetadata has no field for.
DEFAULT_EXTRAS_PROPERTY = "omingestExtras"
#: HTTP statuses retried with backoff.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Fields read for the compare (read_scope) and for a whole table (get).
SCOPE_FIELDS = "sourceHash"
TABLE_FIELDS = "columns,tableConstraints,tablePartition,tags,schemaDefinition,extension,sourceHash"
SCHEMA_FIELDS = "tags,sourceHash"
_MAX_DETAIL = 300
_T = TypeVar("_T")
_R = TypeVar("_R")

_PATHS = {
    "database": "/api/v1/databases",
    "schema": "/api/v1/databaseSchemas",
    "table": "/api/v1/tables",
}
_KIND_OF_DEPTH = {2: "database", 3: "schema", 4: "table"}


class _State(NamedTuple):
    """What apply and delete need of an entity stored in OpenMetadata."""

    id: str
    name: str
    fingerprint: str | None
    deleted: bool
    version: float


@dataclass
class _Cached:
    at: float
    states: dict[str, _State]


class _Secret:
    """A string that never shows in reprs, logs or tracebacks' locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


class OpenMetadataCatalog(Catalog):
    """A catalog kept in an OpenMetadata server.

    :param server_url: Base URL of the server, e.g. ``https://openmetadata.example.com`` (``/api``
        is added).
    :param token: JWT of an OpenMetadata bot (sent as a bearer token, never logged).
    :param verify_ssl: Verify the server's TLS certificate (or a CA bundle path).
    :param timeout: Seconds per request (connect, read, write).
    :param max_concurrency: Requests in flight at once, across all threads using this catalog.
    :param retries: Retries of a request after a 429, 5xx, timeout or transport error.
    :param backoff: First retry delay in seconds; doubled each retry (with jitter), capped by
        ``max_backoff``. A ``Retry-After`` header is honoured up to ``max_backoff``.
    :param max_backoff: Longest delay between two attempts.
    :param service_type: ``serviceType`` of the database services created.
    :param extras_property: Table custom property (type string) carrying the fields OpenMetadata
        has no place for; created on first use if missing. None: drop those fields.
    :param runs_url: SQLAlchemy URL of the side store of run records and of the run journal;
        None keeps them in memory (lost when the process ends).
    :param runs_table_prefix: Prefix of the side store's table names.
    :param page_size: ``limit`` of list requests.
    :param scope_cache_seconds: How long a scope read by :meth:`read_scope` serves
        :meth:`apply` before the state is read again.
    :param transport: httpx transport (tests).
    """

    def __init__(
        self,
        server_url: str,
        token: str,
        *,
        verify_ssl: bool | str = True,
        timeout: float = 30.0,
        max_concurrency: int = 8,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        service_type: str = DEFAULT_SERVICE_TYPE,
        extras_property: str | None = DEFAULT_EXTRAS_PROPERTY,
        runs_url: str | None = None,
        runs_table_prefix: str = "omingest_om_",
        page_size: int = 500,
        scope_cache_seconds: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not server_url or "://" not in server_url:
            raise CatalogError(f"OpenMetadata server URL {server_url!r} needs a scheme, e.g. https://host:8585")
        if not token:
            raise CatalogError(f"No token given for the OpenMetadata server at {server_url}.")
        if max_concurrency < 1 or retries < 0 or timeout <= 0 or not 1 <= page_size <= 1_000_000:
            raise CatalogError("max_concurrency >= 1, retries >= 0, timeout > 0 and page_size >= 1 are required.")
        self.server_url = server_url.rstrip("/").removesuffix("/api")
        self._token = _Secret(token)
        self.verify_ssl = verify_ssl
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.service_type = service_type
        self.extras_property = extras_property
        self.page_size = page_size
        self.scope_cache_seconds = scope_cache_seconds
        self._transport = transport
        self._runs = _RunStore(runs_url, runs_table_prefix)
        self._client: httpx.Client | None = None
        self._client_pid: int | None = None
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._services: set[str] = set()
        self._extras_ready = False
        self._schemas: dict[tuple[str, str], _Cached] = {}
        self._tables: dict[tuple[str, str, str], _Cached] = {}

    def __repr__(self) -> str:
        return f"OpenMetadataCatalog({self.server_url!r}, runs={self._runs.safe_url!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_client=None, _client_pid=None, _lock=None, _slots=None, _schemas={}, _tables={})
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_concurrency)

    @property
    def client(self) -> httpx.Client:
        """The HTTP client, created on first use (and again after a fork)."""
        with self._lock:
            if self._client is not None and self._client_pid != os.getpid():
                self._client = None
            if self._client is None:
                self._client = httpx.Client(
                    base_url=self.server_url,
                    headers={"Authorization": f"Bearer {self._token.get()}", "Accept": "application/json"},
                    timeout=httpx.Timeout(self.timeout),
                    verify=self.verify_ssl,
                    limits=httpx.Limits(max_connections=self.max_concurrency),
                    transport=self._transport,
                )
                self._client_pid = os.getpid()
            return self._client

    def close(self) -> None:
        """Close the HTTP client and the side store."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
        self._runs.close()

    # -- reads ------------------------------------------------------------------------------

    def read_scope(
        self, service: str, database: str, schemas: list[str], tables: Mapping[str, Sequence[str]] | None = None
    ) -> dict[str, StoredEntity]:
        """Return the schemas and tables (deleted ones too) of ``schemas``: one paged list per schema.

        Schemas without a ``sourceHash`` (bare parents created for a table, or not ingested by
        omingest) are left out; tables are all returned.

        :param service: Service name (first FQN part).
        :param database: Database name.
        :param schemas: Schema names.
        :param tables: ignored: the paged lists return every table of a schema.
        """
        if not schemas:
            return {}
        wanted = sorted(set(schemas))
        schema_states = self._schema_states(service, database, fresh=True)
        tables = self._map(lambda s: self._table_states(service, database, s, fresh=True), wanted)
        scope: dict[str, StoredEntity] = {}
        for schema in wanted:
            state = schema_states.get(schema)
            if state is not None and state.fingerprint:
                key = build_fqn(service, database, schema)
                scope[key] = StoredEntity(fqn=key, kind="schema", database=database, schema_name=schema,
                                          name=schema, fingerprint=state.fingerprint, deleted=state.deleted)
        for schema, states in zip(wanted, tables):
            for name, state in states.items():
                key = build_fqn(service, database, schema, name)
                scope[key] = StoredEntity(fqn=key, kind="table", database=database, schema_name=schema,
                                          name=name, fingerprint=state.fingerprint or "", deleted=state.deleted)
        return scope

    def list_schemas(self, service: str, database: str) -> list[str]:
        """Return the names of the live schemas of ``database`` written by omingest, sorted.

        :param service: Service name.
        :param database: Database name.
        """
        states = self._schema_states(service, database, fresh=True)
        return sorted(name for name, s in states.items() if not s.deleted and s.fingerprint)

    def get(self, fqn: str) -> dict[str, Any] | None:
        """Return an entity's body plus ``deleted``, ``version`` (1, 2, … as in :meth:`history`)
        and ``fingerprint`` (its ``sourceHash``), or None.

        :param fqn: Fully qualified name of a database, schema or table.
        """
        kind, parts = _kind(fqn)
        entity = self._get_entity(kind, parts, fields=TABLE_FIELDS if kind == "table" else SCHEMA_FIELDS)
        if entity is None:
            return None
        versions = self._versions(kind, entity["id"])
        body = self._body(kind, parts[0], entity)
        body.update(deleted=bool(entity.get("deleted")), version=max(len(versions), 1),
                    fingerprint=entity.get("sourceHash") or "")
        return body

    def history(self, fqn: str) -> list[HistoryEntry]:
        """Return the entity's versions from OpenMetadata's version history, oldest first.

        Versions are numbered 1, 2, … in order; the run id comes from the journal of the run
        store, or is ``openmetadata:<updatedBy>`` for a version written by someone else.

        :param fqn: Fully qualified name of a database, schema or table.
        """
        kind, parts = _kind(fqn)
        entity = self._get_entity(kind, parts, fields="")
        if entity is None:
            return []
        versions = self._versions(kind, entity["id"])
        runs = self._runs.journal(entity["id"])
        entries: list[HistoryEntry] = []
        previous: dict[str, Any] | None = None
        previous_deleted = False
        for number, version in enumerate(versions, start=1):
            body = self._body(kind, parts[0], version)
            deleted = bool(version.get("deleted"))
            if previous is None:
                change, changes = "created", {}
            elif deleted and not previous_deleted:
                change, changes = "deleted", {}
            else:
                change = "restored" if previous_deleted and not deleted else "updated"
                changes = diff_bodies(previous, body)
            key = _version_key(version.get("version"))
            run_id = runs.get(key) or f"openmetadata:{version.get('updatedBy') or 'unknown'}"
            entries.append(HistoryEntry(
                fqn=fqn, version=number, change=change, run_id=run_id,
                changed_at=_from_millis(version.get("updatedAt")),
                fingerprint=version.get("sourceHash"), changes=changes,
            ))
            previous, previous_deleted = body, deleted
        return entries

    # -- writes -----------------------------------------------------------------------------

    def apply(self, writes: list[EntityWrite], run_id: str) -> None:
        """Create, update or restore what differs from OpenMetadata's stored state.

        Services, databases and schemas are ensured first (bare parents are created for
        tables whose schema was not written), then tables, ``max_concurrency`` at a time.
        An entity whose ``sourceHash`` equals the write's fingerprint is not sent.

        :param writes: The writes of one batch.
        :param run_id: Recorded in the run journal for every new version.
        :raises CatalogError: naming the first failure, after every other write was tried.
        """
        if not writes:
            return
        action = f"apply {len(writes)} write(s) of run {run_id}"
        for write in writes:
            depth = len(_split(write.fqn))
            if _KIND_OF_DEPTH.get(depth) != write.kind:
                raise CatalogError(f"Could not {action}: {write.fqn!r} is not a {write.kind} name.")
        journal: list[dict[str, Any]] = []
        errors: list[CatalogError] = []
        try:
            for service in sorted({_split(w.fqn)[0] for w in writes}):
                self._ensure_service(service)
            if any(w.kind == "table" for w in writes):
                self._ensure_extras_property()
            for kind in ("database", "schema", "table"):
                jobs = self._jobs(kind, writes)
                for result in self._map(lambda job: self._put(job, run_id), jobs, errors=errors):
                    if result is not None:
                        journal.append(result)
        finally:
            self._runs.add_journal(journal)
        if errors:
            first = errors[0]
            message = f"Could not {action}: {len(errors)} failed; first: {first}"
            error = CatalogError(message)
            error.retryable = all(e.retryable for e in errors)
            raise error from first

    def delete(self, fqns: list[str], run_id: str, hard: bool = False) -> int:
        """Delete entities by FQN: tables first, then schemas, then databases.

        The stored state is read once per schema; soft deletes skip already-deleted entities,
        hard deletes purge them too (and count them). A schema is deleted non-recursively, so
        OpenMetadata refuses one that still has live tables (its tables must be in ``fqns``).

        :param fqns: Fully qualified names.
        :param run_id: Recorded in the run journal for soft deletes.
        :param hard: Remove the entities and their history from OpenMetadata.
        :return: How many entities changed.
        """
        if not fqns:
            return 0
        action = f"delete {len(fqns)} entit(ies) of run {run_id}"
        by_kind: dict[str, list[list[str]]] = defaultdict(list)
        for fqn in dict.fromkeys(fqns):
            kind, parts = _kind(fqn)
            by_kind[kind].append(parts)
        targets: dict[str, list[tuple[list[str], _State]]] = defaultdict(list)
        by_schema: dict[tuple[str, str, str], list[list[str]]] = defaultdict(list)
        for parts in by_kind["table"]:
            by_schema[(parts[0], parts[1], parts[2])].append(parts)
        keys = sorted(by_schema)
        for key, states in zip(keys, self._map(lambda k: self._table_states(*k, fresh=True), keys)):
            for parts in by_schema[key]:
                state = states.get(parts[3])
                if state is not None and (hard or not state.deleted):
                    targets["table"].append((parts, state))
        for parts in by_kind["schema"]:
            state = self._schema_states(parts[0], parts[1], fresh=True).get(parts[2])
            if state is not None and (hard or not state.deleted):
                targets["schema"].append((parts, state))
        for parts in by_kind["database"]:
            entity = self._get_entity("database", parts, fields="sourceHash")
            if entity is not None and (hard or not entity.get("deleted")):
                targets["database"].append((parts, _state_of(entity)))
        deleted = 0
        journal: list[dict[str, Any]] = []
        purged: list[str] = []
        errors: list[CatalogError] = []
        try:
            for kind in ("table", "schema", "database"):
                results = self._map(lambda t, kind=kind: self._delete_one(kind, t[0], t[1], hard, run_id),
                                    targets[kind], errors=errors)
                for result in results:
                    if result is None:
                        continue
                    deleted += 1
                    if hard:
                        purged.append(result["entity_id"])
                    else:
                        journal.append(result)
        finally:
            self._runs.add_journal(journal)
            self._runs.purge(purged)
        if errors:
            error = CatalogError(f"Could not {action}: {len(errors)} failed; first: {errors[0]}")
            error.retryable = all(e.retryable for e in errors)
            raise error from errors[0]
        return deleted

    # -- runs -------------------------------------------------------------------------------

    def record_run(self, run: RunRecord) -> None:
        """Insert or update a run record in the side store.

        :param run: The run.
        """
        self._runs.record_run(run)

    def get_run(self, run_id: str) -> RunRecord | None:
        """Return a run record from the side store, or None.

        :param run_id: The run's id.
        """
        return self._runs.get_run(run_id)

    # -- internals: state -------------------------------------------------------------------

    def _schema_states(self, service: str, database: str, *, fresh: bool) -> dict[str, _State]:
        key = (service, database)
        if not fresh:
            with self._lock:
                cached = self._schemas.get(key)
            if cached is not None and time.monotonic() - cached.at < self.scope_cache_seconds:
                return cached.states
        entities = self._list(
            _PATHS["schema"],
            {"database": om_fqn(service, database), "include": "all", "fields": "sourceHash"},
            f"list the schemas of {om_fqn(service, database)}",
        )
        states = {e["name"]: _state_of(e) for e in entities}
        with self._lock:
            self._schemas[key] = _Cached(time.monotonic(), states)
        return states

    def _table_states(self, service: str, database: str, schema: str, *, fresh: bool) -> dict[str, _State]:
        key = (service, database, schema)
        if not fresh:
            with self._lock:
                cached = self._tables.get(key)
            if cached is not None and time.monotonic() - cached.at < self.scope_cache_seconds:
                return cached.states
        schema_fqn = om_fqn(service, database, schema)
        entities = self._list(
            _PATHS["table"],
            {"databaseSchema": schema_fqn, "include": "all", "fields": SCOPE_FIELDS},
            f"list the tables of {schema_fqn}",
        )
        states = {e["name"]: _state_of(e) for e in entities}
        with self._lock:
            self._tables[key] = _Cached(time.monotonic(), states)
        return states

    def _remember(self, kind: str, parts: list[str], state: _State | None) -> None:
        """Keep the caches in step with our own writes."""
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

    # -- internals: writes ------------------------------------------------------------------

    def _jobs(self, kind: str, writes: list[EntityWrite]) -> list[tuple[str, list[str], EntityWrite | None, _State | None]]:
        """Return the PUTs of one level: (kind, parts, write or None for a bare parent, stored state)."""
        depth = {"database": 2, "schema": 3, "table": 4}[kind]
        explicit: dict[tuple[str, ...], EntityWrite] = {}
        for w in writes:
            if w.kind == kind:
                explicit[tuple(_split(w.fqn))] = w  # the last write of a name wins
        parents = {tuple(_split(w.fqn)[:depth]) for w in writes if w.kind != kind and len(_split(w.fqn)) > depth}
        jobs: list[tuple[str, list[str], EntityWrite | None, _State | None]] = []
        for key in sorted(set(explicit) | parents):
            parts = list(key)
            state = self._stored_state(kind, parts)
            write = explicit.get(key)
            if write is None:
                if state is None or state.deleted:
                    jobs.append((kind, parts, None, state))
            elif state is None or state.deleted or state.fingerprint != write.fingerprint:
                jobs.append((kind, parts, write, state))
            else:
                log.debug("%s is unchanged in OpenMetadata; not sent.", write.fqn)
        return jobs

    def _stored_state(self, kind: str, parts: list[str]) -> _State | None:
        if kind == "table":
            return self._table_states(parts[0], parts[1], parts[2], fresh=False).get(parts[3])
        if kind == "schema":
            return self._schema_states(parts[0], parts[1], fresh=False).get(parts[2])
        entity = self._get_entity("database", parts, fields="sourceHash")
        return None if entity is None else _state_of(entity)

    def _put(self, job: tuple[str, list[str], EntityWrite | None, _State | None], run_id: str) -> dict[str, Any] | None:
        kind, parts, write, state = job
        body = write.body if write is not None else {"name": parts[-1]}
        fingerprint = write.fingerprint if write is not None else None
        if kind == "table":
            request = table_request(parts[0], parts[1], parts[2], body, fingerprint or "", self.extras_property)
        elif kind == "schema":
            request = schema_request(parts[0], parts[1], body, fingerprint)
        else:
            request = database_request(parts[0], body, fingerprint)
        what = build_fqn(*parts)
        entity = self._request("PUT", _PATHS[kind], json=request, action=f"write {kind} {what}")
        assert entity is not None
        new_state = _state_of(entity)
        self._remember(kind, parts, new_state)
        if state is not None and not state.deleted and new_state.version == state.version:
            return None  # OpenMetadata saw no change: no new version
        change = "created" if state is None else "restored" if state.deleted else "updated"
        return {"entity_id": new_state.id, "version": _version_key(new_state.version), "fqn": what,
                "change": change, "run_id": run_id}

    def _delete_one(self, kind: str, parts: list[str], state: _State, hard: bool, run_id: str) -> dict[str, Any] | None:
        what = build_fqn(*parts)
        entity = self._request(
            "DELETE", f"{_PATHS[kind]}/name/{_quote(om_fqn(*parts))}",
            params={"hardDelete": _bool(hard), "recursive": "false"},
            action=f"delete {kind} {what}", missing_ok=True,
        )
        if entity is None:
            self._remember(kind, parts, None)
            return None
        if hard:
            self._remember(kind, parts, None)
            return {"entity_id": state.id}
        new_state = _state_of(entity) if entity.get("id") else state._replace(deleted=True)
        self._remember(kind, parts, new_state._replace(deleted=True))
        return {"entity_id": state.id, "version": _version_key(new_state.version), "fqn": what,
                "change": "deleted", "run_id": run_id}

    def _ensure_service(self, service: str) -> None:
        if service in self._services:
            return
        self._request("PUT", "/api/v1/services/databaseServices",
                      json=service_request(service, self.service_type, "Metadata ingested by omingest."),
                      action=f"ensure the database service {om_fqn(service)}")
        with self._lock:
            self._services.add(service)

    def _ensure_extras_property(self) -> None:
        """Create the table custom property that carries the extras, unless it exists."""
        if not self.extras_property or self._extras_ready:
            return
        table_type = self._request("GET", "/api/v1/metadata/types/name/table", params={"fields": "customProperties"},
                                   action="read the custom properties of tables")
        assert table_type is not None
        names = {p.get("name") for p in table_type.get("customProperties") or ()}
        if self.extras_property not in names:
            string_type = self._request("GET", "/api/v1/metadata/types/name/string", action="read the string type")
            assert string_type is not None
            self._request(
                "PUT", f"/api/v1/metadata/types/{table_type['id']}",
                json={"name": self.extras_property,
                      "description": "Fields of the source that OpenMetadata has no place for (omingest, JSON).",
                      "propertyType": {"id": string_type["id"], "type": "type"}},
                action=f"create the table custom property {self.extras_property!r} "
                       "(or create it as an admin, or set extras_property=None)",
            )
            log.info("Created the table custom property %s in OpenMetadata.", self.extras_property)
        self._extras_ready = True

    # -- internals: reads -------------------------------------------------------------------

    def _get_entity(self, kind: str, parts: list[str], *, fields: str) -> dict[str, Any] | None:
        params = {"include": "all"}
        if fields:
            params["fields"] = fields
        return self._request("GET", f"{_PATHS[kind]}/name/{_quote(om_fqn(*parts))}", params=params,
                             action=f"read {kind} {build_fqn(*parts)}", missing_ok=True)

    def _versions(self, kind: str, entity_id: str) -> list[dict[str, Any]]:
        """Return the versions of an entity, oldest first."""
        history = self._request("GET", f"{_PATHS[kind]}/{entity_id}/versions",
                                action=f"read the versions of {kind} {entity_id}", missing_ok=True)
        versions = [json.loads(v) if isinstance(v, str) else v for v in (history or {}).get("versions") or ()]
        return sorted(versions, key=lambda v: float(v.get("version") or 0))

    def _body(self, kind: str, service: str, entity: dict[str, Any]) -> dict[str, Any]:
        if kind == "table":
            return Table.model_validate(table_body(service, entity, self.extras_property)).model_dump(mode="json")
        if kind == "schema":
            return DatabaseSchema.model_validate(schema_body(entity)).model_dump(mode="json")
        return Database.model_validate(database_body(entity)).model_dump(mode="json")

    def _list(self, path: str, params: dict[str, str], action: str) -> list[dict[str, Any]]:
        """Return every entity of a paged list (``limit`` / ``after``); a 404 is an empty list."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page_params = {**params, "limit": str(self.page_size)}
            if after:
                page_params["after"] = after
            page = self._request("GET", path, params=page_params, action=action, missing_ok=True)
            if page is None:
                return out
            out.extend(page.get("data") or ())
            after = (page.get("paging") or {}).get("after")
            if not after:
                return out

    def _map(
        self, func: Callable[[_T], _R], items: Iterable[_T], *, errors: list[CatalogError] | None = None
    ) -> list[_R | None]:
        """Run ``func`` over ``items``, ``max_concurrency`` at a time, keeping the order.

        With ``errors``, failures are collected there (their result is None) and every other
        item still runs; without, the first failure is raised.
        """
        items = list(items)
        if not items:
            return []

        def call(item: _T) -> _R | None:
            try:
                return func(item)
            except CatalogError as exc:
                if errors is None:
                    raise
                errors.append(exc)
                return None

        if len(items) == 1 or self.max_concurrency == 1:
            return [call(i) for i in items]
        with ThreadPoolExecutor(min(self.max_concurrency, len(items)), thread_name_prefix="omingest-om") as pool:
            return list(pool.map(call, items))

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        action: str,
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        """Send one request with retries; return the JSON body (None for a 404 when ``missing_ok``).

        :raises CatalogError: naming ``action``, the server and the status, never the token.
        """
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                with self._slots:
                    response = self.client.request(method, path, params=params, json=json)
            except httpx.TimeoutException as exc:
                problem = f"timed out after {self.timeout:g}s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {self._clean(str(exc))}"
            else:
                status = response.status_code
                if status < 300:
                    if not response.content:
                        return {}
                    return response.json()
                if status == 404 and missing_ok:
                    return None
                problem = f"HTTP {status}: {self._detail(response)}"
                if status == 401:
                    raise self._error(action, "the server rejected the token (HTTP 401 Unauthorized); check the "
                                              "bot's JWT in the connection's password", retryable=False)
                if status == 403:
                    raise self._error(action, "the token is not allowed to do this (HTTP 403 Forbidden): "
                                              f"{self._detail(response)}; give the bot the needed role",
                                      retryable=False)
                if status not in RETRY_STATUSES:
                    raise self._error(action, problem, retryable=False)
                retry_after = _retry_after(response.headers.get("Retry-After"))
            if attempt >= self.retries:
                raise self._error(action, f"{problem} (after {attempt + 1} attempt(s))", retryable=True)
            delay = min(self.max_backoff, retry_after if retry_after is not None
                        else self.backoff * (2 ** attempt) * (0.5 + random.random() / 2))
            attempt += 1
            log.warning("OpenMetadata: %s failed (%s); retry %d of %d in %.2fs.", action, problem, attempt,
                        self.retries, delay)
            time.sleep(delay)

    def _detail(self, response: httpx.Response) -> str:
        text = response.text
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            text = payload.get("message") or payload.get("error") or text
        return self._clean(" ".join(str(text).split()))[:_MAX_DETAIL]

    def _clean(self, text: str) -> str:
        return text.replace(self._token.get(), "***")

    def _error(self, action: str, problem: str, *, retryable: bool) -> CatalogError:
        error = CatalogError(f"Could not {action} in OpenMetadata at {self.server_url}: {self._clean(problem)}")
        error.retryable = retryable
        return error


class _RunStore:
    """Run records and the run journal in SQL (SQLite or PostgreSQL)."""

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
        error = CatalogError(f"Could not {action} in the run store at {self.safe_url}: "
                             f"{type(cause).__name__}: {' '.join(str(cause).split())[:_MAX_DETAIL]}")
        error.retryable = isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError))
        return error


# -- helpers ------------------------------------------------------------------------------------


def _split(fqn: str) -> list[str]:
    try:
        return split_fqn(fqn)
    except ValueError as exc:
        raise CatalogError(f"Not a fully qualified name: {fqn!r}: {exc}") from exc


def _kind(fqn: str) -> tuple[str, list[str]]:
    parts = _split(fqn)
    kind = _KIND_OF_DEPTH.get(len(parts))
    if kind is None:
        raise CatalogError(f"{fqn!r} names no database, schema or table (service.database[.schema[.table]]).")
    return kind, parts


def _state_of(entity: dict[str, Any]) -> _State:
    return _State(
        id=str(entity["id"]), name=entity["name"], fingerprint=entity.get("sourceHash"),
        deleted=bool(entity.get("deleted")), version=float(entity.get("version") or 0.1),
    )


def _version_key(version: Any) -> str:
    return f"{float(version or 0):.1f}"


def _quote(fqn: str) -> str:
    return quote(fqn, safe="")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _from_millis(value: Any) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
