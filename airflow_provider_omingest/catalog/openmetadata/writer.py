"""Writing to OpenMetadata the way its own ingestion does: PUT only to create, PATCH what exists.

One batch (:meth:`Writer.apply`) goes:

1. names OpenMetadata cannot hold are refused per entity (:class:`RejectedWrite`), the rest goes on;
2. database services are created when missing and never changed (``metadata/ingestion/source/
   database/database_service.py`` reads the service and creates it only when absent);
3. classifications and tags the writes use are created when missing (the server refuses a tag
   label whose tag does not exist: ``TagLabelUtil.applyTagCommonFields``);
4. databases, then schemas, then tables: a missing entity is created by ``PUT`` (a 409 from a
   concurrent creator means "it exists now": it is read and patched); a soft-deleted one is
   restored (``PUT /{entity}/restore``); an existing one is read (``GET …/{id}?fields=…``) and
   sent a JSON Patch limited to our fields (:mod:`.merge`), with ``If-Match: W/"<version>"``
   (``util/EntityETag``: the weak validator), re-read and retried on 412;
5. (after 4) the lineage edges of the views written (:mod:`.lineage`);
6. foreign keys whose target table does not exist yet (the server refuses them:
   ``TableRepository.validateTableConstraints``, "Table not found") are left out of the first
   write and added by a second PATCH once the batch's tables exist. A foreign key whose target is
   still missing stays out, and the table's ``sourceHash`` then records what OpenMetadata holds,
   not the source's fingerprint, so the next run tries again.

After every write the answer is compared with what was sent; a field that did not land makes
the ``sourceHash`` record the state OpenMetadata holds instead of the source's fingerprint.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from airflow_provider_omingest.catalog.base import EntityWrite
from airflow_provider_omingest.catalog.openmetadata.client import JSON_PATCH, OpenMetadataClient
from airflow_provider_omingest.catalog.openmetadata.lineage import LineageWriter
from airflow_provider_omingest.catalog.openmetadata.mapping import (
    constraint_key,
    database_request,
    extras_of,
    extras_value,
    schema_request,
    service_request,
    table_body,
    table_request,
)
from airflow_provider_omingest.catalog.openmetadata.merge import (
    differences,
    extension_operations,
    merge_schema,
    merge_table,
    written_record,
)
from airflow_provider_omingest.catalog.openmetadata.names import UnrepresentableName, om_fqn, om_split
from airflow_provider_omingest.catalog.openmetadata.run_store import RunStore
from airflow_provider_omingest.catalog.openmetadata.state import (
    PATHS,
    EntityState,
    StateCache,
    path_of_name,
    state_of,
)
from airflow_provider_omingest.exceptions import CatalogError
from airflow_provider_omingest.models.entities import Table
from airflow_provider_omingest.models.fqn import build_fqn, split_fqn

__all__ = ["SCHEMA_FIELDS", "TABLE_FIELDS", "RejectedWrite", "Writer", "version_key"]

log = logging.getLogger(__name__)

#: Fields read of an existing table before patching it (and for a whole table: get).
TABLE_FIELDS = "columns,tableConstraints,tablePartition,tags,schemaDefinition,extension,sourceHash,owners"
#: Fields read of an existing schema or database.
SCHEMA_FIELDS = "tags,sourceHash,owners"
_DEPTH = {"database": 2, "schema": 3, "table": 4}
#: Attempts of a PATCH whose If-Match the server refused (412: the entity changed meanwhile).
_PATCH_ATTEMPTS = 3
_TAG_DESCRIPTION = "Tag of the source, created by omingest."
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class RejectedWrite:
    """A write that was not sent because OpenMetadata cannot hold it."""

    fqn: str
    reason: str


@dataclass
class _TableJob:
    parts: list[str]
    write: EntityWrite
    state: EntityState | None
    request: dict[str, Any]
    sent: dict[str, Any] = field(default_factory=dict)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    entity: dict[str, Any] | None = None
    #: What we had written of the curated fields before this write, and what this write wrote.
    previous: dict[str, Any] | None = None
    written: dict[str, Any] = field(default_factory=dict)

    @property
    def fqn(self) -> str:
        return om_fqn(*self.parts)


class Writer:
    """Applies batches of writes for :class:`~.catalog.OpenMetadataCatalog`.

    :param client: The server's client.
    :param states: The catalog's cache of stored states.
    :param runs: The run store (journal of versions).
    :param service_type: ``serviceType`` of services created.
    :param extras_property: Table custom property of the extras, or None.
    :param override_metadata: Replace what a person curated (never remove it).
    """

    def __init__(self, client: OpenMetadataClient, states: StateCache, runs: RunStore, *, service_type: str,
                 extras_property: str | None, override_metadata: bool) -> None:
        self.client = client
        self.states = states
        self.runs = runs
        self.service_type = service_type
        self.extras_property = extras_property
        self.override_metadata = override_metadata
        self._lock = threading.Lock()
        self._services: set[str] = set()
        self._tags: set[str] = set()
        self._classifications: set[str] = set()
        self._extras_ready = False
        self._lineage = LineageWriter(client, states, self._map)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_lock": None, "_services": set(), "_tags": set(), "_classifications": set(),
                "_extras_ready": False, "_lineage": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._lineage = LineageWriter(self.client, self.states, self._map)

    # -- the batch --------------------------------------------------------------------------

    def apply(self, writes: list[EntityWrite], run_id: str) -> list[RejectedWrite]:
        """Write a batch; return the writes refused for their names.

        :raises CatalogError: naming the first failure, after every other write was tried.
        """
        action = f"apply {len(writes)} write(s) of run {run_id}"
        for write in writes:
            if len(_split(write.fqn)) != _DEPTH[write.kind]:
                raise CatalogError(f"Could not {action}: {write.fqn!r} is not a {write.kind} name.",
                                   entity=write.fqn, retryable=False)
        accepted, rejected = _check_names(writes)
        for item in rejected:
            log.error("OpenMetadata: %s is not written: %s", item.fqn, item.reason)
        journal: list[dict[str, Any]] = []
        errors: list[CatalogError] = []
        try:
            for service in sorted({_split(w.fqn)[0] for w in accepted}):
                self._ensure_service(service)
            self._ensure_tags(sorted({t for w in accepted for t in _tags_of(w)}))
            if self.extras_property and any(w.kind == "table" for w in accepted):
                self._ensure_extras_property()
            for kind in ("database", "schema"):
                jobs = _container_jobs(kind, accepted)
                for rows in self._map(lambda job, kind=kind: self._write_container(kind, *job, run_id), jobs, errors):
                    journal.extend(rows or ())
            rows, jobs = self._write_tables([w for w in accepted if w.kind == "table"], run_id, errors)
            journal.extend(rows)
            views = [(job.write, job.entity, job.state is not None) for job in jobs if job.entity is not None]
            self._lineage.write(views, errors)
        finally:
            self.runs.add_journal(journal)
        if errors:
            raise CatalogError(f"Could not {action}: {len(errors)} failed; first: {errors[0]}",
                               entity=errors[0].entity, status=errors[0].status,
                               retryable=all(e.retryable for e in errors)) from errors[0]
        return rejected

    # -- services, tags, the extras property ------------------------------------------------

    def _ensure_service(self, service: str) -> None:
        if service in self._services:
            return
        path = f"/api/v1/services/databaseServices/name/{_quote(om_fqn(service))}"
        action = f"read the database service {om_fqn(service)}"
        found = self.client.request("GET", path, params={"include": "all"}, action=action, accept=(404,))
        if found.status == 404:
            reply = self.client.request(
                "PUT", "/api/v1/services/databaseServices",
                json=service_request(service, self.service_type, "Metadata ingested by omingest."),
                action=f"create the database service {om_fqn(service)}", accept=(409,))
            if reply.status == 409:
                log.info("The database service %s was created meanwhile; using it.", service)
        elif found.body.get("deleted"):
            self._restore("/api/v1/services/databaseServices", found.body["id"], f"database service {service}")
        with self._lock:
            self._services.add(service)

    def _ensure_tags(self, tags: list[str]) -> None:
        """Create the classifications and tags that do not exist; existing ones are used as they are."""
        for tag in tags:
            if tag in self._tags:
                continue
            parts = om_split(tag)
            if len(parts) < 2:
                raise CatalogError(f"Tag {tag!r} is not Classification.Tag: OpenMetadata tags belong to a "
                                   "classification (e.g. PII.Sensitive)", entity=tag, retryable=False)
            found = self.client.request("GET", f"/api/v1/tags/name/{_quote(tag)}", action=f"read the tag {tag}",
                                        entity=tag, accept=(404,))
            if found.status == 404:
                self._ensure_classification(parts[0])
                parent = om_fqn(*parts[:-1]) if len(parts) > 2 else None
                if parent is not None:
                    self._ensure_tags([parent])
                request = {"name": parts[-1], "classification": om_fqn(parts[0]), "description": _TAG_DESCRIPTION}
                if parent is not None:
                    request["parent"] = parent
                self.client.request("PUT", "/api/v1/tags", json=request, action=f"create the tag {tag}", entity=tag,
                                    accept=(409,))
                log.info("Created the tag %s in OpenMetadata.", tag)
            with self._lock:
                self._tags.add(tag)

    def _ensure_classification(self, name: str) -> None:
        if name in self._classifications:
            return
        fqn = om_fqn(name)
        found = self.client.request("GET", f"/api/v1/classifications/name/{_quote(fqn)}",
                                    action=f"read the classification {fqn}", accept=(404,))
        if found.status == 404:
            self.client.request("PUT", "/api/v1/classifications",
                                json={"name": name, "description": "Tags of the source, created by omingest."},
                                action=f"create the classification {fqn}", accept=(409,))
            log.info("Created the classification %s in OpenMetadata.", fqn)
        with self._lock:
            self._classifications.add(name)

    def _ensure_extras_property(self) -> None:
        """Create the table custom property that carries the extras, unless it exists."""
        if self._extras_ready:
            return
        table_type = self.client.request("GET", "/api/v1/metadata/types/name/table",
                                         params={"fields": "customProperties"},
                                         action="read the custom properties of tables").body
        names = {p.get("name") for p in table_type.get("customProperties") or ()}
        if self.extras_property not in names:
            string_type = self.client.request("GET", "/api/v1/metadata/types/name/string",
                                              action="read the string type").body
            self.client.request(
                "PUT", f"/api/v1/metadata/types/{table_type['id']}",
                json={"name": self.extras_property,
                      "description": "Fields of the source that OpenMetadata has no place for (omingest, JSON).",
                      "propertyType": {"id": string_type["id"], "type": "type"}},
                action=f"create the table custom property {self.extras_property!r} "
                       "(or create it as an admin, or set extras_property=None)",
            )
            log.info("Created the table custom property %s in OpenMetadata.", self.extras_property)
        self._extras_ready = True

    # -- databases and schemas --------------------------------------------------------------

    def _write_container(self, kind: str, parts: list[str], write: EntityWrite | None,
                         run_id: str) -> list[dict[str, Any]]:
        what = build_fqn(*parts)
        state = self._container_state(kind, parts)
        if write is None:  # a bare parent of what is written: it only has to exist
            if state is not None and not state.deleted:
                return []
            request = self._container_request(kind, parts, {"name": parts[-1]}, None)
        else:
            if state is not None and not state.deleted and state.fingerprint == write.fingerprint:
                return []
            request = self._container_request(kind, parts, write.body, write.fingerprint)
        rows: list[dict[str, Any]] = []
        entity: dict[str, Any] | None = None
        if state is None:
            reply = self.client.request("PUT", PATHS[kind], json=request, action=f"create {kind} {what}", entity=what,
                                        accept=(409,))
            if reply.status != 409:
                rows.append(self._row(reply.body, what, "created", run_id))
                self.states.remember(kind, parts, state_of(reply.body))
                return rows
            log.info("%s %s was created meanwhile; using it.", kind, what)
            if write is None:
                return rows
        elif state.deleted:
            entity = self._restore(PATHS[kind], state.id, f"{kind} {what}")
            rows.append(self._row(entity, what, "restored", run_id))
            if write is None:
                self.states.remember(kind, parts, state_of(entity))
                return rows
        entity = self._read(kind, parts, SCHEMA_FIELDS)
        updated = self._patch(kind, parts, entity, lambda e: merge_schema(e, request, override=self.override_metadata)
                              .operations, SCHEMA_FIELDS)
        if updated is not None:
            rows.append(self._row(updated, what, "updated", run_id))
            entity = updated
        self.states.remember(kind, parts, state_of(entity))
        return rows

    def _container_state(self, kind: str, parts: list[str]) -> EntityState | None:
        if kind == "schema":
            return self.states.schemas(parts[0], parts[1], fresh=False).get(parts[2])
        reply = self.client.request("GET", path_of_name(kind, parts), params={"include": "all", "fields": "sourceHash"},
                                    action=f"read {kind} {build_fqn(*parts)}", accept=(404,))
        return None if reply.status == 404 else state_of(reply.body)

    @staticmethod
    def _container_request(kind: str, parts: list[str], body: dict[str, Any], fingerprint: str | None) -> dict[str, Any]:
        if kind == "schema":
            return schema_request(parts[0], parts[1], body, fingerprint)
        return database_request(parts[0], body, fingerprint)

    # -- tables -----------------------------------------------------------------------------

    def _write_tables(self, writes: list[EntityWrite], run_id: str,
                      errors: list[CatalogError]) -> tuple[list[dict[str, Any]], list[_TableJob]]:
        last: dict[tuple[str, ...], EntityWrite] = {}
        for write in writes:
            last[tuple(_split(write.fqn))] = write  # the last write of a name wins
        jobs: list[_TableJob] = []
        for key in sorted(last):
            parts, write = list(key), last[key]
            state = self.states.tables(parts[0], parts[1], parts[2], fresh=False).get(parts[3])
            if state is not None and not state.deleted and state.fingerprint == write.fingerprint:
                log.debug("%s is unchanged in OpenMetadata; not sent.", write.fqn)
                continue
            jobs.append(_TableJob(parts, write, state, table_request(*parts[:3], write.body, write.fingerprint)))
        if not jobs:
            return [], []
        in_batch = {job.fqn: {c["name"] for c in job.request["columns"]} for job in jobs}
        outside = sorted({t for job in jobs for t in _fk_targets(job.request)} - set(in_batch))
        known = dict(zip(outside, self._map(self._table_columns, outside, errors)))
        journal: list[dict[str, Any]] = []
        # First pass: every table, with the foreign keys whose target exists already.
        for rows in self._map(lambda job: self._write_table(job, known, run_id), jobs, errors):
            journal.extend(rows or ())
        # Second pass: the foreign keys to tables this batch has just written.
        known.update({job.fqn: in_batch[job.fqn] for job in jobs if job.entity is not None})
        pending = [job for job in jobs if job.entity is not None and job.deferred]
        for rows in self._map(lambda job: self._write_table(job, known, run_id), pending, errors):
            journal.extend(rows or ())
        for job in pending:
            if job.deferred:
                log.warning("OpenMetadata: %s keeps %d foreign key(s) whose target table does not exist in "
                            "OpenMetadata (%s); they are added by a later run once it does.", build_fqn(*job.parts),
                            len(job.deferred), ", ".join(sorted({_fk_table(r) for c in job.deferred
                                                                 for r in c["referredColumns"]})))
        return journal, jobs

    def _write_table(self, job: _TableJob, known: dict[str, set[str] | None], run_id: str) -> list[dict[str, Any]]:
        what = build_fqn(*job.parts)
        rows: list[dict[str, Any]] = []
        if job.entity is None and job.state is None:
            create, job.deferred = _without_missing_targets(job.request, known, held=())
            fingerprint = self._fingerprint(job)
            create["sourceHash"] = fingerprint
            job.written = written_record(create)
            if self.extras_property:
                create["extension"] = {self.extras_property: extras_value(job.write.body, create, fingerprint,
                                                                          job.written)}
            reply = self.client.request("PUT", PATHS["table"], json=create, action=f"create table {what}", entity=what,
                                        accept=(409,))
            if reply.status != 409:
                job.entity = reply.body
                rows.append(self._row(reply.body, what, "created", run_id))
                return rows + self._settle(job, create, run_id)
            log.info("Table %s was created meanwhile; updating it.", what)
        elif job.entity is None and job.state is not None and job.state.deleted:
            restored = self._restore(PATHS["table"], job.state.id, f"table {what}")
            rows.append(self._row(restored, what, "restored", run_id))
        entity = self._read("table", job.parts, TABLE_FIELDS)

        def operations(current: dict[str, Any]) -> list[dict[str, Any]]:
            held = {constraint_key(c) for c in current.get("tableConstraints") or ()}
            request, job.deferred = _without_missing_targets(job.request, known, held=held)
            request["sourceHash"] = self._fingerprint(job)
            previous = (extras_of(current, self.extras_property) or {}).get("written")
            merged = merge_table(current, request, previous, override=self.override_metadata)
            job.sent, job.previous, job.written = merged.target, previous, merged.written
            if not self.extras_property:
                return merged.operations
            value = extras_value(job.write.body, {**request, "tableConstraints": merged.target["tableConstraints"]},
                                 request["sourceHash"], merged.written)
            return merged.operations + extension_operations(current, self.extras_property, value)

        updated = self._patch("table", job.parts, entity, operations, TABLE_FIELDS)
        if updated is not None:
            rows.append(self._row(updated, what, "updated", run_id))
            entity = updated
        job.entity = entity
        return rows + self._settle(job, job.sent, run_id)

    def _fingerprint(self, job: _TableJob) -> str:
        """The source's fingerprint, or (foreign keys held back) the fingerprint of what OpenMetadata gets."""
        return job.write.fingerprint if not job.deferred else _fingerprint_without(job, job.deferred)

    def _settle(self, job: _TableJob, target: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
        """Check what landed; when something did not, make sourceHash say what OpenMetadata holds."""
        entity = job.entity
        assert entity is not None
        self.states.remember("table", job.parts, state_of(entity))
        missing = differences(entity, target)
        if not missing:
            return []
        what = build_fqn(*job.parts)
        held = Table.model_validate(table_body(job.parts[0], entity, None)).fingerprint()
        if held == job.write.fingerprint:
            return []
        log.warning("OpenMetadata kept its own %s of %s; recording what it holds so that the next run retries.",
                    ", ".join(missing), what)
        # What did not land is not ours to claim: the record keeps what it said before for those fields.
        record = dict(job.written)
        for name, key in (("description", "description"), ("tags", "tags"), ("tableConstraints", "constraints"),
                          ("columns", "columns")):
            if name in missing:
                record[key] = (job.previous or {}).get(key)

        def settle(current: dict[str, Any]) -> list[dict[str, Any]]:
            ops = [{"op": "add", "path": "/sourceHash", "value": held}]
            if self.extras_property:
                constraints = current.get("tableConstraints") or []
                value = extras_value(job.write.body, {**job.request, "tableConstraints": constraints}, held, record)
                ops += extension_operations(current, self.extras_property, value)
            return ops

        updated = self._patch("table", job.parts, self._read("table", job.parts, TABLE_FIELDS), settle, TABLE_FIELDS)
        if updated is None:
            return []
        job.entity = updated
        self.states.remember("table", job.parts, state_of(updated))
        return [self._row(updated, what, "updated", run_id)]

    def _table_columns(self, table_fqn: str) -> set[str] | None:
        """The column names of a table outside the batch (soft-deleted ones count), None when missing."""
        reply = self.client.request("GET", f"{PATHS['table']}/name/{_quote(table_fqn)}",
                                    params={"fields": "columns", "include": "all"},
                                    action=f"read the foreign key target {table_fqn}", accept=(404,))
        if reply.status == 404:
            return None
        return {c["name"] for c in reply.body.get("columns") or ()}

    # -- requests ---------------------------------------------------------------------------

    def _read(self, kind: str, parts: list[str], fields: str) -> dict[str, Any]:
        return self.client.request("GET", path_of_name(kind, parts), params={"fields": fields, "include": "all"},
                                   action=f"read {kind} {build_fqn(*parts)}", entity=build_fqn(*parts)).body

    def _patch(
        self,
        kind: str,
        parts: list[str],
        entity: dict[str, Any],
        operations: Callable[[dict[str, Any]], list[dict[str, Any]]],
        fields: str,
    ) -> dict[str, Any] | None:
        """PATCH ``operations(entity)`` with If-Match; on 412 read again and rebuild. None: nothing to send."""
        what = build_fqn(*parts)
        for attempt in range(_PATCH_ATTEMPTS):
            ops = operations(entity)
            if not ops:
                return None
            reply = self.client.request(
                "PATCH", f"{PATHS[kind]}/{entity['id']}", json=ops,
                headers={"Content-Type": JSON_PATCH, "If-Match": f'W/"{float(entity["version"])!r}"'},
                action=f"update {kind} {what}", entity=what, accept=(412,))
            if reply.status != 412:
                return reply.body
            log.info("%s %s changed while it was being updated (412); reading it again (%d).", kind, what, attempt + 1)
            entity = self._read(kind, parts, fields)
        raise self.client.error(f"update {kind} {what}", f"it kept changing ({_PATCH_ATTEMPTS} times HTTP 412 "
                                "Precondition Failed)", entity=what, status=412, retryable=True)

    def _restore(self, path: str, entity_id: str, what: str) -> dict[str, Any]:
        reply = self.client.request("PUT", f"{path}/restore", json={"id": entity_id}, action=f"restore {what}",
                                    entity=what)
        return reply.body

    @staticmethod
    def _row(entity: dict[str, Any], fqn: str, change: str, run_id: str) -> dict[str, Any]:
        return {"entity_id": str(entity["id"]), "version": version_key(entity.get("version")), "fqn": fqn,
                "change": change, "run_id": run_id}

    def _map(self, func: Callable[[_T], _R], items: Iterable[_T], errors: list[CatalogError]) -> list[_R | None]:
        """Run ``func`` over ``items``, ``max_concurrency`` at a time, keeping the order; failures go to ``errors``."""
        items = list(items)

        def call(item: _T) -> _R | None:
            try:
                return func(item)
            except CatalogError as exc:
                errors.append(exc)
                return None

        workers = min(self.client.max_concurrency, len(items))
        if workers <= 1:
            return [call(i) for i in items]
        with ThreadPoolExecutor(workers, thread_name_prefix="omingest-om") as pool:
            return list(pool.map(call, items))


# -- helpers ------------------------------------------------------------------------------------


def version_key(version: Any) -> str:
    """The journal's key of an OpenMetadata version (0.1, 1.0, ...)."""
    return f"{float(version or 0):.1f}"


def _split(fqn: str) -> list[str]:
    try:
        return split_fqn(fqn)
    except ValueError as exc:
        raise CatalogError(f"Not a fully qualified name: {fqn!r}: {exc}", entity=fqn, retryable=False) from exc


def _quote(fqn: str) -> str:
    from urllib.parse import quote

    return quote(fqn, safe="")


def _check_names(writes: list[EntityWrite]) -> tuple[list[EntityWrite], list[RejectedWrite]]:
    """Split writes into those OpenMetadata can hold and the rejected ones (a rejected parent rejects its children)."""
    accepted: list[EntityWrite] = []
    rejected: list[RejectedWrite] = []
    for write in writes:
        parts = _split(write.fqn)
        try:
            om_fqn(*parts)
            if write.kind == "table":
                table_request(*parts[:3], write.body, write.fingerprint)
        except UnrepresentableName as exc:
            rejected.append(RejectedWrite(write.fqn, str(exc)))
            continue
        accepted.append(write)
    return accepted, rejected


def _container_jobs(kind: str, writes: list[EntityWrite]) -> list[tuple[list[str], EntityWrite | None]]:
    """The databases or schemas of a batch: explicit writes, and bare parents of deeper writes."""
    depth = _DEPTH[kind]
    explicit: dict[tuple[str, ...], EntityWrite] = {}
    for write in writes:
        if write.kind == kind:
            explicit[tuple(_split(write.fqn))] = write
    parents = {tuple(_split(w.fqn)[:depth]) for w in writes if len(_split(w.fqn)) > depth}
    return [(list(key), explicit.get(key)) for key in sorted(set(explicit) | parents)]


def _tags_of(write: EntityWrite) -> list[str]:
    tags = list(write.body.get("tags") or ())

    def walk(columns: list[dict[str, Any]]) -> None:
        for column in columns:
            tags.extend(column.get("tags") or ())
            walk(column.get("children") or [])

    walk(write.body.get("columns") or [])
    return tags


def _fk_table(column_fqn: str) -> str:
    return om_fqn(*om_split(column_fqn)[:-1])


def _fk_targets(request: dict[str, Any]) -> set[str]:
    return {_fk_table(r) for c in request.get("tableConstraints") or () for r in c.get("referredColumns") or ()}


def _without_missing_targets(
    request: dict[str, Any], known: dict[str, set[str] | None], *, held: Iterable[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Split the constraints into those the server accepts now and those whose target is missing.

    :param held: Keys of the constraints the stored table has already (those stay, whatever the target).
    """
    held = set(held)
    kept, deferred = [], []
    for constraint in request.get("tableConstraints") or ():
        ok = constraint_key(constraint) in held or all(
            (known.get(_fk_table(r)) or set()) >= {om_split(r)[-1]} for r in constraint.get("referredColumns") or ())
        (kept if ok else deferred).append(constraint)
    out = copy.deepcopy(request)
    if kept:
        out["tableConstraints"] = copy.deepcopy(kept)
    else:
        out.pop("tableConstraints", None)
    return out, deferred


def _fingerprint_without(job: _TableJob, deferred: list[dict[str, Any]]) -> str:
    """The fingerprint of the table without the foreign keys OpenMetadata does not hold yet."""
    held = {constraint_key(c) for c in deferred}
    service = job.parts[0]
    body = copy.deepcopy(job.write.body)
    body["constraints"] = [c for c in body.get("constraints") or ()
                           if constraint_key(_request_constraint(service, c)) not in held]
    return Table.model_validate(body).fingerprint()


def _request_constraint(service: str, constraint: dict[str, Any]) -> dict[str, Any]:
    referred = list(constraint.get("referred_columns") or ())
    if referred and constraint.get("referred_table"):
        referred = [om_fqn(service, *split_fqn(constraint["referred_table"]), c) for c in referred]
    return {"constraintType": constraint["constraint_type"], "columns": list(constraint["columns"]),
            "referredColumns": referred}

