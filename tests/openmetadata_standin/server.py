"""An in-memory stand-in of the OpenMetadata REST API v1, for tests.

Implements exactly the endpoints :class:`~airflow_provider_omingest.catalog.openmetadata.OpenMetadataCatalog`
uses, the way OpenMetadata behaves:

- ``PUT /api/v1/services/databaseServices``, ``/databases``, ``/databaseSchemas``, ``/tables``:
  create-or-update by fully qualified name. Every body is validated against OpenMetadata's own
  ``create*.json`` JSON Schema (400 with the validation error otherwise), then against the
  server rules the schemas do not express (the parent must exist; an ``ARRAY`` column needs
  ``arrayDataType``; ``CHAR``/``VARCHAR``/``BINARY``/``VARBINARY`` need ``dataLength``;
  ``extension`` keys must be custom properties of the entity type). A ``PUT`` of a
  soft-deleted entity restores it. No change → no new version; a change → version + 0.1,
  or the next major version for a backward-incompatible column change.
- ``GET /api/v1/{tables,databaseSchemas}?{databaseSchema,database}=…&include=&fields=&limit=&after=``:
  paged lists, ``include`` = ``non-deleted`` (default), ``deleted`` or ``all``, fields gated by
  ``fields`` (an unknown field is a 400).
- ``GET /api/v1/{kind}/name/{fqn}``, ``GET /api/v1/{kind}/{id}/versions``,
  ``DELETE /api/v1/{kind}/name/{fqn}?hardDelete=&recursive=`` (a container with live children is
  refused unless ``recursive``).
- ``GET /api/v1/metadata/types/name/{name}``, ``PUT /api/v1/metadata/types/{id}`` (custom properties).
- Every request needs ``Authorization: Bearer <token>`` (401 otherwise; 403 for the forbidden token).
- :meth:`OpenMetadataStandIn.inject` makes the next matching requests fail (429/5xx, optional
  ``Retry-After``) or stall (to test timeouts).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

from airflow_provider_omingest.models.fqn import build_fqn, split_fqn

__all__ = ["OpenMetadataStandIn", "RequestRecord"]

BASE = "https://open-metadata.org/schema/"
BOT = "omingest-bot"

#: kind → (collection path, create-request schema, parent field, parent kind, entity type name)
KINDS: dict[str, tuple[str, str, str | None, str | None, str]] = {
    "databaseService": ("services/databaseServices", "api/services/createDatabaseService.json", None, None,
                        "databaseService"),
    "database": ("databases", "api/data/createDatabase.json", "service", "databaseService", "database"),
    "databaseSchema": ("databaseSchemas", "api/data/createDatabaseSchema.json", "database", "database",
                       "databaseSchema"),
    "table": ("tables", "api/data/createTable.json", "databaseSchema", "databaseSchema", "table"),
}
_BY_PATH = {v[0]: k for k, v in KINDS.items()}
_CHILD = {"databaseService": "database", "database": "databaseSchema", "databaseSchema": "table"}
#: Fields returned only when asked for with ``fields=`` (the others always are).
GATED = {
    "table": {"columns", "tableConstraints", "tablePartition", "tags", "schemaDefinition", "extension",
              "sourceHash", "owners", "dataProducts", "domain", "lifeCycle"},
    "databaseSchema": {"tags", "sourceHash", "owners", "extension", "dataProducts", "domain", "lifeCycle"},
    "database": {"tags", "sourceHash", "owners", "extension", "dataProducts", "domain", "lifeCycle"},
    "databaseService": {"tags", "owners", "dataProducts", "domain"},
}
_LENGTH_TYPES = {"CHAR", "VARCHAR", "BINARY", "VARBINARY"}
_ROUTE = re.compile(
    r"^/api/v1/(?P<coll>services/databaseServices|databases|databaseSchemas|tables)"
    r"(?:/name/(?P<fqn>[^/]+)|/(?P<id>[0-9a-f-]{36})/versions)?$"
)
_TYPE_ROUTE = re.compile(r"^/api/v1/metadata/types/(?:name/(?P<name>[^/]+)|(?P<id>[0-9a-f-]{36}))$")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class RequestRecord:
    """One request the stand-in answered."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    body: Any = None


@dataclass
class _Fault:
    status: int
    times: int
    method: str | None
    path_contains: str | None
    retry_after: str | None
    delay: float

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


@dataclass
class _Store:
    entities: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {k: {} for k in KINDS})
    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    custom_properties: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def build_validators(spec: Path) -> dict[str, jsonschema.Draft7Validator]:
    """Return a validator per entity kind for its ``create*.json`` request schema, resolving ``$ref`` from ``spec``."""

    def retrieve(uri: str) -> Resource:
        path = spec / uri[len(BASE):].split("#", 1)[0] if uri.startswith(BASE) else None
        if path is None or not path.is_file():
            raise NoSuchResource(ref=uri)
        return Resource.from_contents(json.loads(path.read_text(encoding="utf-8")), default_specification=DRAFT7)

    registry = Registry(retrieve=retrieve)
    validators = {}
    for kind, (_, schema_path, *_rest) in KINDS.items():
        schema = json.loads((spec / schema_path).read_text(encoding="utf-8"))
        validators[kind] = jsonschema.Draft7Validator(schema, registry=registry)
    return validators


class OpenMetadataStandIn:
    """The stand-in server; :meth:`start` runs it in a thread on 127.0.0.1 and a free port.

    :param spec: Folder of OpenMetadata's JSON Schemas.
    :param token: The bearer token that is accepted.
    :param forbidden_token: A token that authenticates but is refused every action (403).
    """

    def __init__(self, spec: Path, token: str = "test-jwt-token", forbidden_token: str | None = None) -> None:
        self.validators = build_validators(spec)
        self.token = token
        self.forbidden_token = forbidden_token
        self.store = _Store()
        self.requests: list[RequestRecord] = []
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._types = {"table": str(uuid.uuid4()), "string": str(uuid.uuid4())}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> OpenMetadataStandIn:
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
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
    ) -> None:
        """Make the next ``times`` matching requests fail with ``status`` (after ``delay`` seconds).

        With ``status=0`` the request is only delayed, then answered normally.
        """
        with self._lock:
            self._faults.append(_Fault(status, times, method, path_contains, retry_after, delay))

    def count(self, method: str, path_prefix: str = "", status: int | None = None) -> int:
        """Count answered requests by method, path prefix and status."""
        with self._lock:
            return sum(
                1 for r in self.requests
                if r.method == method and r.path.startswith(path_prefix) and (status is None or r.status == status)
            )

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def entity(self, kind: str, fqn: str) -> dict[str, Any] | None:
        """Return a stored entity (a copy), deleted ones too."""
        with self._lock:
            found = self.store.entities[kind].get(fqn)
            return copy.deepcopy(found) if found else None

    def entities(self, kind: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(e) for e in self.store.entities[kind].values()
                    if include_deleted or not e.get("deleted")]

    # -- request handling -------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        split = urlsplit(raw_path)
        path = split.path
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        payload: Any = None
        fault = self._take_fault(method, path)
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status:
                extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                return self._log(method, path, query, fault.status, extra,
                                 {"code": fault.status, "message": f"injected {fault.status}"})
        auth = headers.get("authorization", "")
        if auth not in (f"Bearer {self.token}", f"Bearer {self.forbidden_token}") or not auth[7:]:
            return self._log(method, path, query, 401, {}, {"code": 401, "message": "Not Authorized! Token not valid"})
        if self.forbidden_token and auth == f"Bearer {self.forbidden_token}":
            return self._log(method, path, query, 403, {},
                             {"code": 403, "message": f"Principal: CatalogPrincipal{{name='{BOT}'}} operations "
                                                      "[EditAll] not allowed"})
        try:
            if body:
                try:
                    payload = json.loads(body)
                except ValueError as exc:
                    raise ApiError(400, f"Unable to process JSON: {exc}") from exc
            with self._lock:
                status, result = self._route(method, path, query, payload)
        except ApiError as exc:
            return self._log(method, path, query, exc.status, {}, {"code": exc.status, "message": exc.message},
                             payload)
        return self._log(method, path, query, status, {}, result, payload)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def _log(self, method: str, path: str, query: dict[str, str], status: int, headers: dict[str, str],
             result: Any, payload: Any = None) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.requests.append(RequestRecord(method, path, query, status, payload))
        return status, headers, result

    def _route(self, method: str, path: str, query: dict[str, str], payload: Any) -> tuple[int, Any]:
        match = _TYPE_ROUTE.match(path)
        if match:
            return self._types_endpoint(method, match, payload)
        match = _ROUTE.match(path)
        if not match:
            raise ApiError(404, f"No endpoint {method} {path}")
        kind = _BY_PATH[match["coll"]]
        if match["fqn"] is not None:
            fqn = unquote(match["fqn"])
            if method == "GET":
                entity = self._find(kind, fqn, query.get("include", "non-deleted"))
                return 200, self._project(kind, entity, query.get("fields", ""))
            if method == "DELETE":
                return 200, self._delete(kind, fqn, query.get("hardDelete") == "true",
                                         query.get("recursive") == "true")
        elif match["id"] is not None and method == "GET":
            versions = self.store.versions.get(match["id"])
            if versions is None:
                raise ApiError(404, f"{kind} instance for {match['id']} not found")
            return 200, {"entityType": KINDS[kind][4], "versions": [json.dumps(v) for v in reversed(versions)]}
        elif method == "PUT":
            return self._put(kind, payload)
        elif method == "GET":
            return 200, self._list(kind, query)
        raise ApiError(405, f"Method {method} not allowed on {path}")

    # -- endpoints --------------------------------------------------------------------------

    def _types_endpoint(self, method: str, match: re.Match[str], payload: Any) -> tuple[int, Any]:
        names = {v: k for k, v in self._types.items()}
        name = match["name"] or names.get(match["id"] or "")
        if name not in self._types:
            raise ApiError(404, f"type instance for {match['name'] or match['id']} not found")
        if method == "GET":
            return 200, {"id": self._types[name], "name": name, "fullyQualifiedName": name,
                         "customProperties": copy.deepcopy(self.store.custom_properties.get(name, []))}
        if method == "PUT" and match["id"]:
            if not isinstance(payload, dict) or not payload.get("name") or (payload.get("propertyType") or {}).get(
                    "id") not in self._types.values():
                raise ApiError(400, "customProperty needs name and propertyType {id, type}")
            props = self.store.custom_properties.setdefault(name, [])
            props[:] = [p for p in props if p["name"] != payload["name"]] + [copy.deepcopy(payload)]
            return 200, {"id": self._types[name], "name": name, "customProperties": copy.deepcopy(props)}
        raise ApiError(405, "not allowed")

    def _put(self, kind: str, payload: Any) -> tuple[int, Any]:
        errors = sorted(self.validators[kind].iter_errors(payload), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "<root>"
            raise ApiError(400, f"{KINDS[kind][1]}: [{where}] {errors[0].message}"
                                + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""))
        self._server_rules(kind, payload)
        _, _, parent_field, parent_kind, _ = KINDS[kind]
        refs: dict[str, Any] = {}
        if parent_field:
            assert parent_kind is not None
            parent = self.store.entities[parent_kind].get(payload[parent_field])
            if parent is None:
                raise ApiError(404, f"{parent_kind} instance for {payload[parent_field]} not found")
            fqn = build_fqn(*split_fqn(parent["fullyQualifiedName"]), payload["name"])
            refs = {**parent.get("_refs", {}), parent_field: _ref(parent_kind, parent)}
        else:
            fqn = build_fqn(payload["name"])
        content = {k: v for k, v in payload.items() if k != parent_field}
        if kind == "table":
            content["columns"] = _with_column_fqns(content["columns"], fqn)
        existing = self.store.entities[kind].get(fqn)
        now = int(time.time() * 1000)
        if existing is None:
            entity = {"id": str(uuid.uuid4()), "fullyQualifiedName": fqn, "version": 0.1, "updatedAt": now,
                      "updatedBy": BOT, "deleted": False, "href": f"http://standin/api/v1/{KINDS[kind][0]}",
                      **content, **{k: v for k, v in refs.items()}, "_refs": refs}
            if kind == "table":
                entity.setdefault("tableType", "Regular")
            self.store.entities[kind][fqn] = entity
            self.store.versions[entity["id"]] = [_public(entity)]
            return 201, _public(entity)
        old = {k: v for k, v in existing.items() if k in _content_keys(kind) or k in content}
        new = dict(content)
        if kind == "table":
            new.setdefault("tableType", "Regular")
        changed = [k for k in set(old) | set(new) if old.get(k) != new.get(k)]
        if not changed and not existing["deleted"]:
            return 200, _public(existing)
        for key in _content_keys(kind):
            existing.pop(key, None)
        existing.update(new)
        previous = existing["version"]
        major = kind == "table" and _incompatible(old.get("columns") or [], new.get("columns") or [])
        existing["version"] = float(int(previous) + 1) if major else round(previous + 0.1, 1)
        existing["changeDescription"] = {
            "fieldsAdded": [], "fieldsDeleted": [], "previousVersion": previous,
            "fieldsUpdated": [{"name": k} for k in sorted(changed)] + (
                [{"name": "deleted", "oldValue": True, "newValue": False}] if existing["deleted"] else []),
        }
        existing["deleted"] = False
        existing["updatedAt"] = now
        existing["updatedBy"] = BOT
        self.store.versions[existing["id"]].append(_public(existing))
        return 200, _public(existing)

    def _server_rules(self, kind: str, payload: dict[str, Any]) -> None:
        """Checks OpenMetadata's server makes beyond the JSON Schema."""
        if kind == "table":
            for column in _walk(payload["columns"]):
                if column["dataType"] == "ARRAY" and not column.get("arrayDataType"):
                    raise ApiError(400, "For column data type array, arrayDataType must not be null")
                if column["dataType"] in _LENGTH_TYPES and column.get("dataLength") is None:
                    raise ApiError(400, "For column data types char, varchar, binary, varbinary dataLength "
                                        "must not be null")
        extension = payload.get("extension")
        if extension is not None:
            if not isinstance(extension, dict):
                raise ApiError(400, "extension must be an object")
            known = {p["name"] for p in self.store.custom_properties.get(KINDS[kind][4], [])}
            for key, value in extension.items():
                if key not in known:
                    raise ApiError(400, f"Unknown custom field {key}")
                if not isinstance(value, str):
                    raise ApiError(400, f"Custom field {key} has invalid JSON [string expected]")

    def _find(self, kind: str, fqn: str, include: str) -> dict[str, Any]:
        entity = self.store.entities[kind].get(fqn)
        if entity is None or not _included(entity, include):
            raise ApiError(404, f"{KINDS[kind][4]} instance for {fqn} not found")
        return entity

    def _list(self, kind: str, query: dict[str, str]) -> dict[str, Any]:
        _, _, parent_field, _, _ = KINDS[kind]
        include = query.get("include", "non-deleted")
        if include not in ("all", "deleted", "non-deleted"):
            raise ApiError(400, "query param include must be one of [all, deleted, non-deleted]")
        try:
            limit = int(query.get("limit", "10"))
        except ValueError as exc:
            raise ApiError(400, "query param limit must be a number") from exc
        if not 0 <= limit <= 1_000_000:
            raise ApiError(400, "query param limit must be between 0 and 1000000")
        parent = query.get(parent_field or "")
        rows = sorted(
            (e for e in self.store.entities[kind].values()
             if _included(e, include) and (parent is None or e["_refs"][parent_field]["fullyQualifiedName"] == parent)),
            key=lambda e: e["fullyQualifiedName"],
        )
        after = query.get("after")
        if after:
            start = base64.urlsafe_b64decode(after.encode()).decode()
            rows = [e for e in rows if e["fullyQualifiedName"] > start]
        page = rows[:limit]
        paging: dict[str, Any] = {"total": len(rows)}
        if len(rows) > limit and page:
            paging["after"] = base64.urlsafe_b64encode(page[-1]["fullyQualifiedName"].encode()).decode()
        fields = query.get("fields", "")
        return {"data": [self._project(kind, e, fields) for e in page], "paging": paging}

    def _project(self, kind: str, entity: dict[str, Any], fields: str) -> dict[str, Any]:
        wanted = {f.strip() for f in fields.split(",") if f.strip()}
        unknown = wanted - GATED[kind]
        if unknown:
            raise ApiError(400, f"Invalid field name {min(unknown)}")
        return {k: copy.deepcopy(v) for k, v in _public(entity).items() if k not in GATED[kind] or k in wanted}

    def _delete(self, kind: str, fqn: str, hard: bool, recursive: bool) -> dict[str, Any]:
        entity = self._find(kind, fqn, "all" if hard else "non-deleted")
        children = self._children(kind, fqn)
        blocking = children if hard else [c for c in children if not c[1].get("deleted")]
        if blocking and not recursive:
            raise ApiError(400, f"Entity {KINDS[kind][4]} is not empty")
        for child_kind, child in blocking:
            self._delete(child_kind, child["fullyQualifiedName"], hard, True)
        if hard:
            del self.store.entities[kind][fqn]
            self.store.versions.pop(entity["id"], None)
            return _public(entity)
        previous = entity["version"]
        entity["deleted"] = True
        entity["version"] = round(previous + 0.1, 1)
        entity["updatedAt"] = int(time.time() * 1000)
        entity["changeDescription"] = {"fieldsAdded": [], "fieldsDeleted": [], "previousVersion": previous,
                                       "fieldsUpdated": [{"name": "deleted", "oldValue": False, "newValue": True}]}
        self.store.versions[entity["id"]].append(_public(entity))
        return _public(entity)

    def _children(self, kind: str, fqn: str) -> list[tuple[str, dict[str, Any]]]:
        child_kind = _CHILD.get(kind)
        if child_kind is None:
            return []
        parent_field = KINDS[child_kind][2]
        return [(child_kind, e) for e in self.store.entities[child_kind].values()
                if e["_refs"][parent_field]["fullyQualifiedName"] == fqn]


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


def _content_keys(kind: str) -> set[str]:
    """Fields a create request sets (replaced by a PUT); ``kind`` is the entity kind."""
    return {"displayName", "description", "tableType", "columns", "tableConstraints", "tablePartition",
            "schemaDefinition", "tags", "extension", "sourceHash", "owners", "serviceType", "connection",
            "retentionPeriod", "sourceUrl", "domain", "dataProducts", "lifeCycle", "fileFormat", "locationPath",
            "dataModel", "tableProfilerConfig", "default", "ingestionRunner"}


def _public(entity: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy({k: v for k, v in entity.items() if not k.startswith("_")})


def _ref(kind: str, entity: dict[str, Any]) -> dict[str, Any]:
    return {"id": entity["id"], "type": KINDS[kind][4], "name": entity["name"],
            "fullyQualifiedName": entity["fullyQualifiedName"], "deleted": entity.get("deleted", False)}


def _included(entity: dict[str, Any], include: str) -> bool:
    return include == "all" or (include == "deleted") == bool(entity.get("deleted"))


def _walk(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for column in columns:
        out.append(column)
        out.extend(_walk(column.get("children") or []))
    return out


def _with_column_fqns(columns: list[dict[str, Any]], parent_fqn: str) -> list[dict[str, Any]]:
    out = []
    for column in columns:
        fqn = build_fqn(*split_fqn(parent_fqn), column["name"])
        column = {**column, "fullyQualifiedName": fqn}
        if column.get("children"):
            column["children"] = _with_column_fqns(column["children"], fqn)
        out.append(column)
    return out


def _incompatible(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    """A removed column or a changed data type is a backward-incompatible (major) change."""
    new_types = {c["name"]: c["dataType"] for c in new}
    return any(c["name"] not in new_types or new_types[c["name"]] != c["dataType"] for c in old)
