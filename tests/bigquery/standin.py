"""A local REST stand-in for the BigQuery v2 and Cloud Logging v2 APIs, run in a thread.

It keeps projects, datasets and tables as BigQuery stores them (API-shaped schema fields,
partitioning, clustering, options) and renders, per query, the ``INFORMATION_SCHEMA`` views and
``__TABLES__`` the way BigQuery documents them (GoogleSQL type strings, option literals, DDL).
Queries are executed by DuckDB after a few rewrites (backtick paths -> temp tables, ``@p`` ->
``$p``, ``IN UNNEST`` -> ``IN (SELECT UNNEST)``), so a wrong column or join in the source's SQL
fails here too. Table changes made through the stand-in write Cloud Logging audit entries
(``BigQueryAuditMetadata``) as BigQuery does, for API calls or for query jobs (DDL sent through
``jobs.insert`` or ``jobs.query``), and the system event of an expired table. The Logging API
evaluates the filter it is sent (:mod:`tests.bigquery.logging_query`).

Audit entries follow BigQuery's audit log reference
(https://cloud.google.com/bigquery/docs/reference/auditlogs) and ``BigQueryAuditMetadata``
(https://cloud.google.com/bigquery/docs/reference/auditlogs/rest/Shared.Types/BigQueryAuditMetadata):
method names ``google.cloud.bigquery.v2.{TableService,DatasetService,JobService}.*`` and
``InternalTableExpired``; ``resourceName`` ``projects/p/datasets/d[/tables/t]``; metadata
``tableCreation``/``tableChange``/``tableDeletion``/``datasetCreation``/``datasetChange``/
``datasetDeletion`` with their documented reasons (``TABLE_INSERT_REQUEST``, ``QUERY``,
``EXPIRED``, ``UPDATE``, ``SET_IAM_POLICY``, ...). API calls and jobs go to the activity log, table
expirations to the system event log.

Every request is recorded in :attr:`BigQueryStandin.requests` so tests can count round trips.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import duckdb

from tests.bigquery.logging_query import FilterError, compile_filter

__all__ = ["BigQueryStandin", "StandinTable", "field_"]

_LEGACY = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "RECORD": "STRUCT"}
_TYPE_KINDS = {
    "TABLE": "BASE TABLE", "VIEW": "VIEW", "MATERIALIZED_VIEW": "MATERIALIZED VIEW",
    "EXTERNAL": "EXTERNAL", "SNAPSHOT": "SNAPSHOT", "CLONE": "CLONE",
}
_META_TYPES = {"TABLE": 1, "VIEW": 2, "EXTERNAL": 3, "MATERIALIZED_VIEW": 4, "SNAPSHOT": 1, "CLONE": 1}

_SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "TABLES": [
        ("table_catalog", "VARCHAR"), ("table_schema", "VARCHAR"), ("table_name", "VARCHAR"),
        ("table_type", "VARCHAR"), ("is_insertable_into", "VARCHAR"), ("is_typed", "VARCHAR"),
        ("creation_time", "TIMESTAMPTZ"), ("base_table_catalog", "VARCHAR"), ("base_table_schema", "VARCHAR"),
        ("base_table_name", "VARCHAR"), ("snapshot_time_ms", "TIMESTAMPTZ"), ("ddl", "VARCHAR"),
        ("default_collation_name", "VARCHAR"), ("upsert_stream_apply_watermark", "TIMESTAMPTZ"),
    ],
    "TABLE_OPTIONS": [
        ("table_catalog", "VARCHAR"), ("table_schema", "VARCHAR"), ("table_name", "VARCHAR"),
        ("option_name", "VARCHAR"), ("option_type", "VARCHAR"), ("option_value", "VARCHAR"),
    ],
    "COLUMNS": [
        ("table_catalog", "VARCHAR"), ("table_schema", "VARCHAR"), ("table_name", "VARCHAR"),
        ("column_name", "VARCHAR"), ("ordinal_position", "BIGINT"), ("is_nullable", "VARCHAR"),
        ("data_type", "VARCHAR"), ("is_generated", "VARCHAR"), ("generation_expression", "VARCHAR"),
        ("is_stored", "VARCHAR"), ("is_hidden", "VARCHAR"), ("is_updatable", "VARCHAR"),
        ("is_system_defined", "VARCHAR"), ("is_partitioning_column", "VARCHAR"),
        ("clustering_ordinal_position", "BIGINT"), ("collation_name", "VARCHAR"), ("column_default", "VARCHAR"),
        ("rounding_mode", "VARCHAR"),
    ],
    "COLUMN_FIELD_PATHS": [
        ("table_catalog", "VARCHAR"), ("table_schema", "VARCHAR"), ("table_name", "VARCHAR"),
        ("column_name", "VARCHAR"), ("field_path", "VARCHAR"), ("data_type", "VARCHAR"),
        ("description", "VARCHAR"), ("collation_name", "VARCHAR"), ("rounding_mode", "VARCHAR"),
        ("policy_tags", "VARCHAR[]"),
    ],
    "VIEWS": [
        ("table_catalog", "VARCHAR"), ("table_schema", "VARCHAR"), ("table_name", "VARCHAR"),
        ("view_definition", "VARCHAR"), ("check_option", "VARCHAR"), ("use_standard_sql", "VARCHAR"),
    ],
    "__TABLES__": [
        ("project_id", "VARCHAR"), ("dataset_id", "VARCHAR"), ("table_id", "VARCHAR"),
        ("creation_time", "BIGINT"), ("last_modified_time", "BIGINT"), ("row_count", "BIGINT"),
        ("size_bytes", "BIGINT"), ("type", "BIGINT"),
    ],
}

_BQ_RESULT_TYPES = {
    "VARCHAR": "STRING", "BIGINT": "INTEGER", "INTEGER": "INTEGER", "HUGEINT": "INTEGER", "DOUBLE": "FLOAT",
    "BOOLEAN": "BOOLEAN", "TIMESTAMP WITH TIME ZONE": "TIMESTAMP", "TIMESTAMP": "DATETIME", "DATE": "DATE",
}

# A path of identifiers ending in INFORMATION_SCHEMA.<VIEW> or __TABLES__.
_REF = re.compile(
    r"((?:`[^`]+`|[A-Za-z_][\w-]*)(?:\.(?:`[^`]+`|[A-Za-z_][\w-]*))*)\.(?:INFORMATION_SCHEMA\.(\w+)|`?(__TABLES__)`?)",
    re.IGNORECASE,
)


def field_(name: str, type_: str = "STRING", mode: str = "NULLABLE", **extra: Any) -> dict[str, Any]:
    """Return an API schema field, e.g. ``field_("id", "INTEGER", "REQUIRED", description="key")``."""
    out: dict[str, Any] = {"name": name, "type": type_, "mode": mode}
    out.update(extra)
    return out


@dataclass
class StandinTable:
    """A table as BigQuery stores it (the shape of the ``tables`` REST resource)."""

    name: str
    fields: list[dict[str, Any]] = field(default_factory=list)
    kind: str = "TABLE"
    description: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    view_query: str | None = None
    #: A view written in legacy SQL (``view.useLegacySql``): ``VIEWS.use_standard_sql`` is ``NO``.
    use_legacy_sql: bool = False
    time_partitioning: dict[str, Any] | None = None
    range_partitioning: dict[str, Any] | None = None
    require_partition_filter: bool = False
    clustering: list[str] = field(default_factory=list)
    external: dict[str, Any] | None = None
    base_table: tuple[str, str, str] | None = None
    snapshot_time_ms: int | None = None
    enable_refresh: bool | None = None
    num_rows: int = 0
    creation_time_ms: int = 0
    last_modified_time_ms: int = 0


@dataclass
class _Dataset:
    name: str
    location: str = "US"
    description: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    tables: dict[str, StandinTable] = field(default_factory=dict)
    creation_time_ms: int = 0


class ApiError(Exception):
    """An error response: HTTP status, gRPC-style status and BigQuery reason."""

    def __init__(self, code: int, status: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.reason, self.message = code, status, reason, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status,
                          "errors": [{"message": self.message, "domain": "global", "reason": self.reason}]}}


class BigQueryStandin:
    """The stand-in's state and HTTP server.

    :param query_page_rows: rows per query result page (small values force pagination).
    :param logging_page_cap: most entries per Logging page, whatever the client asks.
    """

    def __init__(self, *, query_page_rows: int = 10_000, logging_page_cap: int = 1000) -> None:
        self.projects: dict[str, dict[str, _Dataset]] = {}
        self.audit_entries: list[dict[str, Any]] = []
        #: The Logging filters received, in order.
        self.filters: list[str] = []
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.denied_projects: set[str] = set()
        self.denied_datasets: set[tuple[str, str]] = set()
        self.logging_denied: set[str] = set()
        self.query_page_rows = query_page_rows
        self.logging_page_cap = logging_page_cap
        self.fail_next: list[ApiError] = []
        self._results: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._clock_ms = int(time.time() * 1000)
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> BigQueryStandin:
        """Serve on a free loopback port in a daemon thread; return once the port accepts."""
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="bq-standin", daemon=True)
        self._thread.start()
        _wait_for_port(self._server.server_address[1])
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> BigQueryStandin:  # noqa: PYI034 - Python 3.10 has no typing.Self
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ clock and requests

    def tick(self, ms: int = 1000) -> int:
        """Advance the stand-in clock and return it (milliseconds since the epoch)."""
        with self._lock:
            self._clock_ms = max(self._clock_ms + ms, int(time.time() * 1000))
            return self._clock_ms

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock_ms / 1000, tz=timezone.utc)

    def reset_requests(self) -> None:
        self.requests.clear()

    def count(self, kind: str | None = None) -> int:
        """Return the number of recorded requests (of one kind: 'query', 'entries', 'get_dataset', ...)."""
        return sum(1 for k, _, _ in self.requests if kind is None or k == kind)

    # ------------------------------------------------------------------ state changes (with audit entries)

    def create_dataset(self, project: str, name: str, *, location: str = "US", description: str | None = None,
                       labels: dict[str, str] | None = None, audit: bool = True) -> None:
        with self._lock:
            ts = self.tick()
            self.projects.setdefault(project, {})[name] = _Dataset(name, location, description, dict(labels or {}),
                                                                   creation_time_ms=ts)
            if audit:
                self._audit(project, name, None, "google.cloud.bigquery.v2.DatasetService.InsertDataset",
                            {"datasetCreation": {"dataset": {"datasetName": f"projects/{project}/datasets/{name}"},
                                                 "reason": "CREATE"}}, ts)

    def delete_dataset(self, project: str, name: str) -> None:
        with self._lock:
            ts = self.tick()
            del self.projects[project][name]
            self._audit(project, name, None, "google.cloud.bigquery.v2.DatasetService.DeleteDataset",
                        {"datasetDeletion": {"reason": "DELETE"}}, ts)

    def alter_dataset(self, project: str, name: str, *, via: str = "api", **changes: Any) -> None:
        """Change a dataset's description or labels.

        ``via``: 'api' (datasets.update: UpdateDataset), 'patch' (datasets.patch: PatchDataset),
        'query' (``ALTER SCHEMA … SET OPTIONS`` through jobs.query), 'iam' (datasets.setIamPolicy:
        an access change, reason SET_IAM_POLICY, nothing about the metadata).
        """
        with self._lock:
            ts = self.tick()
            ds = self.projects[project][name]
            for key, value in changes.items():
                setattr(ds, key, value)
            method = {"api": "google.cloud.bigquery.v2.DatasetService.UpdateDataset",
                      "patch": "google.cloud.bigquery.v2.DatasetService.PatchDataset",
                      "iam": "google.cloud.bigquery.v2.DatasetService.SetIamPolicy",
                      "query": "google.cloud.bigquery.v2.JobService.Query"}[via]
            reason = {"api": "UPDATE", "patch": "UPDATE", "iam": "SET_IAM_POLICY", "query": "QUERY"}[via]
            self._audit(project, name, None, method, {"datasetChange": {
                "dataset": {"datasetName": f"projects/{project}/datasets/{name}"}, "reason": reason}}, ts)

    def expire_table(self, project: str, dataset: str, name: str) -> None:
        """Let a table expire (its expiration time, or its dataset's default, has passed).

        BigQuery deletes it and writes the system event ``InternalTableExpired`` with a
        ``tableDeletion`` of reason ``EXPIRED`` to the ``system_event`` log.
        """
        with self._lock:
            ts = self.tick()
            del self.projects[project][dataset].tables[name]
            self._audit(project, dataset, name, "InternalTableExpired", {"tableDeletion": {"reason": "EXPIRED"}},
                        ts, log="system_event", principal=None)

    def create_table(self, project: str, dataset: str, table: StandinTable, *, via: str = "api",
                     audit: bool = True) -> StandinTable:
        """Create (or replace) a table; ``via`` 'api' (tables.insert), 'query' (DDL through jobs.insert)
        or 'jobs.query' (DDL through jobs.query, as ``Client.query_and_wait()`` sends it)."""
        with self._lock:
            ts = self.tick()
            table.creation_time_ms = table.last_modified_time_ms = ts
            self.projects[project][dataset].tables[table.name] = table
            if audit:
                method = _method(via, "google.cloud.bigquery.v2.TableService.InsertTable")
                reason = "TABLE_INSERT_REQUEST" if via == "api" else "QUERY"
                self._audit(project, dataset, table.name, method, {"tableCreation": {
                    "table": self._audit_table(project, dataset, table), "reason": reason}}, ts)
            return table

    def alter_table(self, project: str, dataset: str, name: str, *, via: str = "api", **changes: Any) -> None:
        """Change attributes of a table (e.g. ``fields=...``, ``description=...``)."""
        with self._lock:
            ts = self.tick()
            table = self.projects[project][dataset].tables[name]
            for key, value in changes.items():
                setattr(table, key, value)
            table.last_modified_time_ms = ts
            method = _method(via, "google.cloud.bigquery.v2.TableService.PatchTable")
            reason = "TABLE_UPDATE_REQUEST" if via == "api" else "QUERY"
            self._audit(project, dataset, name, method, {"tableChange": {
                "table": self._audit_table(project, dataset, table), "truncated": False, "reason": reason}}, ts)

    def drop_table(self, project: str, dataset: str, name: str, *, via: str = "api") -> None:
        with self._lock:
            ts = self.tick()
            del self.projects[project][dataset].tables[name]
            method = _method(via, "google.cloud.bigquery.v2.TableService.DeleteTable")
            metadata: dict[str, Any] = {"tableDeletion": {"reason": "TABLE_DELETE_REQUEST" if via == "api"
                                                          else "QUERY"}}
            if via != "api":
                metadata["tableDeletion"]["jobName"] = f"projects/{project}/jobs/job_{next(self._ids)}"
            self._audit(project, dataset, name, method, metadata, ts)

    def add_data_read_entry(self, project: str, dataset: str, name: str) -> None:
        """Write an audit entry that is not a structural change (a data read by a query job)."""
        with self._lock:
            ts = self.tick()
            self._audit(project, dataset, name, "google.cloud.bigquery.v2.JobService.InsertJob",
                        {"tableDataRead": {"reason": "JOB", "jobName": f"projects/{project}/jobs/x"}}, ts)

    @staticmethod
    def _audit_table(project: str, dataset: str, table: StandinTable) -> dict[str, Any]:
        return {"tableName": f"projects/{project}/datasets/{dataset}/tables/{table.name}",
                "schemaJson": json.dumps({"fields": table.fields})}

    def _audit(self, project: str, dataset: str, table: str | None, method: str, metadata: dict[str, Any],
               ts_ms: int, *, log: str = "activity",
               principal: str | None = "etl@example.iam.gserviceaccount.com") -> None:
        resource = f"projects/{project}/datasets/{dataset}" + (f"/tables/{table}" if table else "")
        stamp = datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.audit_entries.append({
            "protoPayload": {
                "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                "status": {},
                "authenticationInfo": {"principalEmail": principal} if principal else {},
                "serviceName": "bigquery.googleapis.com",
                "methodName": method,
                "resourceName": resource,
                "metadata": {"@type": "type.googleapis.com/google.cloud.audit.BigQueryAuditMetadata", **metadata},
            },
            "insertId": uuid.uuid4().hex[:12],
            "resource": {"type": "bigquery_dataset", "labels": {"project_id": project, "dataset_id": dataset}},
            "timestamp": stamp,
            "severity": "NOTICE",
            "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2F{log}",
            "receiveTimestamp": stamp,
        })

    # ------------------------------------------------------------------ BigQuery REST

    def handle(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        """Dispatch one request; raise :class:`ApiError` for an error response."""
        with self._lock:
            if self.fail_next:
                raise self.fail_next.pop(0)
        if method == "POST" and path == "/v2/entries:list":
            self.requests.append(("entries", path, body))
            return self._list_entries(body)
        m = re.fullmatch(r"/bigquery/v2/projects/([^/]+)(/.*)?", path)
        if m is None:
            raise ApiError(404, "NOT_FOUND", "notFound", f"Not found: URL {path}")
        project, rest = m.group(1), m.group(2) or ""
        if method == "POST" and rest == "/queries":
            self.requests.append(("query", path, body))
            return self._jobs_query(project, body)
        if method == "GET" and (q := re.fullmatch(r"/queries/([^/]+)", rest)):
            self.requests.append(("get_query_results", path, query))
            return self._page(q.group(1), query)
        if method == "GET" and (j := re.fullmatch(r"/jobs/([^/]+)", rest)):
            self.requests.append(("get_job", path, query))
            return self._job(project, j.group(1))
        if method == "GET" and rest == "/datasets":
            self.requests.append(("list_datasets", path, query))
            return self._list_datasets(project, query)
        if method == "GET" and (d := re.fullmatch(r"/datasets/([^/]+)", rest)):
            self.requests.append(("get_dataset", path, query))
            return self._get_dataset(project, d.group(1))
        if method == "GET" and (t := re.fullmatch(r"/datasets/([^/]+)/tables", rest)):
            self.requests.append(("list_tables", path, query))
            return self._list_tables(project, t.group(1), query)
        raise ApiError(404, "NOT_FOUND", "notFound", f"Not found: URL {path}")

    def _project(self, project: str) -> dict[str, _Dataset]:
        if project in self.denied_projects:
            raise ApiError(403, "PERMISSION_DENIED", "accessDenied",
                           f"Access Denied: Project {project}: User does not have bigquery.datasets.get "
                           f"permission for project {project}.")
        if project not in self.projects:
            raise ApiError(404, "NOT_FOUND", "notFound", f"Not found: Project {project}")
        return self.projects[project]

    def _dataset(self, project: str, name: str) -> _Dataset:
        datasets = self._project(project)
        if (project, name) in self.denied_datasets:
            raise ApiError(403, "PERMISSION_DENIED", "accessDenied",
                           f"Access Denied: Dataset {project}:{name}: Permission bigquery.tables.list denied on "
                           f"dataset {project}:{name} (or it may not exist).")
        if name not in datasets:
            raise ApiError(404, "NOT_FOUND", "notFound", f"Not found: Dataset {project}:{name}")
        return datasets[name]

    def _list_datasets(self, project: str, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            names = sorted(n for n in self._project(project) if not n.startswith("_") or query.get("all") == "true")
            items = [{"kind": "bigquery#dataset", "id": f"{project}:{n}",
                      "datasetReference": {"datasetId": n, "projectId": project},
                      "labels": dict(self.projects[project][n].labels),
                      "location": self.projects[project][n].location} for n in names]
        return _paged(items, "datasets", query, {"kind": "bigquery#datasetList", "etag": "x"})

    def _get_dataset(self, project: str, name: str) -> dict[str, Any]:
        with self._lock:
            ds = self._dataset(project, name)
            out = {"kind": "bigquery#dataset", "id": f"{project}:{name}", "etag": "x",
                   "datasetReference": {"datasetId": name, "projectId": project},
                   "location": ds.location, "creationTime": str(ds.creation_time_ms),
                   "lastModifiedTime": str(ds.creation_time_ms), "type": "DEFAULT"}
            if ds.description:
                out["description"] = ds.description
            if ds.labels:
                out["labels"] = dict(ds.labels)
            return out

    def _list_tables(self, project: str, dataset: str, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            ds = self._dataset(project, dataset)
            items = [{"kind": "bigquery#table", "id": f"{project}:{dataset}.{t.name}",
                      "tableReference": {"projectId": project, "datasetId": dataset, "tableId": t.name},
                      "type": t.kind, "creationTime": str(t.creation_time_ms)}
                     for t in sorted(ds.tables.values(), key=lambda t: t.name)]
        out = _paged(items, "tables", query, {"kind": "bigquery#tableList", "etag": "x"})
        out["totalItems"] = len(items)
        return out

    # ------------------------------------------------------------------ queries

    def _jobs_query(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("useLegacySql"):
            raise ApiError(400, "INVALID_ARGUMENT", "invalid", "Legacy SQL is not supported by the stand-in")
        columns, rows = self.run_sql(project, body["query"], body.get("queryParameters") or [])
        job_id = f"job_{next(self._ids)}"
        location = body.get("location") or "US"
        result = {"schema": {"fields": columns}, "rows": rows, "project": project, "location": location,
                  "query": body["query"]}
        with self._lock:
            self._results[job_id] = result
        first = self._page(job_id, {"maxResults": str(body.get("maxResults") or self.query_page_rows)})
        first.update({"kind": "bigquery#queryResponse", "queryId": job_id, "cacheHit": False})
        return first

    def _page(self, job_id: str, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            result = self._results.get(job_id)
        if result is None:
            raise ApiError(404, "NOT_FOUND", "notFound", f"Not found: Job {job_id}")
        start = int(query.get("pageToken") or 0)
        size = min(int(query.get("maxResults") or self.query_page_rows), self.query_page_rows)
        rows = result["rows"][start : start + size] if size > 0 else []
        out = {
            "kind": "bigquery#getQueryResultsResponse", "etag": "x",
            "schema": result["schema"],
            "jobReference": {"projectId": result["project"], "jobId": job_id, "location": result["location"]},
            "totalRows": str(len(result["rows"])), "rows": rows, "jobComplete": True,
            "totalBytesProcessed": "0",
        }
        if size > 0 and start + size < len(result["rows"]):
            out["pageToken"] = str(start + size)
        return out

    def _job(self, project: str, job_id: str) -> dict[str, Any]:
        with self._lock:
            result = self._results.get(job_id)
        if result is None:
            raise ApiError(404, "NOT_FOUND", "notFound", f"Not found: Job {project}:{job_id}")
        now = str(self._clock_ms)
        return {
            "kind": "bigquery#job", "etag": "x", "id": f"{project}:{result['location']}.{job_id}",
            "jobReference": {"projectId": project, "jobId": job_id, "location": result["location"]},
            "configuration": {"jobType": "QUERY", "query": {"query": result["query"], "useLegacySql": False}},
            "status": {"state": "DONE"},
            "statistics": {"creationTime": now, "startTime": now, "endTime": now,
                           "query": {"statementType": "SELECT", "totalBytesProcessed": "0"}},
        }

    def run_sql(self, project: str, sql: str, parameters: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list]:
        """Execute GoogleSQL over rendered views with DuckDB; return API schema fields and rows."""
        con = duckdb.connect()
        try:
            rewritten = self._materialize(con, project, sql)
            rewritten = re.sub(r"IN\s+UNNEST\s*\(\s*@(\w+)\s*\)", r"IN (SELECT UNNEST($\1))", rewritten,
                               flags=re.IGNORECASE)
            rewritten = re.sub(r"@(\w+)", r"$\1", rewritten)
            clock = self.now().strftime("%Y-%m-%d %H:%M:%S.%f+00")
            rewritten = re.sub(r"CURRENT_TIMESTAMP\s*\(\s*\)", f"TIMESTAMPTZ '{clock}'", rewritten,
                               flags=re.IGNORECASE)
            params = {p["name"]: _param_value(p) for p in parameters}
            con.execute("SET TimeZone = 'UTC'")
            try:
                cursor = con.execute(rewritten, params) if params else con.execute(rewritten)
            except duckdb.Error as e:
                raise ApiError(400, "INVALID_ARGUMENT", "invalidQuery", f"Syntax error or bad query: {e}") from e
            description = cursor.description or []
            fields = [_result_field(name, str(type_)) for name, type_, *_ in description]
            # BigQuery returns a NULL ARRAY as an empty array: REPEATED cells are never null.
            repeated = [f["mode"] == "REPEATED" for f in fields]
            rows = [{"f": [_cell([] if v is None and rep else v) for v, rep in zip(row, repeated)]}
                    for row in cursor.fetchall()]
            return fields, rows
        finally:
            con.close()

    def _materialize(self, con: duckdb.DuckDBPyConnection, project: str, sql: str) -> str:
        created: dict[tuple[str, ...], str] = {}

        def replace(match: re.Match[str]) -> str:
            parts = [p for chunk in re.findall(r"`([^`]+)`|([A-Za-z_][\w-]*)", match.group(1))
                     for p in (chunk[0] or chunk[1]).split(".")]
            view = (match.group(2) or match.group(3)).upper()
            if len(parts) == 1:
                parts = [project, *parts]
            ref_project, scope = parts[-2], parts[-1]
            key = (ref_project, scope, view)
            if key not in created:
                created[key] = f"v_{len(created)}"
                self._create_view_table(con, created[key], ref_project, scope, view)
            return created[key]

        with self._lock:
            return _REF.sub(replace, sql)

    def _create_view_table(self, con: duckdb.DuckDBPyConnection, name: str, project: str, scope: str,
                           view: str) -> None:
        if view not in _SCHEMAS:
            raise ApiError(400, "INVALID_ARGUMENT", "invalidQuery", f"Unrecognized name: INFORMATION_SCHEMA.{view}")
        if scope.lower().startswith("region-"):
            location = scope[len("region-"):].upper()
            datasets = [ds for ds in self._project(project).values() if ds.location.upper() == location]
            if project in self.denied_projects:
                raise ApiError(403, "PERMISSION_DENIED", "accessDenied", "Access Denied")
        else:
            datasets = [self._dataset(project, scope)]
        columns = _SCHEMAS[view]
        con.execute(f"CREATE TEMP TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns)})")
        rows = [r for ds in datasets for r in _render(view, project, ds)]
        if rows:
            con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in columns)})", rows)

    # ------------------------------------------------------------------ logging

    def _list_entries(self, body: dict[str, Any]) -> dict[str, Any]:
        names = body.get("resourceNames") or []
        projects = [n.split("/", 1)[1] for n in names if n.startswith("projects/")]
        for project in projects:
            if project in self.logging_denied:
                raise ApiError(403, "PERMISSION_DENIED", "forbidden",
                               f"Permission 'logging.logEntries.list' denied on resource (or it may not exist): "
                               f"projects/{project}")
        filter_ = body.get("filter") or ""
        try:
            matches = compile_filter(filter_)
        except FilterError as e:
            raise ApiError(400, "INVALID_ARGUMENT", "badRequest", f"Invalid filter: {e}") from e
        self.filters.append(filter_)
        with self._lock:
            entries = [
                e for e in self.audit_entries
                if e["logName"].split("/")[1] in projects and matches(e)
            ]
        entries.sort(key=lambda e: e["timestamp"], reverse="desc" in (body.get("orderBy") or ""))
        start = int(body.get("pageToken") or 0)
        size = min(int(body.get("pageSize") or 50), self.logging_page_cap)
        out: dict[str, Any] = {"entries": entries[start : start + size]}
        if start + size < len(entries):
            out["nextPageToken"] = str(start + size)
        return out


# ---------------------------------------------------------------------- rendering of the views


def _render(view: str, project: str, ds: _Dataset) -> list[tuple]:
    tables = sorted(ds.tables.values(), key=lambda t: t.name)
    render = {
        "TABLES": _tables_rows, "TABLE_OPTIONS": _options_rows, "COLUMNS": _columns_rows,
        "COLUMN_FIELD_PATHS": _field_path_rows, "VIEWS": _views_rows, "__TABLES__": _meta_rows,
    }[view]
    return [row for t in tables for row in render(project, ds.name, t)]


def _ts(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _tables_rows(project: str, dataset: str, t: StandinTable) -> list[tuple]:
    base = t.base_table or (None, None, None)
    return [(project, dataset, t.name, _TYPE_KINDS[t.kind], "YES" if t.kind == "TABLE" else "NO", "NO",
             _ts(t.creation_time_ms), *base, _ts(t.snapshot_time_ms), render_ddl(project, dataset, t), None, None)]


def _options_rows(project: str, dataset: str, t: StandinTable) -> list[tuple]:
    opts: list[tuple[str, str, str]] = []
    if t.description is not None:
        opts.append(("description", "STRING", _literal(t.description)))
    if t.labels:
        opts.append(("labels", "ARRAY<STRUCT<STRING, STRING>>",
                     "[" + ", ".join(f"STRUCT({_literal(k)}, {_literal(v)})" for k, v in t.labels.items()) + "]"))
    if t.time_partitioning and t.time_partitioning.get("expirationMs"):
        days = int(t.time_partitioning["expirationMs"]) / 86_400_000
        opts.append(("partition_expiration_days", "FLOAT64", repr(float(days))))
    if t.require_partition_filter:
        opts.append(("require_partition_filter", "BOOL", "true"))
    if t.external:
        opts.append(("format", "STRING", _literal(t.external["sourceFormat"])))
        opts.append(("uris", "ARRAY<STRING>", "[" + ", ".join(_literal(u) for u in t.external["sourceUris"]) + "]"))
    if t.enable_refresh is not None:
        opts.append(("enable_refresh", "BOOL", "true" if t.enable_refresh else "false"))
    return [(project, dataset, t.name, n, ty, v) for n, ty, v in opts]


def type_string(f: dict[str, Any], with_mode: bool = True) -> str:
    """Render an API field's type as ``INFORMATION_SCHEMA.COLUMNS.data_type`` spells it."""
    base = _LEGACY.get(f["type"].upper(), f["type"].upper())
    if base == "STRUCT":
        inner = ", ".join(
            f"{_ident(sub['name'])} {type_string(sub)}"
            + (" NOT NULL" if (sub.get("mode") or "NULLABLE").upper() == "REQUIRED" else "")
            for sub in f.get("fields", [])
        )
        spelled = f"STRUCT<{inner}>"
    elif base in ("STRING", "BYTES") and f.get("maxLength"):
        spelled = f"{base}({f['maxLength']})"
    elif base in ("NUMERIC", "BIGNUMERIC") and f.get("precision"):
        spelled = f"{base}({f['precision']}, {f.get('scale', 0)})" if f.get("scale") is not None \
            else f"{base}({f['precision']})"
    elif base == "RANGE":
        spelled = f"RANGE<{f['rangeElementType']['type']}>"
    else:
        spelled = base
    if with_mode and (f.get("mode") or "NULLABLE").upper() == "REPEATED":
        return f"ARRAY<{spelled}>"
    return spelled


def _ident(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_]\w*", name) else f"`{name}`"


def _columns_rows(project: str, dataset: str, t: StandinTable) -> list[tuple]:
    part_field = (t.time_partitioning or {}).get("field") or (t.range_partitioning or {}).get("field")
    rows = []
    for i, f in enumerate(t.fields, start=1):
        mode = (f.get("mode") or "NULLABLE").upper()
        cluster = t.clustering.index(f["name"]) + 1 if f["name"] in t.clustering else None
        rows.append((project, dataset, t.name, f["name"], i, "NO" if mode == "REQUIRED" else "YES", type_string(f),
                     "NEVER", None, None, "NO", None, "NO", "YES" if f["name"] == part_field else "NO", cluster,
                     "NULL", f.get("defaultValueExpression") or "NULL", None))
    if t.time_partitioning and not t.time_partitioning.get("field"):
        rows.append((project, dataset, t.name, "_PARTITIONTIME", None, "YES", "TIMESTAMP", "NEVER", None, None,
                     "YES", None, "YES", "YES", None, "NULL", "NULL", None))
        if t.time_partitioning.get("type", "DAY") == "DAY":
            rows.append((project, dataset, t.name, "_PARTITIONDATE", None, "YES", "DATE", "NEVER", None, None,
                         "YES", None, "YES", "YES", None, "NULL", "NULL", None))
    return rows


def _field_path_rows(project: str, dataset: str, t: StandinTable) -> list[tuple]:
    rows: list[tuple] = []

    def walk(f: dict[str, Any], column: str, path: str) -> None:
        tags = list((f.get("policyTags") or {}).get("names") or [])
        rows.append((project, dataset, t.name, column, path, type_string(f), f.get("description"), "NULL", None,
                     tags))
        for sub in f.get("fields", []):
            walk(sub, column, f"{path}.{sub['name']}")

    for f in t.fields:
        walk(f, f["name"], f["name"])
    return rows


def _views_rows(project: str, dataset: str, t: StandinTable) -> list[tuple]:
    if t.kind != "VIEW":
        return []
    # use_standard_sql: "YES if the view was created by using a GoogleSQL query; NO if useLegacySql
    # is set to true" (VIEWS view: https://cloud.google.com/bigquery/docs/information-schema-views).
    return [(project, dataset, t.name, t.view_query, "NONE", "NO" if t.use_legacy_sql else "YES")]


def _meta_rows(project: str, dataset: str, t: StandinTable) -> list[tuple]:
    return [(project, dataset, t.name, t.creation_time_ms, t.last_modified_time_ms, t.num_rows, 0,
             _META_TYPES[t.kind])]


def render_ddl(project: str, dataset: str, t: StandinTable) -> str:
    """Render the ``ddl`` column as BigQuery does for each kind of table."""
    name = f"`{project}.{dataset}.{t.name}`"
    options = []
    if t.description is not None:
        options.append(f"description={_literal(t.description)}")
    if t.labels:
        options.append("labels=[" + ", ".join(f"({_literal(k)}, {_literal(v)})" for k, v in t.labels.items()) + "]")
    if t.kind == "VIEW":
        opts = f"\nOPTIONS(\n  {', '.join(options)}\n)" if options else ""
        return f"CREATE VIEW {name}{opts}\nAS {t.view_query};"
    if t.kind == "SNAPSHOT":
        p, d, b = t.base_table or ("", "", "")
        return f"CREATE SNAPSHOT TABLE {name}\nCLONE `{p}.{d}.{b}`;"
    columns = ",\n".join(
        f"  {_ident(f['name'])} {type_string(f)}" + (" NOT NULL" if f.get("mode") == "REQUIRED" else "")
        + (f" OPTIONS(description={_literal(f['description'])})" if f.get("description") else "")
        for f in t.fields
    )
    clauses = []
    if (partition := _partition_clause(t)) is not None:
        clauses.append(f"PARTITION BY {partition}")
    if t.clustering:
        clauses.append("CLUSTER BY " + ", ".join(t.clustering))
    if t.time_partitioning and t.time_partitioning.get("expirationMs"):
        options.append(f"partition_expiration_days={int(t.time_partitioning['expirationMs']) / 86_400_000}")
    if t.require_partition_filter:
        options.append("require_partition_filter=true")
    if t.kind == "EXTERNAL" and t.external:
        options.append(f"format={_literal(t.external['sourceFormat'])}")
        options.append("uris=[" + ", ".join(_literal(u) for u in t.external["sourceUris"]) + "]")
    if t.enable_refresh is not None:
        options.append(f"enable_refresh={'true' if t.enable_refresh else 'false'}")
    opts = f"\nOPTIONS(\n  {', '.join(options)}\n)" if options else ""
    tail = "".join(f"\n{c}" for c in clauses)
    if t.kind == "MATERIALIZED_VIEW":
        return f"CREATE MATERIALIZED VIEW {name}{tail}{opts}\nAS {t.view_query};"
    keyword = "CREATE EXTERNAL TABLE" if t.kind == "EXTERNAL" else "CREATE TABLE"
    return f"{keyword} {name}\n(\n{columns}\n){tail}{opts};"


def _partition_clause(t: StandinTable) -> str | None:
    if t.range_partitioning:
        r = t.range_partitioning["range"]
        return f"RANGE_BUCKET({t.range_partitioning['field']}, GENERATE_ARRAY({r['start']}, {r['end']}, {r['interval']}))"
    if not t.time_partitioning:
        return None
    unit = t.time_partitioning.get("type", "DAY")
    column = t.time_partitioning.get("field")
    if column is None:
        return "_PARTITIONDATE" if unit == "DAY" else f"TIMESTAMP_TRUNC(_PARTITIONTIME, {unit})"
    ftype = next((_LEGACY.get(f["type"], f["type"]) for f in t.fields if f["name"] == column), "TIMESTAMP")
    if ftype == "DATE":
        return column if unit == "DAY" else f"DATE_TRUNC({column}, {unit})"
    if unit == "DAY":
        return f"DATE({column})" if ftype == "TIMESTAMP" else f"DATETIME_TRUNC({column}, DAY)"
    return f"{ftype}_TRUNC({column}, {unit})"


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# ---------------------------------------------------------------------- results


def _result_field(name: str, duck_type: str) -> dict[str, Any]:
    if duck_type.endswith("[]"):
        return {"name": name, "type": _BQ_RESULT_TYPES.get(duck_type[:-2], "STRING"), "mode": "REPEATED"}
    return {"name": name, "type": _BQ_RESULT_TYPES.get(duck_type, "STRING"), "mode": "NULLABLE"}


def _cell(value: Any) -> dict[str, Any]:
    if value is None:
        return {"v": None}
    if isinstance(value, list):
        return {"v": [_cell(v) for v in value]}
    if isinstance(value, bool):
        return {"v": "true" if value else "false"}
    if isinstance(value, datetime):
        # TIMESTAMP cells are integer microseconds (formatOptions.useInt64Timestamp).
        return {"v": str(int(value.timestamp() * 1_000_000))}
    return {"v": str(value)}


def _param_value(param: dict[str, Any]) -> Any:
    value = param.get("parameterValue") or {}
    if "arrayValues" in value:
        return [v.get("value") for v in value["arrayValues"]]
    if param.get("parameterType", {}).get("type") == "ARRAY":
        return []
    return value.get("value")


def _paged(items: list[dict[str, Any]], key: str, query: dict[str, str], extra: dict[str, Any]) -> dict[str, Any]:
    start = int(query.get("pageToken") or 0)
    size = int(query.get("maxResults") or 50)
    out = dict(extra)
    if items[start : start + size]:
        out[key] = items[start : start + size]
    if start + size < len(items):
        out["nextPageToken"] = str(start + size)
    return out


def _method(via: str, api_method: str) -> str:
    """Return the audited method of a change made ``via`` the API, a jobs.insert or a jobs.query job."""
    return {"api": api_method, "query": "google.cloud.bigquery.v2.JobService.InsertJob",
            "jobs.query": "google.cloud.bigquery.v2.JobService.Query"}[via]


def _wait_for_port(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.01)
    raise RuntimeError(f"stand-in did not listen on port {port}")


# ---------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    owner: BigQueryStandin
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parsed = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
            status, payload = 200, self.owner.handle(method, parsed.path, query, body)
        except ApiError as e:
            status, payload = e.code, e.body()
        except Exception as e:  # noqa: BLE001 - report stand-in bugs as 500 with the message
            status, payload = 500, ApiError(500, "INTERNAL", "backendError", f"stand-in error: {e!r}").body()
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
