"""The OpenMetadata catalog: entities live in an OpenMetadata server (REST API v1).

Reads are one paged list per schema (``GET /api/v1/tables?databaseSchema=…&include=all``) plus
one paged list of a database's schemas; a table whose stored ``sourceHash`` equals the new
fingerprint is not written at all. Writes follow OpenMetadata's own ingestion (see
:mod:`.writer` and :mod:`.merge`): PUT to create, a JSON Patch limited to our fields for what
exists, restore for what was soft-deleted. Deletes go by fully qualified name, soft by default.

OpenMetadata has no transactions: a batch is applied entity by entity (bounded concurrency),
and because every write is decided from the stored state, a retried batch converges.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import httpx

from airflow_provider_omingest.catalog.base import (
    Catalog,
    EntityWrite,
    HistoryEntry,
    Inventory,
    RunRecord,
    StoredEntity,
    TableLineage,
)
from airflow_provider_omingest.catalog.diff import diff_bodies
from airflow_provider_omingest.catalog.openmetadata.client import OpenMetadataClient
from airflow_provider_omingest.catalog.openmetadata.lineage import downstream_views, read_lineage
from airflow_provider_omingest.catalog.openmetadata.mapping import database_body, schema_body, table_body
from airflow_provider_omingest.catalog.openmetadata.names import UnrepresentableName, om_fqn
from airflow_provider_omingest.catalog.openmetadata.run_store import RunStore
from airflow_provider_omingest.catalog.openmetadata.state import (
    PATHS,
    SCOPE_FIELDS,
    EntityState,
    StateCache,
    path_of_name,
    state_of,
)
from airflow_provider_omingest.catalog.openmetadata.writer import (
    SCHEMA_FIELDS,
    TABLE_FIELDS,
    RejectedWrite,
    Writer,
    version_key,
)
from airflow_provider_omingest.exceptions import CatalogError
from airflow_provider_omingest.models.entities import Database, DatabaseSchema, Table
from airflow_provider_omingest.models.fqn import build_fqn, split_fqn

__all__ = ["DEFAULT_EXTRAS_PROPERTY", "DEFAULT_SERVICE_TYPE", "OpenMetadataCatalog"]

log = logging.getLogger(__name__)

#: Service type of the database services this catalog creates.
DEFAULT_SERVICE_TYPE = "CustomDatabase"
#: String custom property of tables that carries what OpenMetadata has no field for.
DEFAULT_EXTRAS_PROPERTY = "omingestExtras"
_KIND_OF_DEPTH = {2: "database", 3: "schema", 4: "table"}


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
    :param service_type: ``serviceType`` of the database services created (an existing service
        is never changed).
    :param extras_property: Table custom property (type string) carrying the fields OpenMetadata
        has no place for and what we wrote last; created on first use if missing. None: drop those
        fields, and fill only empty descriptions and never remove a tag or constraint.
    :param override_metadata: Let the source's descriptions replace those a person curated
        (nothing a person set is ever removed).
    :param runs_url: SQLAlchemy URL of the side store of run records and of the run journal;
        None keeps them in memory (lost when the process ends).
    :param runs_table_prefix: Prefix of the side store's table names.
    :param page_size: ``limit`` of list requests.
    :param scope_cache_seconds: How long a scope read by :meth:`read_scope` serves
        :meth:`apply` before the state is read again.
    :param transport: httpx transport (tests).
    """

    inventory_lists_every_database = True

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
        override_metadata: bool = False,
        runs_url: str | None = None,
        runs_table_prefix: str = "omingest_om_",
        page_size: int = 500,
        scope_cache_seconds: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not server_url or "://" not in server_url:
            raise CatalogError(f"OpenMetadata server URL {server_url!r} needs a scheme, e.g. https://host:8585",
                               retryable=False)
        if not token:
            raise CatalogError(f"No token given for the OpenMetadata server at {server_url}.", retryable=False)
        if max_concurrency < 1 or retries < 0 or timeout <= 0 or not 1 <= page_size <= 1_000_000:
            raise CatalogError("max_concurrency >= 1, retries >= 0, timeout > 0 and page_size >= 1 are required.",
                               retryable=False)
        self.server_url = server_url.rstrip("/").removesuffix("/api")
        self.service_type = service_type
        self.extras_property = extras_property
        self.override_metadata = override_metadata
        self.client = OpenMetadataClient(self.server_url, token, verify_ssl=verify_ssl, timeout=timeout,
                                         max_concurrency=max_concurrency, retries=retries, backoff=backoff,
                                         max_backoff=max_backoff, transport=transport)
        self._runs = RunStore(runs_url, runs_table_prefix)
        self._states = StateCache(self.client, page_size, scope_cache_seconds)
        self._writer = Writer(self.client, self._states, self._runs, service_type=service_type,
                              extras_property=extras_property, override_metadata=override_metadata)
        #: The writes of the last :meth:`apply` that OpenMetadata cannot hold (by name).
        self.rejected: list[RejectedWrite] = []

    def __repr__(self) -> str:
        return f"OpenMetadataCatalog({self.server_url!r}, runs={self._runs.safe_url!r})"

    @property
    def verify_ssl(self) -> bool | str:
        return self.client.verify_ssl

    def close(self) -> None:
        """Close the HTTP client and the side store."""
        self.client.close()
        self._runs.close()

    # -- reads ------------------------------------------------------------------------------

    def read_scope(
        self, service: str, database: str, schemas: list[str], tables: Mapping[str, Sequence[str]] | None = None
    ) -> dict[str, StoredEntity]:
        """Return the schemas and tables (deleted ones too) of ``schemas``: one paged list per schema.

        Schemas without a ``sourceHash`` (bare parents created for a table, or not ingested by
        omingest) are left out; tables are all returned. Names OpenMetadata cannot hold have
        nothing stored.

        :param service: Service name (first FQN part).
        :param database: Database name.
        :param schemas: Schema names.
        :param tables: ignored: the paged lists return every table of a schema.
        """
        wanted = sorted({s for s in set(schemas) if _holdable(service, database, s)})
        if not wanted or not _holdable(service, database):
            return {}
        schema_states = self._states.schemas(service, database, fresh=True)
        listed = self._map(lambda s: self._states.tables(service, database, s, fresh=True), wanted)
        scope: dict[str, StoredEntity] = {}
        for schema in wanted:
            state = schema_states.get(schema)
            if state is not None and state.fingerprint:
                key = build_fqn(service, database, schema)
                scope[key] = StoredEntity(fqn=key, kind="schema", database=database, schema_name=schema,
                                          name=schema, fingerprint=state.fingerprint, deleted=state.deleted)
        for schema, states in zip(wanted, listed):
            for name, state in states.items():
                key = build_fqn(service, database, schema, name)
                scope[key] = StoredEntity(fqn=key, kind="table", database=database, schema_name=schema,
                                          name=name, fingerprint=state.fingerprint or "", deleted=state.deleted)
        return scope

    def inventory(self, service: str, databases: Sequence[str]) -> Inventory:
        """Return the live databases omingest wrote in ``service``, their live schemas and table names.

        One paged list of the service's databases (``GET /v1/databases?service=``), then for each
        database one list of its schemas and one list per schema of its tables. Only databases
        and schemas with a ``sourceHash`` count (written by omingest): what another ingestion or
        a person put in the service is never taken for something that vanished.

        :param databases: the databases the source listed (every database of the service is returned).
        """
        if not _holdable(service):
            return {}
        listed = self._states.list(PATHS["database"], {"service": om_fqn(service), "fields": SCOPE_FIELDS},
                                   f"list the databases of service {service}")
        names = sorted(e["name"] for e in listed if e.get("sourceHash") and not e.get("deleted"))
        inventory: Inventory = {}
        for database in names:
            schemas = self.list_schemas(service, database)
            tables: dict[str, list[str]] = {schema: [] for schema in schemas}
            for entity in self.read_scope(service, database, schemas).values():
                if entity.kind == "table" and not entity.deleted and entity.schema_name in tables:
                    tables[entity.schema_name].append(entity.name)
            inventory[database] = {schema: sorted(names) for schema, names in tables.items()}
        return inventory

    def list_schemas(self, service: str, database: str) -> list[str]:
        """Return the names of the live schemas of ``database`` written by omingest, sorted.

        :param service: Service name.
        :param database: Database name.
        """
        if not _holdable(service, database):
            return []
        states = self._states.schemas(service, database, fresh=True)
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
            run_id = runs.get(version_key(version.get("version"))) or \
                f"openmetadata:{version.get('updatedBy') or 'unknown'}"
            entries.append(HistoryEntry(
                fqn=fqn, version=number, change=change, run_id=run_id,
                changed_at=_from_millis(version.get("updatedAt")),
                fingerprint=version.get("sourceHash"), changes=changes,
            ))
            previous, previous_deleted = body, deleted
        return entries

    def lineage(self, fqn: str) -> TableLineage:
        """Return the edges into and out of a table from OpenMetadata's lineage API, in one read.

        :param fqn: Fully qualified name of a table or view.
        """
        _kind(fqn)
        return read_lineage(self.client, fqn)

    def find_downstreams(self, service: str, fqns: Collection[str]) -> list[StoredEntity]:
        """Return the live tables of ``service`` that read one of ``fqns``: one lineage read per table.

        :param service: Service name.
        :param fqns: Fully qualified names of upstream tables.
        """
        tables = sorted({f for f in fqns if _kind(f)[0] == "table" and split_fqn(f)[0] == service})
        return [v for v in downstream_views(self.client, tables, self._writer._map) if split_fqn(v.fqn)[0] == service]

    # -- writes -----------------------------------------------------------------------------

    def apply(self, writes: list[EntityWrite], run_id: str) -> None:
        """Create, update or restore what differs from OpenMetadata's stored state.

        Services, tags, databases and schemas are ensured first (bare parents are created for
        tables whose schema was not written), then tables, ``max_concurrency`` at a time, then
        the foreign keys to tables of the batch. An entity whose ``sourceHash`` equals the write's
        fingerprint is not sent. A write whose name OpenMetadata cannot hold is not sent: it is
        logged as an error naming it and listed in :attr:`rejected`; the batch goes on.

        :param writes: The writes of one batch.
        :param run_id: Recorded in the run journal for every new version.
        :raises CatalogError: naming the first failure, after every other write was tried.
        """
        self.rejected = []
        if writes:
            self.rejected = self._writer.apply(writes, run_id)

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
            if _holdable(*parts):
                by_kind[kind].append(parts)
        targets: dict[str, list[tuple[list[str], EntityState]]] = defaultdict(list)
        by_schema: dict[tuple[str, str, str], list[list[str]]] = defaultdict(list)
        for parts in by_kind["table"]:
            by_schema[(parts[0], parts[1], parts[2])].append(parts)
        keys = sorted(by_schema)
        for key, states in zip(keys, self._map(lambda k: self._states.tables(*k, fresh=True), keys)):
            for parts in by_schema[key]:
                state = states.get(parts[3])
                if state is not None and (hard or not state.deleted):
                    targets["table"].append((parts, state))
        for parts in by_kind["schema"]:
            state = self._states.schemas(parts[0], parts[1], fresh=True).get(parts[2])
            if state is not None and (hard or not state.deleted):
                targets["schema"].append((parts, state))
        for parts in by_kind["database"]:
            entity = self._get_entity("database", parts, fields="sourceHash")
            if entity is not None and (hard or not entity.get("deleted")):
                targets["database"].append((parts, state_of(entity)))
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
            raise CatalogError(f"Could not {action}: {len(errors)} failed; first: {errors[0]}",
                               entity=errors[0].entity, status=errors[0].status,
                               retryable=all(e.retryable for e in errors)) from errors[0]
        return deleted

    # -- runs -------------------------------------------------------------------------------

    def record_run(self, run: RunRecord) -> None:
        """Insert or update a run record in the side store.

        :param run: The run.
        """
        self._runs.record_run(run)

    def last_successful_run(self, service: str) -> RunRecord | None:
        """Return the latest successful run of ``service`` from the side store, or None (the watermark of ``omingest run``).

        :param service: Service name.
        """
        return self._runs.last_successful_run(service)

    def get_run(self, run_id: str) -> RunRecord | None:
        """Return a run record from the side store, or None.

        :param run_id: The run's id.
        """
        return self._runs.get_run(run_id)

    # -- internals --------------------------------------------------------------------------

    def _get_entity(self, kind: str, parts: list[str], *, fields: str) -> dict[str, Any] | None:
        if not _holdable(*parts):
            return None
        params = {"include": "all"}
        if fields:
            params["fields"] = fields
        reply = self.client.request("GET", path_of_name(kind, parts), params=params,
                                    action=f"read {kind} {build_fqn(*parts)}", accept=(404,))
        return None if reply.status == 404 else reply.body

    def _versions(self, kind: str, entity_id: str) -> list[dict[str, Any]]:
        """Return the versions of an entity, oldest first."""
        reply = self.client.request("GET", f"{PATHS[kind]}/{entity_id}/versions",
                                    action=f"read the versions of {kind} {entity_id}", accept=(404,))
        history = {} if reply.status == 404 else reply.body
        versions = [json.loads(v) if isinstance(v, str) else v for v in history.get("versions") or ()]
        return sorted(versions, key=lambda v: float(v.get("version") or 0))

    def _body(self, kind: str, service: str, entity: dict[str, Any]) -> dict[str, Any]:
        if kind == "table":
            return Table.model_validate(table_body(service, entity, self.extras_property)).model_dump(mode="json")
        if kind == "schema":
            return DatabaseSchema.model_validate(schema_body(entity)).model_dump(mode="json")
        return Database.model_validate(database_body(entity)).model_dump(mode="json")

    def _delete_one(self, kind: str, parts: list[str], state: EntityState, hard: bool,
                    run_id: str) -> dict[str, Any] | None:
        what = build_fqn(*parts)
        reply = self.client.request(
            "DELETE", path_of_name(kind, parts), params={"hardDelete": _bool(hard), "recursive": "false"},
            action=f"delete {kind} {what}", entity=what, accept=(404,))
        if reply.status == 404:
            self._states.remember(kind, parts, None)
            return None
        if hard:
            self._states.remember(kind, parts, None)
            return {"entity_id": state.id}
        entity = reply.body
        new_state = state_of(entity) if entity.get("id") else state._replace(deleted=True)
        self._states.remember(kind, parts, new_state._replace(deleted=True))
        return {"entity_id": state.id, "version": version_key(new_state.version), "fqn": what,
                "change": "deleted", "run_id": run_id}

    def _map(self, func: Any, items: Any, *, errors: list[CatalogError] | None = None) -> list[Any]:
        if errors is None:
            failures: list[CatalogError] = []
            results = self._writer._map(func, items, failures)
            if failures:
                raise failures[0]
            return results
        return self._writer._map(func, items, errors)


# -- helpers ------------------------------------------------------------------------------------


def _holdable(*parts: str) -> bool:
    """Whether OpenMetadata can hold these names (else nothing of them is stored)."""
    try:
        om_fqn(*parts)
    except UnrepresentableName:
        return False
    return True


def _kind(fqn: str) -> tuple[str, list[str]]:
    try:
        parts = split_fqn(fqn)
    except ValueError as exc:
        raise CatalogError(f"Not a fully qualified name: {fqn!r}: {exc}", entity=fqn, retryable=False) from exc
    kind = _KIND_OF_DEPTH.get(len(parts))
    if kind is None:
        raise CatalogError(f"{fqn!r} names no database, schema or table (service.database[.schema[.table]]).",
                           entity=fqn, retryable=False)
    return kind, parts


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _from_millis(value: Any) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
