"""An in-memory stand-in of OpenMetadata's REST API v1 that follows the server's rules.

Paths below are in OpenMetadata's repository (``openmetadata-service/src/main/java/org/
openmetadata/service/``); the update rules themselves are in :mod:`.rules`.

Endpoints (``/api/v1``), for database services, databases, database schemas, tables,
classifications and tags (``resources/EntityResource.java`` and each ``*Resource.java``):

- ``PUT /{collection}``: create or update (``EntityRepository.createOrUpdate``). The body is
  validated against OpenMetadata's ``create*.json`` JSON Schema (400). A new entity is created
  (201) after ``prepare``: the parent must exist (404), the name must fit an FQN
  (``FullyQualifiedName.quoteName``: 400), tags must exist (404), foreign keys must point at
  existing tables (``TableRepository.validateTableConstraints``: 400 "Table not found").
  An existing entity is updated by the PUT rules of ``EntityUpdater`` (a bot's PUT keeps
  descriptions and extension, merges tags); a soft-deleted one is restored first.
- ``PATCH /{collection}/{id}`` (``application/json-patch+json`` only, else 415): the JSON Patch
  is applied to the stored, live entity (``EntityRepository.patch`` finds it with NON_DELETED:
  404 for a soft-deleted one), the result is checked against the entity's JSON Schema, and
  updated by the PATCH rules (what the patch says lands; tags are replaced, not merged).
  ``If-Match`` (``entity/write/EntityPatchService.validateETag``, ``util/EntityETag``) must
  match the strong ETag, the weak ``W/"<version>"`` or ``*``; otherwise 412.
- ``GET /{collection}`` (paged list: ``limit``, ``after``, ``before``, ``include``, ``fields``,
  parent filters ``service`` / ``database`` / ``databaseSchema`` / ``classification``),
  ``GET /{collection}/name/{fqn}`` and ``GET /{collection}/{id}`` (``fields``, ``include``; an
  ``ETag`` header), ``GET /{collection}/{id}/versions[/{version}]``.
- ``DELETE /{collection}/{id}`` and ``/name/{fqn}`` (``hardDelete``, ``recursive``: a container
  with children is refused unless recursive: "Entity … is not empty").
- ``PUT /{collection}/restore`` ``{"id": …}`` (``EntityResource.restoreEntity``,
  ``EntityRepository.restoreEntity``: restores the entity and its soft-deleted children).
- ``GET /system/version`` (``resources/system/SystemResource.getCatalogVersion``).
- Lineage between tables (``resources/lineage/LineageResource.java``, ``jdbi3/LineageRepository.java``):
  ``PUT /lineage`` with an ``AddLineageRequest`` (``api/lineage/addLineage.json``: ``edge`` with
  ``fromEntity``/``toEntity`` references, optional ``lineageDetails``); both ends are looked up by
  id with NON_DELETED (404); every ``columnsLineage`` column must be a column of its end
  (``validateLineageDetails`` → ``ColumnUtil.validateColumnFQN``: 400 "Invalid column name");
  the edge is an upsert of the UPSTREAM relationship (a second PUT replaces its details).
  ``GET /lineage/{entity}/name/{fqn}`` and ``/{entity}/{id}`` (``upstreamDepth``,
  ``downstreamDepth``, 0–3; the entity with NON_DELETED: 404) answer ``EntityLineage``
  (``entity``, ``nodes``, ``upstreamEdges``, ``downstreamEdges``: ``fromEntity``/``toEntity`` ids
  and ``lineageDetails``). ``DELETE /lineage/{fromEntity}/{fromId}/{toEntity}/{toId}`` (404 "Lineage
  edge not found"). A hard delete removes the entity's edges (its relationships).
- ``GET /metadata/types/name/{name}``, ``PUT /metadata/types/{id}`` (custom properties,
  ``resources/types/TypeResource``).

``fields`` (``util/EntityUtil.Fields``): an unknown field is a 400 ("Invalid field name"),
``*`` means every field the resource allows. A table's ``columns`` are always returned (they
are part of the stored entity); column tags only with ``tags`` (``TableRepository.getColumnTags``).

Versions (``EntityUpdater.updateVersion``): no change → same version, no history; a change →
+0.1; a backward-incompatible change (a column removed or retyped, a length, precision or scale
reduced) → the next major version. A soft delete and a restore are versions too.

Every request needs ``Authorization: Bearer <token>`` (401 "Not Authorized! Token not valid").
The main token is a bot (``ingestion-bot``); an optional ``user_token`` is a person (PUT rules
for non-bots apply); ``forbidden_token`` authenticates but every action is refused (403).
:meth:`OpenMetadataStandIn.inject` makes the next matching requests fail or stall.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

from tests.openmetadata_standin.fqn import add_part
from tests.openmetadata_standin.json_patch import PatchError, apply_patch
from tests.openmetadata_standin.rules import (
    ApiError,
    Change,
    column_fqns,
    update_entity,
    validate_constraints,
)

__all__ = ["BOT", "SERVER_VERSION", "USER", "OpenMetadataStandIn", "RequestRecord"]

BASE = "https://open-metadata.org/schema/"
BOT = "ingestion-bot"
USER = "curator"
#: The server version reported by /system/version; the SDK checks major.minor against its own.
SERVER_VERSION = "1.13.6"


@dataclass(frozen=True)
class Kind:
    """One entity type: its collection, create schema, parent and the fields its resource allows."""

    name: str
    collection: str
    create_schema: str | None
    entity_schema: str | None
    parent_field: str | None
    parent_kind: str | None
    fields: frozenset[str]
    #: Fields stored in the entity JSON and returned whatever ``fields`` says.
    always: frozenset[str] = frozenset()


_COMMON = {"owners", "tags", "followers", "domains", "dataProducts", "extension", "votes"}
#: The FIELDS constants of TableResource, DatabaseSchemaResource, DatabaseResource,
#: DatabaseServiceResource, ClassificationResource, TagResource (relation fields we keep empty).
KINDS: dict[str, Kind] = {
    "databaseService": Kind("databaseService", "services/databaseServices", "api/services/createDatabaseService.json",
                            None, None, None, frozenset({"owners", "tags", "domains", "followers",
                                                         "dataProducts", "pipelines"})),
    "database": Kind("database", "databases", "api/data/createDatabase.json", "entity/data/database.json",
                     "service", "databaseService",
                     frozenset(_COMMON | {"databaseSchemas", "usageSummary", "location", "sourceHash", "lifeCycle"})),
    "databaseSchema": Kind("databaseSchema", "databaseSchemas", "api/data/createDatabaseSchema.json",
                           "entity/data/databaseSchema.json", "database", "database",
                           frozenset(_COMMON | {"tables", "usageSummary", "sourceHash", "lifeCycle"})),
    "table": Kind("table", "tables", "api/data/createTable.json", "entity/data/table.json", "databaseSchema",
                  "databaseSchema",
                  frozenset(_COMMON | {"tableConstraints", "tablePartition", "usageSummary", "columns", "joins",
                                       "schemaDefinition", "dataModel", "testSuite", "customMetrics", "lifeCycle",
                                       "sourceHash"}),
                  always=frozenset({"columns"})),
    "classification": Kind("classification", "classifications", None, None, None, None,
                           frozenset({"owners", "usageCount", "termCount"})),
    "tag": Kind("tag", "tags", None, None, "classification", "classification",
                frozenset({"owners", "domains", "children", "usageCount"})),
}
_BY_COLLECTION = {k.collection: k for k in KINDS.values()}
_CHILD = {"databaseService": "database", "database": "databaseSchema", "databaseSchema": "table",
          "classification": "tag"}
#: Relation fields that are lists of references: an empty list when asked for.
_LIST_FIELDS = {"owners", "tags", "followers", "domains", "dataProducts", "databaseSchemas", "tables",
                "pipelines", "children"}
#: Fields the server keeps whatever a PATCH says (EntityRepository.restorePatchAttributes).
_READ_ONLY = ("id", "name", "fullyQualifiedName", "version", "updatedAt", "updatedBy", "href", "service",
              "database", "databaseSchema", "serviceType", "classification", "parent", "changeDescription")
_PAGE_MAX = 1_000_000


@dataclass
class RequestRecord:
    """One request the stand-in answered."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: For a PATCH: the entity it was applied to (every field).
    before: Any = None


@dataclass
class _Fault:
    status: int
    times: int
    method: str | None
    path_contains: str | None
    retry_after: str | None
    delay: float
    message: str | None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


@dataclass
class _Caller:
    name: str
    is_bot: bool


def build_validators(spec: Path) -> tuple[dict[str, jsonschema.Draft7Validator], dict[str, jsonschema.Draft7Validator]]:
    """Return validators for create requests and for entities, resolving ``$ref`` from ``spec``."""

    def retrieve(uri: str) -> Resource:
        path = spec / uri[len(BASE):].split("#", 1)[0] if uri.startswith(BASE) else None
        if path is None or not path.is_file():
            raise NoSuchResource(ref=uri)
        return Resource.from_contents(json.loads(path.read_text(encoding="utf-8")), default_specification=DRAFT7)

    registry = Registry(retrieve=retrieve)  # type: ignore[call-arg]

    def load(relative: str) -> jsonschema.Draft7Validator:
        schema = json.loads((spec / relative).read_text(encoding="utf-8"))
        return jsonschema.Draft7Validator(schema, registry=registry)

    creates = {k.name: load(k.create_schema) for k in KINDS.values() if k.create_schema}
    entities = {k.name: load(k.entity_schema) for k in KINDS.values() if k.entity_schema}
    return creates, entities


class OpenMetadataStandIn:
    """The stand-in server; :meth:`start` runs it in a thread on 127.0.0.1.

    :param spec: Folder of OpenMetadata's JSON Schemas.
    :param token: The bot's bearer token.
    :param user_token: A person's token (non-bot PUT rules), if wanted.
    :param forbidden_token: A token that authenticates but is refused every action (403).
    :param version: The version ``/system/version`` reports.
    :param port: Port to listen on (0: any free port).
    """

    def __init__(
        self,
        spec: Path,
        token: str = "test-jwt-token",
        *,
        user_token: str | None = None,
        forbidden_token: str | None = None,
        version: str = SERVER_VERSION,
        port: int = 0,
    ) -> None:
        self.create_validators, self.entity_validators = build_validators(spec)
        self.callers = {token: _Caller(BOT, True)}
        if user_token:
            self.callers[user_token] = _Caller(USER, False)
        self.forbidden_token = forbidden_token
        self.version = version
        self.port = port
        self.entities: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.custom_properties: dict[str, list[dict[str, Any]]] = {}
        self.types = {name: str(uuid.uuid4()) for name in ("table", "databaseSchema", "database", "string")}
        self.requests: list[RequestRecord] = []
        self._by_id: dict[str, tuple[str, str]] = {}
        self._parent: dict[str, str | None] = {}
        self._faults: list[_Fault] = []
        #: (from id, to id) -> lineageDetails of each UPSTREAM relationship.
        self.lineage: dict[tuple[str, str], dict[str, Any]] = {}
        self._before: Any = None
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> OpenMetadataStandIn:
        """Listen on 127.0.0.1 and serve in a background thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="om-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- test helpers -----------------------------------------------------------------------

    def inject(
        self,
        status: int = 500,
        *,
        times: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
        retry_after: str | None = None,
        delay: float = 0.0,
        message: str | None = None,
    ) -> None:
        """Make the next ``times`` matching requests fail with ``status`` (after ``delay`` seconds).

        With ``status=0`` the request is only delayed, then answered normally.
        """
        with self._lock:
            self._faults.append(_Fault(status, times, method, path_contains, retry_after, delay, message))

    def count(self, method: str, path_prefix: str = "", status: int | None = None) -> int:
        """Count answered requests by method, path prefix and status."""
        with self._lock:
            return sum(1 for r in self.requests
                       if r.method == method and r.path.startswith(path_prefix) and (status is None or r.status == status))

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def entity(self, kind: str, fqn: str) -> dict[str, Any] | None:
        """Return a stored entity (a copy, every field), deleted ones too."""
        with self._lock:
            found = self.entities[kind].get(fqn)
            return copy.deepcopy(found) if found else None

    def all_entities(self, kind: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(e) for e in self.entities[kind].values() if include_deleted or not e.get("deleted")]

    def edit(self, kind: str, fqn: str, patch: list[dict[str, Any]], *, by: str = USER) -> dict[str, Any]:
        """Apply a JSON Patch as a person would in the UI (the PATCH rules, a new version)."""
        with self._lock:
            entity = self.entities[kind][fqn]
            return self._patch(KINDS[kind], entity["id"], patch, _Caller(by, False), None)[1]

    # -- request handling -------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        split_url = urlsplit(raw_path)
        path = split_url.path
        query = {k: v[-1] for k, v in parse_qs(split_url.query, keep_blank_values=True).items()}
        payload: Any = None
        fault = self._take_fault(method, path)
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status:
                extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                return self._log(method, path, query, fault.status, extra,
                                 {"code": fault.status, "message": fault.message or f"injected {fault.status}"})
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if self.forbidden_token and token == self.forbidden_token:
            return self._log(method, path, query, 403, {},
                             {"code": 403, "message": f"Principal: CatalogPrincipal{{name='{BOT}'}} operations "
                                                      "[EditAll] not allowed"})
        caller = self.callers.get(token)
        if caller is None:
            return self._log(method, path, query, 401, {}, {"code": 401, "message": "Not Authorized! Token not valid"})
        try:
            if body:
                try:
                    payload = json.loads(body)
                except ValueError as exc:
                    raise ApiError(400, f"Unable to process JSON: {exc}") from exc
            with self._lock:
                self._before = None
                status, result, extra = self._route(method, path, query, payload, headers, caller)
                before = self._before
        except ApiError as exc:
            return self._log(method, path, query, exc.status, {}, {"code": exc.status, "message": exc.message},
                             payload, headers)
        return self._log(method, path, query, status, extra, result, payload, headers, before)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def _log(self, method: str, path: str, query: dict[str, str], status: int, extra: dict[str, str], result: Any,
             payload: Any = None, headers: dict[str, str] | None = None,
             before: Any = None) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            kept = {k: v for k, v in (headers or {}).items() if k in ("if-match", "content-type")}
            self.requests.append(RequestRecord(method, path, query, status, payload, kept, before))
        return status, extra, result

    def _route(self, method: str, path: str, query: dict[str, str], payload: Any, headers: dict[str, str],
               caller: _Caller) -> tuple[int, Any, dict[str, str]]:
        if not path.startswith("/api/v1/"):
            raise ApiError(404, f"HTTP 404 Not Found: {path}")
        rest = path[len("/api/v1/"):]
        if rest == "system/version" and method == "GET":
            # SystemResource.getCatalogVersion: {"version", "revision", "timestamp"}.
            return 200, {"version": self.version, "revision": "stand-in", "timestamp": 0}, {}
        if rest.startswith("metadata/types/"):
            return self._types(method, rest[len("metadata/types/"):], payload)
        if rest == "lineage" or rest.startswith("lineage/"):
            return self._lineage(method, rest[len("lineage/"):] if "/" in rest else "", query, payload, caller)
        kind, tail = self._kind_of(rest)
        if tail == "":
            if method == "PUT":
                return self._put(kind, payload, caller)
            if method == "GET":
                return 200, self._list(kind, query), {}
            if method == "POST":
                raise ApiError(405, "POST is not used by this stand-in; use PUT (create or update)")
        elif tail == "restore" and method == "PUT":
            return self._restore(kind, payload, caller)
        elif tail.startswith("name/"):
            fqn = unquote(tail[len("name/"):])
            if method == "GET":
                entity = self._find_fqn(kind, fqn, query.get("include", "non-deleted"))
                return 200, self._project(kind, entity, query.get("fields", "")), {"ETag": _etag(entity)}
            if method == "DELETE":
                entity = self._find_fqn(kind, fqn, "all")
                return 200, self._delete(kind, entity, query), {}
        else:
            entity_id, _, more = tail.partition("/")
            if more == "versions" and method == "GET":
                return 200, self._history(kind, entity_id), {}
            if more.startswith("versions/") and method == "GET":
                return 200, self._one_version(kind, entity_id, more[len("versions/"):]), {}
            if more == "":
                if method == "GET":
                    entity = self._find_id(kind, entity_id, query.get("include", "non-deleted"))
                    return 200, self._project(kind, entity, query.get("fields", "")), {"ETag": _etag(entity)}
                if method == "PATCH":
                    if (headers.get("content-type") or "").split(";")[0].strip() != "application/json-patch+json":
                        # PATCH methods are @Consumes(MediaType.APPLICATION_JSON_PATCH_JSON).
                        raise ApiError(415, "HTTP 415 Unsupported Media Type")
                    status, entity = self._patch(kind, entity_id, payload, caller, headers.get("if-match"))
                    return status, self._project(kind, entity, "*"), {"ETag": _etag(entity)}
                if method == "DELETE":
                    entity = self._find_id(kind, entity_id, "all")
                    return 200, self._delete(kind, entity, query), {}
        raise ApiError(405 if tail in ("", "restore") else 404, f"No endpoint {method} {path}")

    def _kind_of(self, rest: str) -> tuple[Kind, str]:
        for collection, kind in _BY_COLLECTION.items():
            if rest == collection or rest.startswith(collection + "/"):
                return kind, rest[len(collection) + 1:]
        raise ApiError(404, f"HTTP 404 Not Found: /api/v1/{rest}")

    # -- create or update -------------------------------------------------------------------

    def _put(self, kind: Kind, payload: Any, caller: _Caller) -> tuple[int, Any, dict[str, str]]:
        request = self._validate_create(kind, payload)
        parent = self._parent_of(kind, request)
        fqn = add_part(parent["fullyQualifiedName"] if parent else None, request["name"])
        existing = self.entities[kind.name].get(fqn)
        if existing is None:
            return 201, self._create(kind, request, parent, fqn, caller), {}
        # EntityRepository.createOrUpdate → update(): a soft-deleted entity is restored first.
        if existing.get("deleted"):
            self._restore_tree(kind.name, existing, caller)
        updated = self._from_request(kind, request, parent, fqn, existing)
        self._apply_update(kind, existing, updated, "PUT", caller)
        return 200, self._project(kind, self.entities[kind.name][fqn], "*"), {}

    def _validate_create(self, kind: Kind, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise ApiError(400, "A create request must be a JSON object")
        # Jackson reads a null like an absent property; 1.13 clients send every field, nulls included.
        request = {k: v for k, v in payload.items() if v is not None}
        domains = request.pop("domains", None)
        if domains is not None and not (isinstance(domains, list) and all(isinstance(d, str) for d in domains)):
            # Newer create requests carry `domains` (FQN strings); the vendored schemas predate it.
            raise ApiError(400, "domains must be a list of domain FQNs")
        if domains:
            raise ApiError(404, f"domain instance for {domains[0]} not found")
        if kind.create_schema:
            errors = sorted(self.create_validators[kind.name].iter_errors(request), key=lambda e: list(e.absolute_path))
            if errors:
                where = "/".join(str(p) for p in errors[0].absolute_path) or "<root>"
                raise ApiError(400, f"{kind.create_schema}: [{where}] {errors[0].message}"
                                    + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""))
        else:
            # CreateClassification / CreateTag (api/classification/*.json): name and description required.
            if not isinstance(request.get("name"), str) or not request["name"] or "::" in request["name"]:
                raise ApiError(400, "[name] must match \"^((?!::).)*$\" and is required")
            if not isinstance(request.get("description"), str):
                raise ApiError(400, "[description] must not be null")
            if kind.name == "tag" and not isinstance(request.get("classification"), str):
                raise ApiError(400, "[classification] must not be null")
        return request

    def _parent_of(self, kind: Kind, request: dict[str, Any]) -> dict[str, Any] | None:
        if kind.parent_field is None:
            return None
        assert kind.parent_kind is not None
        if kind.name == "tag" and request.get("parent"):
            parent = self.entities["tag"].get(request["parent"])
            if parent is None or parent.get("deleted"):
                raise ApiError(404, f"tag instance for {request['parent']} not found")
            return parent
        parent_fqn = request[kind.parent_field]
        parent = self.entities[kind.parent_kind].get(parent_fqn)
        if parent is None:
            # EntityRepository.prepare → getEntityReferenceByName: EntityNotFoundException.
            raise ApiError(404, f"{kind.parent_kind} instance for {parent_fqn} not found")
        return parent

    def _from_request(self, kind: Kind, request: dict[str, Any], parent: dict[str, Any] | None, fqn: str,
                      existing: dict[str, Any] | None) -> dict[str, Any]:
        """The entity a create request describes (``*Mapper.createToEntity``); absent fields are unset."""
        content = {k: copy.deepcopy(v) for k, v in request.items() if k not in (kind.parent_field, "parent")}
        entity: dict[str, Any] = {
            "id": existing["id"] if existing else str(uuid.uuid4()),
            "name": request["name"],
            "fullyQualifiedName": fqn,
            **content,
        }
        entity.update(self._refs(kind, parent))
        if kind.name == "table":
            entity.setdefault("tableType", "Regular")
            entity["columns"] = column_fqns(entity.get("columns") or [], fqn)
        if kind.name == "databaseService":
            entity.setdefault("serviceType", request.get("serviceType"))
        return entity

    def _refs(self, kind: Kind, parent: dict[str, Any] | None) -> dict[str, Any]:
        if parent is None:
            return {}
        if kind.name == "tag":
            if parent.get("classification"):  # a nested tag: parent is a tag
                return {"classification": copy.deepcopy(parent["classification"]), "parent": _ref("tag", parent)}
            return {"classification": _ref("classification", parent)}
        assert kind.parent_kind is not None and kind.parent_field is not None
        refs = {key: copy.deepcopy(parent[key]) for key in ("service", "database") if key in parent}
        refs[kind.parent_field] = _ref(kind.parent_kind, parent)
        refs["serviceType"] = parent.get("serviceType")
        return {k: v for k, v in refs.items() if v is not None}

    def _create(self, kind: Kind, request: dict[str, Any], parent: dict[str, Any] | None, fqn: str,
                caller: _Caller) -> dict[str, Any]:
        entity = self._from_request(kind, request, parent, fqn, None)
        entity["tags"] = self._checked_tags(entity.get("tags"))
        if kind.name == "table":
            for column in entity["columns"]:
                _check_column_tags(column, self._checked_tags)
            # TableRepository.prepare → validateTableConstraints (the table itself does not exist yet).
            validate_constraints(entity, self._table_lookup)
            update_entity("table", {**entity, "columns": [], "tableConstraints": []}, copy.deepcopy(entity),
                          operation="PATCH", by_bot=False, tag_lookup=self._tag_lookup,
                          table_lookup=self._table_lookup, custom_properties=self._property_types)
        elif kind.name in ("database", "databaseSchema"):
            update_entity(kind.name, {}, copy.deepcopy(entity), operation="PATCH", by_bot=False,
                          tag_lookup=self._tag_lookup, table_lookup=self._table_lookup,
                          custom_properties=self._property_types)
        entity.update(version=0.1, updatedAt=_now(), updatedBy=caller.name, deleted=False,
                      href=f"http://localhost/api/v1/{kind.collection}/{entity['id']}")
        if not entity.get("tags"):
            entity.pop("tags", None)
        self.entities[kind.name][fqn] = entity
        self._by_id[entity["id"]] = (kind.name, fqn)
        self._parent[entity["id"]] = parent["id"] if parent else None
        self.versions[entity["id"]] = [copy.deepcopy(entity)]
        return self._project(kind, entity, "*")

    def _checked_tags(self, labels: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        from tests.openmetadata_standin.rules import _tags

        return _tags(None, labels, False, self._tag_lookup)

    def _apply_update(self, kind: Kind, original: dict[str, Any], updated: dict[str, Any], operation: str,
                      caller: _Caller) -> Change:
        change = update_entity(kind.name, original, updated, operation=operation, by_bot=caller.is_bot,
                               tag_lookup=self._tag_lookup, table_lookup=self._table_lookup,
                               custom_properties=self._property_types)
        if not change.any:
            return change
        previous = original["version"]
        version = float(int(previous) + 1) if change.major else round(previous + 0.1, 1)
        for key in list(original):
            if key not in ("id", "href", "deleted"):
                original.pop(key)
        original.update(updated)
        if not original.get("tags"):
            original.pop("tags", None)
        original.update(version=version, updatedAt=_now(), updatedBy=caller.name,
                        changeDescription={"fieldsAdded": _jsonify(change.added),
                                           "fieldsUpdated": _jsonify(change.updated),
                                           "fieldsDeleted": _jsonify(change.deleted),
                                           "previousVersion": previous})
        self.versions[original["id"]].append(copy.deepcopy(original))
        return change

    # -- patch ------------------------------------------------------------------------------

    def _patch(self, kind: Kind, entity_id: str, operations: Any, caller: _Caller,
               if_match: str | None) -> tuple[int, dict[str, Any]]:
        stored = self._find_id(kind, entity_id, "non-deleted")
        self._before = self._project(kind, stored, "*")
        if if_match:
            _validate_etag(if_match, stored)
        try:
            patched = apply_patch(self._project(kind, stored, "*"), operations)
        except PatchError as exc:
            raise ApiError(400, str(exc)) from exc
        if not isinstance(patched, dict):
            raise ApiError(400, "A patch must leave an entity object")
        for key in _READ_ONLY:  # restorePatchAttributes
            if key in stored:
                patched[key] = copy.deepcopy(stored[key])
            else:
                patched.pop(key, None)
        if patched.get("deleted"):
            raise ApiError(400, f"Entity type {kind.name} field deleted is read-only")
        validator = self.entity_validators.get(kind.name)
        if validator is not None:
            # JsonUtils.applyPatch reads the result back into the entity class: it must be a valid entity.
            checked = {k: v for k, v in patched.items() if k not in ("version", "changeDescription")}
            errors = sorted(validator.iter_errors(checked), key=lambda e: list(e.absolute_path))
            if errors:
                where = "/".join(str(p) for p in errors[0].absolute_path) or "<root>"
                raise ApiError(400, f"{kind.entity_schema}: [{where}] {errors[0].message}")
        self._apply_update(kind, stored, patched, "PATCH", caller)
        return 200, stored

    # -- reads ------------------------------------------------------------------------------

    def _find_fqn(self, kind: Kind, fqn: str, include: str) -> dict[str, Any]:
        entity = self.entities[kind.name].get(fqn)
        if entity is None or not _included(entity, include):
            raise ApiError(404, f"{kind.name} instance for {fqn} not found")
        return entity

    def _find_id(self, kind: Kind, entity_id: str, include: str) -> dict[str, Any]:
        found = self._by_id.get(entity_id)
        entity = self.entities[kind.name].get(found[1]) if found and found[0] == kind.name else None
        if entity is None or not _included(entity, include):
            raise ApiError(404, f"{kind.name} instance for {entity_id} not found")
        return entity

    def _list(self, kind: Kind, query: dict[str, str]) -> dict[str, Any]:
        include = query.get("include", "non-deleted")
        if include not in ("all", "deleted", "non-deleted"):
            raise ApiError(400, "query param include must be one of [all, deleted, non-deleted]")
        try:
            limit = int(query.get("limit", "10"))
        except ValueError as exc:
            raise ApiError(400, "query param limit must be a number") from exc
        if not 0 <= limit <= _PAGE_MAX:
            raise ApiError(400, f"query param limit must be between 0 and {_PAGE_MAX}")
        filters = {k: query[k] for k in ("service", "database", "databaseSchema", "classification") if k in query}
        rows = []
        for entity in self.entities[kind.name].values():
            if not _included(entity, include):
                continue
            if any((entity.get(key) or {}).get("fullyQualifiedName") != value for key, value in filters.items()):
                continue
            rows.append(entity)
        rows.sort(key=lambda e: e["fullyQualifiedName"])
        total = len(rows)
        if query.get("after"):
            start = _decode_cursor(query["after"])
            rows = [e for e in rows if e["fullyQualifiedName"] > start]
            page = rows[:limit]
        elif query.get("before"):
            end = _decode_cursor(query["before"])
            rows = [e for e in rows if e["fullyQualifiedName"] < end]
            page = rows[-limit:] if limit else []
        else:
            page = rows[:limit]
        paging: dict[str, Any] = {"total": total}
        if page and page[-1] is not rows[-1]:
            paging["after"] = _encode_cursor(page[-1]["fullyQualifiedName"])
        if page and (query.get("after") or (query.get("before") and page[0] is not rows[0])):
            paging["before"] = _encode_cursor(page[0]["fullyQualifiedName"])
        fields = query.get("fields", "")
        return {"data": [self._project(kind, e, fields) for e in page], "paging": paging}

    def _project(self, kind: Kind, entity: dict[str, Any], fields: str) -> dict[str, Any]:
        """The entity as the server returns it for ``fields`` (EntityUtil.Fields, setFields)."""
        wanted = {f.strip() for f in fields.split(",") if f.strip()}
        if "*" in wanted:
            wanted = set(kind.fields)
        unknown = wanted - kind.fields
        if unknown:
            raise ApiError(400, f"Invalid field name {min(unknown)}")
        out = {k: copy.deepcopy(v) for k, v in entity.items()
               if k not in kind.fields or k in wanted or k in kind.always}
        for name in wanted & _LIST_FIELDS:
            out.setdefault(name, [])
        if "databaseSchemas" in wanted or "tables" in wanted or ("children" in wanted and kind.name == "tag"):
            child = _CHILD.get(kind.name, "tag")
            key = "databaseSchemas" if kind.name == "database" else "tables" if kind.name == "databaseSchema" else "children"
            out[key] = [_ref(child, c) for c in self._children(kind.name, entity) if not c.get("deleted")]
        if kind.name == "table" and "tags" not in wanted:
            out["columns"] = _without_tags(out.get("columns") or [])
        return out

    def _history(self, kind: Kind, entity_id: str) -> dict[str, Any]:
        versions = self.versions.get(entity_id)
        if versions is None or entity_id not in self._by_id:
            raise ApiError(404, f"{kind.name} instance for {entity_id} not found")
        # EntityRepository.listVersions: newest first, each version a JSON string.
        return {"entityType": kind.name, "versions": [json.dumps(v) for v in reversed(versions)]}

    def _one_version(self, kind: Kind, entity_id: str, version: str) -> dict[str, Any]:
        for entry in self.versions.get(entity_id) or ():
            if str(entry["version"]) == version:
                return copy.deepcopy(entry)
        raise ApiError(404, f"{kind.name} instance for {entity_id} and version {version} not found")

    # -- delete and restore -----------------------------------------------------------------

    def _delete(self, kind: Kind, entity: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        hard = query.get("hardDelete") == "true"
        recursive = query.get("recursive") == "true"
        if not hard and entity.get("deleted"):
            raise ApiError(404, f"{kind.name} instance for {entity['fullyQualifiedName']} not found")
        children = self._children(kind.name, entity)
        blocking = children if hard else [c for c in children if not c.get("deleted")]
        if blocking and not recursive:
            # EntityRepository.deleteChildren: CatalogExceptionMessage.entityIsNotEmpty.
            raise ApiError(400, f"Entity {kind.name} is not empty")
        for child in blocking:
            self._delete(KINDS[_CHILD[kind.name]], child, {"hardDelete": query.get("hardDelete", "false"),
                                                          "recursive": "true"})
        if hard:
            # EntityRepository.cleanup deletes every relationship of the entity, lineage included.
            for edge in [e for e in self.lineage if entity["id"] in e]:
                del self.lineage[edge]
            del self.entities[kind.name][entity["fullyQualifiedName"]]
            self._by_id.pop(entity["id"], None)
            self.versions.pop(entity["id"], None)
            return self._project(kind, entity, "")
        previous = entity["version"]
        entity.update(deleted=True, version=round(previous + 0.1, 1), updatedAt=_now(),
                      changeDescription={"fieldsAdded": [], "fieldsDeleted": [], "previousVersion": previous,
                                         "fieldsUpdated": [{"name": "deleted", "oldValue": False, "newValue": True}]})
        self.versions[entity["id"]].append(copy.deepcopy(entity))
        return self._project(kind, entity, "")

    def _restore(self, kind: Kind, payload: Any, caller: _Caller) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
            raise ApiError(400, "[id] must not be null")
        found = self._by_id.get(payload["id"])
        entity = self.entities[kind.name].get(found[1]) if found and found[0] == kind.name else None
        if entity is None or not entity.get("deleted"):
            # EntityRepository.restoreEntity returns null for an entity not in the deleted state,
            # and EntityResource.restoreEntity then fails (an internal server error).
            raise ApiError(500, f"Entity is not in deleted state {kind.name} {payload['id']}")
        self._restore_tree(kind.name, entity, caller)
        return 200, self._project(kind, entity, "*"), {}

    def _restore_tree(self, kind_name: str, entity: dict[str, Any], caller: _Caller) -> None:
        """EntityRepository.restoreEntity: soft-deleted children first, then the entity (a new version)."""
        for child in self._children(kind_name, entity):
            if child.get("deleted"):
                self._restore_tree(_CHILD[kind_name], child, caller)
        previous = entity["version"]
        entity.update(deleted=False, version=round(previous + 0.1, 1), updatedAt=_now(), updatedBy=caller.name,
                      changeDescription={"fieldsAdded": [], "fieldsDeleted": [], "previousVersion": previous,
                                         "fieldsUpdated": [{"name": "deleted", "oldValue": True, "newValue": False}]})
        self.versions[entity["id"]].append(copy.deepcopy(entity))

    def _children(self, kind_name: str, entity: dict[str, Any]) -> list[dict[str, Any]]:
        child = _CHILD.get(kind_name)
        if child is None:
            return []
        return [e for e in self.entities[child].values() if self._parent.get(e["id"]) == entity["id"]]

    # -- custom properties ------------------------------------------------------------------

    def _types(self, method: str, rest: str, payload: Any) -> tuple[int, Any, dict[str, str]]:
        by_id = {v: k for k, v in self.types.items()}
        name = unquote(rest[len("name/"):]) if rest.startswith("name/") else by_id.get(rest)
        if name not in self.types:
            raise ApiError(404, f"type instance for {rest} not found")
        body = {"id": self.types[name], "name": name, "fullyQualifiedName": name,
                "category": "field" if name == "string" else "entity",
                "customProperties": copy.deepcopy(self.custom_properties.get(name, []))}
        if method == "GET":
            return 200, body, {}
        if method == "PUT" and not rest.startswith("name/"):
            # TypeResource.addOrUpdateProperty: a CustomProperty {name, description, propertyType}.
            if not isinstance(payload, dict) or not payload.get("name") or (payload.get("propertyType") or {}).get(
                    "id") not in by_id:
                raise ApiError(400, "customProperty needs name and propertyType {id, type}")
            prop = {**payload, "propertyType": {**payload["propertyType"],
                                                "name": by_id[payload["propertyType"]["id"]]}}
            props = self.custom_properties.setdefault(name, [])
            props[:] = [p for p in props if p["name"] != payload["name"]] + [prop]
            body["customProperties"] = copy.deepcopy(props)
            return 200, body, {}
        raise ApiError(405, "not allowed")

    def _property_types(self, kind: str) -> dict[str, str]:
        return {p["name"]: p["propertyType"].get("name", "string") for p in self.custom_properties.get(kind, [])}

    # -- lineage ----------------------------------------------------------------------------

    def _lineage(self, method: str, rest: str, query: dict[str, str], payload: Any,
                 caller: _Caller) -> tuple[int, Any, dict[str, str]]:
        parts = rest.split("/") if rest else []
        if method == "PUT" and not parts:
            return 200, self._add_lineage(payload, caller), {}
        if method == "DELETE" and len(parts) == 4:
            from_entity = self._lineage_end(parts[0], parts[1])
            to_entity = self._lineage_end(parts[2], parts[3])
            if self.lineage.pop((from_entity["id"], to_entity["id"]), None) is None:
                raise ApiError(404, "Lineage edge not found")
            return 200, None, {}
        if method == "GET" and len(parts) >= 2:
            if parts[1] == "name" and len(parts) >= 3:
                kind = self._lineage_kind(parts[0])
                entity = self._find_fqn(kind, unquote("/".join(parts[2:])), "non-deleted")
            elif len(parts) == 2:
                entity = self._lineage_end(parts[0], parts[1])
            else:
                raise ApiError(404, f"No endpoint {method} /api/v1/lineage/{rest}")
            return 200, self._entity_lineage(parts[0], entity, query), {}
        raise ApiError(405, f"No endpoint {method} /api/v1/lineage/{rest}")

    def _lineage_kind(self, entity_type: str) -> Kind:
        if entity_type != "table":
            raise ApiError(400, f"Entity type {entity_type} is not served by this stand-in's lineage")
        return KINDS["table"]

    def _lineage_end(self, entity_type: str, entity_id: str) -> dict[str, Any]:
        # Entity.getEntityReferenceById(type, id, Include.NON_DELETED).
        return self._find_id(self._lineage_kind(entity_type), entity_id, "non-deleted")

    def _add_lineage(self, payload: Any, caller: _Caller) -> None:
        # api/lineage/addLineage.json: {"edge": entitiesEdge} (required; additionalProperties false);
        # type/entityLineage.json#/definitions/entitiesEdge: fromEntity and toEntity required.
        if not isinstance(payload, dict) or not isinstance(payload.get("edge"), dict):
            raise ApiError(400, "[edge] must not be null")
        unknown = sorted(set(payload) - {"edge", "description"})
        if unknown:
            raise ApiError(400, f"Unrecognized field(s) {unknown} in AddLineage")
        edge = payload["edge"]
        ends = []
        for key in ("fromEntity", "toEntity"):
            ref = edge.get(key)
            if not isinstance(ref, dict) or not ref.get("id") or not ref.get("type"):
                raise ApiError(400, f"[edge.{key}] must have an id and a type")
            ends.append(self._lineage_end(ref["type"], ref["id"]))
        source, target = ends
        details = copy.deepcopy(edge.get("lineageDetails") or {})
        for column_lineage in details.get("columnsLineage") or ():
            for name in column_lineage.get("fromColumns") or ():
                _check_lineage_column(source, name)
            _check_lineage_column(target, column_lineage.get("toColumn"))
        now = _now()
        details.update(createdAt=now, createdBy=caller.name, updatedAt=now, updatedBy=caller.name)
        details.setdefault("source", "Manual")  # entityLineage.json: source defaults to Manual
        self.lineage[(source["id"], target["id"])] = details

    def _entity_lineage(self, entity_type: str, entity: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        depths = []
        for name in ("upstreamDepth", "downstreamDepth"):
            try:
                depth = int(query.get(name, "1"))
            except ValueError:
                raise ApiError(400, f"query param {name} must be a number") from None
            if not 0 <= depth <= 3:
                raise ApiError(400, f"query param {name} must be between 0 and 3")
            depths.append(depth)
        nodes: dict[str, dict[str, Any]] = {}
        upstream = self._walk(entity["id"], depths[0], 0, nodes)
        downstream = self._walk(entity["id"], depths[1], 1, nodes)
        nodes.pop(entity["id"], None)
        return {"entity": _ref(entity_type, entity), "nodes": list(nodes.values()),
                "upstreamEdges": upstream, "downstreamEdges": downstream}

    def _walk(self, start: str, depth: int, side: int, nodes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Edges ``depth`` hops up (side 0) or down (side 1); ends that are soft-deleted are left out."""
        edges: list[dict[str, Any]] = []
        frontier = {start}
        for _ in range(depth):
            following: set[str] = set()
            for (from_id, to_id), details in sorted(self.lineage.items()):
                here, there = (to_id, from_id) if side == 0 else (from_id, to_id)
                if here not in frontier:
                    continue
                other = self._live_table(there)
                if other is None:
                    continue
                nodes[there] = _ref("table", other)
                edges.append({"fromEntity": from_id, "toEntity": to_id, "lineageDetails": copy.deepcopy(details)})
                following.add(there)
            frontier = following
        return edges

    def _live_table(self, entity_id: str) -> dict[str, Any] | None:
        found = self._by_id.get(entity_id)
        entity = self.entities["table"].get(found[1]) if found and found[0] == "table" else None
        return None if entity is None or entity.get("deleted") else entity

    def _tag_lookup(self, fqn: str) -> dict[str, Any] | None:
        tag = self.entities["tag"].get(fqn)
        return None if tag is None or tag.get("deleted") else tag

    def _table_lookup(self, fqn: str) -> dict[str, Any] | None:
        return self.entities["table"].get(fqn)


# -- helpers ------------------------------------------------------------------------------------


def _handler_for(standin: OpenMetadataStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, result = standin.handle(self.command, self.path, headers, body)
            data = json.dumps(result).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        do_GET = do_PUT = do_DELETE = do_POST = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def _etag(entity: dict[str, Any]) -> str:
    """EntityETag.generateETag: the first 16 hex digits of SHA-256 over the serialized entity, quoted."""
    return '"' + hashlib.sha256(json.dumps(entity, sort_keys=True).encode()).hexdigest()[:16] + '"'


def _validate_etag(if_match: str, entity: dict[str, Any]) -> None:
    """EntityETag.validateETag: ``*``, the strong ETag or the weak ``W/"<version>"`` match."""
    for given in (e.strip() for e in if_match.split(",")):
        if given in ("*", _etag(entity), f'W/"{entity["version"]!r}"'):
            return
    raise ApiError(412, f"The entity has been modified. Current ETag: {_etag(entity)}. "
                        "Please refresh and retry with the latest version.")


def _check_lineage_column(table: dict[str, Any], column_fqn: Any) -> None:
    """ColumnUtil.validateColumnFQN: the column FQN must be one of the table's columns (nested too)."""
    def names(columns: list[dict[str, Any]]) -> set[str]:
        out: set[str] = set()
        for column in columns:
            out.add(column["fullyQualifiedName"])
            out |= names(column.get("children") or [])
        return out

    if not isinstance(column_fqn, str) or column_fqn not in names(column_fqns(table.get("columns") or [],
                                                                              table["fullyQualifiedName"])):
        raise ApiError(400, f"Invalid column name {column_fqn}")


def _ref(kind: str, entity: dict[str, Any]) -> dict[str, Any]:
    return {"id": entity["id"], "type": kind, "name": entity["name"],
            "fullyQualifiedName": entity["fullyQualifiedName"], "deleted": bool(entity.get("deleted"))}


def _included(entity: dict[str, Any], include: str) -> bool:
    return include == "all" or (include == "deleted") == bool(entity.get("deleted"))


def _without_tags(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for column in columns:
        column = {k: v for k, v in column.items() if k != "tags"}
        if column.get("children"):
            column["children"] = _without_tags(column["children"])
        out.append(column)
    return out


def _check_column_tags(column: dict[str, Any], check: Callable[[list[dict[str, Any]] | None], list[dict[str, Any]]]) -> None:
    column["tags"] = check(column.get("tags"))
    for child in column.get("children") or ():
        _check_column_tags(child, check)


def _jsonify(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """FieldChange values are JSON text for lists and objects (JsonUtils.pojoToJson)."""
    out = []
    for entry in entries:
        entry = dict(entry)
        for key in ("oldValue", "newValue"):
            if key in entry and isinstance(entry[key], (list, dict)):
                entry[key] = json.dumps(entry[key])
        out.append(entry)
    return out


def _encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def _decode_cursor(value: str) -> str:
    try:
        return base64.urlsafe_b64decode(value.encode()).decode()
    except ValueError as exc:
        raise ApiError(400, f"Invalid cursor {value}") from exc


def _now() -> int:
    return int(time.time() * 1000)

