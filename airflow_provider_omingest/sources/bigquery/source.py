"""Google BigQuery source: databases are projects, schemas are datasets.

Full extraction reads each dataset in bulk with three requests whatever its number of tables:
``datasets.get`` (description, labels, location), one query over ``INFORMATION_SCHEMA.TABLES``
joined with ``VIEWS``, ``TABLE_OPTIONS`` and ``__TABLES__`` (kind, DDL, view queries, options,
times, row counts), and one over ``COLUMNS`` joined with ``COLUMN_FIELD_PATHS`` (types, nested
fields, descriptions, policy tags, partitioning and clustering columns). Queries go through
``jobs.query`` and return their first page in the same request. BigQuery has no dependency
catalog: views and materialized views get their upstreams by parsing their query with sqlglot
(:func:`~airflow_provider_omingest.sources.bigquery.mapping.view_lineage`), no request needed.

Incremental extraction reads Cloud Logging audit entries, one query per project and run
(:mod:`~airflow_provider_omingest.sources.bigquery.audit`). Without the Logs Viewer role
:meth:`BigQuerySource.changes_since` raises :class:`IncrementalUnsupported` naming the missing
role, and :meth:`BigQuerySource.table_digests` offers the fallback: one listing query per
project and location over the datasets' ``__TABLES__`` (creation and last modification
times; a table missing from the listing was dropped).

``google-cloud-bigquery`` and ``google-cloud-logging`` are imported only when a client is
first needed (extra ``bigquery``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_omingest.exceptions import (
    ConfigError,
    IncrementalUnsupported,
    MissingDependency,
    SourceError,
)
from airflow_provider_omingest.models.entities import DatabaseSchema, TableType
from airflow_provider_omingest.sources.base import SchemaRead, Source, TableSelection, as_utc, timeout_seconds
from airflow_provider_omingest.sources.bigquery.audit import (
    audit_filter,
    change_set_from_events,
    event_from_entry,
)
from airflow_provider_omingest.sources.bigquery.mapping import (
    TABLE_OPTION_NAMES,
    ColumnRow,
    TableRow,
    build_table,
    digest_of,
    view_lineage,
)

if TYPE_CHECKING:
    from airflow_provider_omingest.models.changes import ChangeSet

__all__ = ["DEFAULT_STATEMENT_TIMEOUT", "BigQuerySource"]

log = logging.getLogger(__name__)

EXTRA = "bigquery"

#: Cloud Logging returns at most 1,000 entries per ``entries.list`` request.
LOGGING_PAGE_SIZE = 1000

#: Seconds a metadata query job may run before BigQuery cancels it (``jobTimeoutMs``) by default.
DEFAULT_STATEMENT_TIMEOUT = 600.0

#: Datasets per ``__TABLES__`` listing query (BigQuery allows 1,000 tables per query).
DIGEST_DATASETS_PER_QUERY = 200

_VIEW_TYPES = (TableType.VIEW, TableType.MATERIALIZED_VIEW)


class BigQuerySource(Source):
    """Read metadata from BigQuery projects over the REST API.

    :param projects: the projects to read (the databases); default: ``billing_project``.
    :param billing_project: project the metadata queries run (and are billed) in; default:
        the first of ``projects``, else the credentials' project.
    :param credentials: ``google.auth`` credentials; ``None`` for application default credentials.
    :param location: default location of the query jobs (e.g. ``US``, ``europe-west1``); each
        dataset's own location is used when known.
    :param api_endpoint: BigQuery API root (tests, private endpoints).
    :param logging_api_endpoint: Cloud Logging API root; defaults to ``api_endpoint`` when that is set.
    :param request_timeout: seconds per HTTP request.
    :param retry_deadline: seconds to keep retrying transient failures of one call (and to wait
        for a query).
    :param statement_timeout: seconds a query job may run before BigQuery cancels it
        (``jobTimeoutMs`` of the job; 0: no limit).
    :param page_size: rows per result page of a query (``None``: as many as fit).
    :param label_tag_prefix: prefix of the tags made from labels (``label:env=prod``).
    :param policy_tag_prefix: prefix of the tags made from column policy tags.
    """

    kind: ClassVar[str] = "bigquery"
    #: Above this many names, read the whole dataset and filter in Python instead of binding names.
    max_bound_names: ClassVar[int] = 10_000

    def __init__(
        self,
        projects: Sequence[str] | None = None,
        *,
        billing_project: str | None = None,
        credentials: Any = None,
        location: str | None = None,
        api_endpoint: str | None = None,
        logging_api_endpoint: str | None = None,
        request_timeout: float = 60.0,
        retry_deadline: float = 120.0,
        statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
        page_size: int | None = None,
        label_tag_prefix: str = "label:",
        policy_tag_prefix: str = "policy_tag:",
    ) -> None:
        self.projects = [p for p in (projects or ()) if p]
        self.billing_project = billing_project or (self.projects[0] if self.projects else None)
        self.location = location
        self.api_endpoint = api_endpoint
        self.logging_api_endpoint = logging_api_endpoint or api_endpoint
        self.request_timeout = request_timeout
        self.retry_deadline = retry_deadline
        self.statement_timeout = timeout_seconds("statement_timeout", statement_timeout, None)
        self.page_size = page_size
        self.label_tag_prefix = label_tag_prefix
        self.policy_tag_prefix = policy_tag_prefix
        self._credentials = credentials
        self._client: Any = None
        self._logging_client: Any = None
        self._locations: dict[tuple[str, str], str | None] = {}

    def __repr__(self) -> str:
        return f"BigQuerySource(projects={self.projects!r}, billing_project={self.billing_project!r})"

    # ------------------------------------------------------------------ clients

    @property
    def client(self) -> Any:
        """Return the ``google.cloud.bigquery.Client``, creating it on first use."""
        if self._client is None:
            self._client = self._create_client()
        return self._client

    def _create_client(self) -> Any:
        try:
            from google.api_core.client_options import ClientOptions
            from google.cloud import bigquery
        except ImportError as e:
            raise MissingDependency(f"google-cloud-bigquery ({e})", EXTRA) from e
        options = ClientOptions(api_endpoint=self.api_endpoint) if self.api_endpoint else None
        try:
            client = bigquery.Client(
                project=self.billing_project, credentials=self._credentials, location=self.location,
                client_options=options,
            )
        except Exception as e:  # DefaultCredentialsError, or no project could be determined
            raise ConfigError("credentials", None, f"cannot create a BigQuery client ({type(e).__name__}: {e}); "
                              "set key_path or keyfile_dict in the connection, or configure application "
                              "default credentials and a project") from e
        if not self.billing_project:
            self.billing_project = client.project
        if not self.projects:
            self.projects = [client.project]
        return client

    def _retry(self) -> Any:
        from google.cloud import bigquery

        return bigquery.DEFAULT_RETRY.with_timeout(self.retry_deadline)

    def _job_retry(self) -> Any:
        from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY

        return DEFAULT_JOB_RETRY.with_timeout(self.retry_deadline)

    def _logging(self) -> Any:
        if self._logging_client is None:
            try:
                from google.cloud import logging as cloud_logging
            except ImportError as e:
                raise IncrementalUnsupported(
                    self.kind, f"google-cloud-logging is not installed ({e}); install "
                    f"'airflow-provider-omingest[{EXTRA}]' to read changes from the audit logs") from e
            self.client  # noqa: B018 - resolves billing project and credentials the same way
            kwargs: dict[str, Any] = {"project": self.billing_project, "credentials": self._credentials,
                                      "_use_grpc": False}
            if self.logging_api_endpoint:
                kwargs["client_options"] = {"api_endpoint": self.logging_api_endpoint}
            self._logging_client = cloud_logging.Client(**kwargs)
        return self._logging_client

    def close(self) -> None:
        """Close the HTTP sessions of both clients."""
        for client in (self._client, self._logging_client):
            if client is not None:
                try:
                    client.close()
                except Exception:
                    log.debug("Closing a BigQuery client failed.", exc_info=True)
        self._client = self._logging_client = None

    # ------------------------------------------------------------------ queries

    def _query(self, sql: str, *, database: str, schema: str | None, params: dict[str, Any] | None = None,
               location: str | None = None) -> list[Any]:
        """Run one query and return all its rows; API failures become :class:`SourceError`."""
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            query_parameters=[_parameter(name, value) for name, value in (params or {}).items()],
            use_query_cache=False,
        )
        if self.statement_timeout:
            config.job_timeout_ms = int(self.statement_timeout * 1000)
        client = self.client
        try:
            rows = client.query_and_wait(
                sql, job_config=config, location=location or self.location, project=self.billing_project,
                api_timeout=self.request_timeout, wait_timeout=self.retry_deadline, retry=self._retry(),
                job_retry=self._job_retry(), page_size=self.page_size,
            )
            return list(rows)
        except Exception as e:
            raise self.source_error(database, schema, e) from e

    # ------------------------------------------------------------------ errors

    def is_transient(self, error: BaseException) -> bool:
        """Return whether a retry can help, by the HTTP status and reason Google's API gave.

        Terminal: 400 (invalid request), 401/403 (credentials, permission: "Access Denied"), 404
        (project or dataset not found), except the 403 reasons BigQuery uses for rate limits
        (``rateLimitExceeded``, ``backendError``): BigQuery error messages,
        https://cloud.google.com/bigquery/docs/error-messages. Transient: 429, 5xx, timeouts,
        connection failures, and a retry deadline reached on those.
        """
        code = getattr(error, "code", None)
        if isinstance(code, int) and 400 <= code < 500 and code not in (408, 429):
            reasons = {e.get("reason") for e in (getattr(error, "errors", None) or ()) if isinstance(e, dict)}
            return bool(reasons & _TRANSIENT_REASONS)
        try:
            from google.auth.exceptions import RefreshError
        except ImportError:  # pragma: no cover - google-auth comes with the client
            return True
        return not isinstance(error, RefreshError)

    def describe_error(self, error: BaseException) -> str:
        """Return the API's status and message, without request details."""
        return f"{type(error).__name__}: {_api_message(error)}"

    # ------------------------------------------------------------------ listing

    def now(self) -> datetime:
        """Return BigQuery's clock (``CURRENT_TIMESTAMP()``), aware UTC."""
        rows = self._query("SELECT CURRENT_TIMESTAMP() AS now", database=self.billing_project or "bigquery",
                           schema=None)
        return as_utc(rows[0][0])

    def list_databases(self) -> list[str]:
        """Return the configured projects (or the credentials' project)."""
        self.client  # noqa: B018 - fills in the default project
        return list(self.projects)

    def list_schemas(self, database: str) -> list[str]:
        """Return the datasets of project ``database`` (hidden ``_`` datasets excluded).

        :param database: the project.
        """
        try:
            datasets = list(self.client.list_datasets(
                project=database, retry=self._retry(), timeout=self.request_timeout, page_size=1000))
        except (ConfigError, MissingDependency):
            raise
        except Exception as e:
            raise self.source_error(database, None, e) from e
        names = []
        for item in datasets:
            self._locations[(database, item.dataset_id)] = item._properties.get("location")
            names.append(item.dataset_id)
        return sorted(names)

    def count_tables(self, database: str, schemas: list[str]) -> dict[str, int]:
        """Return tables and views per dataset: one region-level query per location.

        Falls back to ``tables.list`` per dataset when the region-level view is not readable
        (dataset-level grants only).

        :param database: the project.
        :param schemas: the datasets.
        """
        if not schemas:
            return {}
        counts = dict.fromkeys(schemas, 0)
        for location, group in self._by_location(database, schemas).items():
            sql = (
                f"SELECT table_schema, COUNT(*) AS n FROM {_quote(database, f'region-{location.lower()}')}"
                ".INFORMATION_SCHEMA.TABLES WHERE table_schema IN UNNEST(@schemas) GROUP BY table_schema"
            )
            try:
                rows = self._query(sql, database=database, schema=None, params={"schemas": group},
                                   location=location)
            except SourceError as e:
                log.warning("Counting tables of %s in region %s failed (%s); listing each dataset instead.",
                            database, location, e.reason)
                counts.update({s: self._count_by_listing(database, s) for s in group})
                continue
            counts.update({row["table_schema"]: int(row["n"]) for row in rows if row["table_schema"] in counts})
        return counts

    def _count_by_listing(self, database: str, dataset: str) -> int:
        try:
            return sum(1 for _ in self.client.list_tables(
                f"{database}.{dataset}", retry=self._retry(), timeout=self.request_timeout, page_size=1000))
        except Exception as e:
            raise self.source_error(database, dataset, e) from e

    def _by_location(self, database: str, schemas: Sequence[str]) -> dict[str, list[str]]:
        if any((database, s) not in self._locations for s in schemas):
            self.list_schemas(database)
        groups: dict[str, list[str]] = defaultdict(list)
        for schema in schemas:
            groups[self._locations.get((database, schema)) or self.location or "US"].append(schema)
        return dict(groups)

    # ------------------------------------------------------------------ extraction

    def read_schema(self, database: str, schema: str, selection: TableSelection) -> SchemaRead:
        """Read one dataset with three requests: ``datasets.get``, a tables query and a columns query.

        :param database: the project.
        :param schema: the dataset.
        :param selection: which tables to keep (and, for an incremental unit, to read).
        :raises SourceError: when the dataset cannot be read (missing, no permission, ...).
        """
        project, dataset = database, schema
        schema_entity, location = self._dataset(project, dataset)
        read = SchemaRead(schema_entity)
        if selection.asks_nothing:
            return read
        names = selection.bindable_names(self.max_bound_names)
        table_rows = self._table_rows(project, dataset, names, location)
        kept = {name: row for name, row in table_rows.items()
                if selection.keeps(name, row.table_type.upper() in ("VIEW", "MATERIALIZED VIEW"))}
        if not kept:
            return read
        bind = names if names is not None else (sorted(kept) if len(kept) < len(table_rows) else None)
        if bind is not None and len(bind) > self.max_bound_names:
            bind = None
        columns = self._column_rows(project, dataset, bind, location)
        read.tables, read.unreflectable = self.build_tables(project, dataset, sorted(kept), lambda name: view_lineage(
            build_table(kept[name], columns.get(name, ()), label_prefix=self.label_tag_prefix,
                        policy_tag_prefix=self.policy_tag_prefix),
            kept[name], project, dataset))
        return read

    def _dataset(self, project: str, dataset: str) -> tuple[DatabaseSchema, str | None]:
        try:
            ds = self.client.get_dataset(f"{project}.{dataset}", retry=self._retry(), timeout=self.request_timeout)
        except (ConfigError, MissingDependency):
            raise
        except Exception as e:
            raise self.source_error(project, dataset, e) from e
        self._locations[(project, dataset)] = ds.location
        labels = ds.labels or {}
        tags = tuple(sorted(f"{self.label_tag_prefix}{k}={v}" for k, v in labels.items()))
        return DatabaseSchema(name=dataset, description=ds.description or None, tags=tags), ds.location

    def _table_rows(self, project: str, dataset: str, names: list[str] | None,
                    location: str | None) -> dict[str, TableRow]:
        params = {"table_names": names} if names is not None else None
        rows = self._query(_tables_sql(_quote(project, dataset), names is not None), database=project,
                           schema=dataset, params=params, location=location)
        out: dict[str, TableRow] = {}
        for row in rows:
            out[row["table_name"]] = TableRow(
                table_name=row["table_name"],
                table_type=row["table_type"] or "BASE TABLE",
                ddl=row["ddl"],
                view_definition=row["view_definition"],
                base_table_catalog=row["base_table_catalog"],
                base_table_schema=row["base_table_schema"],
                base_table_name=row["base_table_name"],
                snapshot_time=row["snapshot_time_ms"].isoformat() if row["snapshot_time_ms"] else None,
                options={n: row[f"opt_{n}"] for n in TABLE_OPTION_NAMES if row[f"opt_{n}"] is not None},
                creation_time_ms=_int_or_none(row["creation_time_ms"]),
                last_modified_time_ms=_int_or_none(row["last_modified_time_ms"]),
                row_count=_int_or_none(row["row_count"]),
                use_standard_sql=row["use_standard_sql"],
            )
        return out

    def _column_rows(self, project: str, dataset: str, names: list[str] | None,
                     location: str | None) -> dict[str, list[ColumnRow]]:
        params = {"table_names": names} if names is not None else None
        rows = self._query(_columns_sql(_quote(project, dataset), names is not None), database=project,
                           schema=dataset, params=params, location=location)
        out: dict[str, list[ColumnRow]] = defaultdict(list)
        for row in rows:
            out[row["table_name"]].append(ColumnRow(
                table_name=row["table_name"],
                column_name=row["column_name"],
                ordinal_position=_int_or_none(row["ordinal_position"]),
                is_nullable=row["is_nullable"],
                data_type=row["data_type"],
                is_hidden=row["is_hidden"],
                is_partitioning_column=row["is_partitioning_column"],
                clustering_ordinal_position=_int_or_none(row["clustering_ordinal_position"]),
                column_default=row["column_default"],
                field_path=row["field_path"],
                description=row["description"],
                policy_tags=tuple(row["policy_tags"] or ()),
            ))
        return out

    # ------------------------------------------------------------------ incremental

    def changes_since(self, since: datetime, databases: list[str]) -> ChangeSet:
        """Return the tables changed and dropped since ``since``, from the audit logs.

        One ``entries.list`` query per project, read in pages of 1,000 entries.

        :param since: lower bound (aware).
        :param databases: the projects.
        :raises IncrementalUnsupported: when the audit logs of a project are not readable
            (Logs Viewer role missing, Logging API disabled); :meth:`table_digests` still works.
        """
        until = self.now()
        events = []
        notes = []
        for project in databases:
            project_events = self._audit_events(project, since)
            notes.append(f"{project}: {len(project_events)} structural audit entries since {since.isoformat()}")
            events.extend(project_events)
        return change_set_from_events(events, since=since, until=until, notes=notes)

    def _audit_events(self, project: str, since: datetime) -> list[Any]:
        from google.api_core import exceptions as api_exceptions

        client = self._logging()
        try:
            from google.cloud.logging import ASCENDING

            entries = client.list_entries(resource_names=[f"projects/{project}"], filter_=audit_filter(since),
                                          order_by=ASCENDING, page_size=LOGGING_PAGE_SIZE)
            events = [event_from_entry(_payload(entry), entry.timestamp) for entry in entries]
        except (api_exceptions.Forbidden, api_exceptions.PermissionDenied, api_exceptions.Unauthorized) as e:
            raise IncrementalUnsupported(
                self.kind,
                f"the Cloud Logging audit logs of project {project} are not readable ({_api_message(e)}). Grant "
                "the Logs Viewer role (roles/logging.viewer) and enable the Logging API; until then changes "
                "can only be found by listing each dataset's tables with their creation and last "
                "modification times (table_digests)",
            ) from e
        except Exception as e:
            raise self.source_error(project, None, e) from e
        return [e for e in events if e is not None and e.project == project]

    def table_digests(self, database: str, schemas: list[str]) -> dict[str, dict[str, str]]:
        """Return dataset -> table -> digest of its creation and last modification times.

        The fallback when the audit logs are not readable: one query per location (and per
        200 datasets) over the datasets' ``__TABLES__``. A table missing from the listing was
        dropped. :meth:`extract` sets the same digest on each table.

        :param database: the project.
        :param schemas: the datasets.
        """
        digests: dict[str, dict[str, str]] = {s: {} for s in schemas}
        for location, group in self._by_location(database, schemas).items():
            for start in range(0, len(group), DIGEST_DATASETS_PER_QUERY):
                chunk = group[start : start + DIGEST_DATASETS_PER_QUERY]
                sql = "\nUNION ALL\n".join(
                    "SELECT dataset_id, table_id, creation_time, last_modified_time "
                    f"FROM {_quote(database, s)}.__TABLES__" for s in chunk
                )
                schema = chunk[0] if len(chunk) == 1 else None
                for row in self._query(sql, database=database, schema=schema, location=location):
                    digest = digest_of(_int_or_none(row["creation_time"]), _int_or_none(row["last_modified_time"]))
                    if row["dataset_id"] in digests and digest is not None:
                        digests[row["dataset_id"]][row["table_id"]] = digest
        return digests


# ---------------------------------------------------------------------- SQL


def _quote(*parts: str) -> str:
    """Return a backtick-quoted path such as ```p`.`d```; names cannot contain backticks."""
    for part in parts:
        if "`" in part or not part:
            raise SourceError(parts[0], None, f"invalid BigQuery name {part!r}")
    return ".".join(f"`{p}`" for p in parts)


def _tables_sql(ref: str, bound: bool) -> str:
    options = ",\n".join(
        f"    MAX(IF(option_name = '{name}', option_value, NULL)) AS opt_{name}" for name in TABLE_OPTION_NAMES
    )
    selected = ", ".join(f"o.opt_{name}" for name in TABLE_OPTION_NAMES)
    where = "WHERE t.table_name IN UNNEST(@table_names)" if bound else ""
    return f"""
WITH options AS (
  SELECT table_name,
{options}
  FROM {ref}.INFORMATION_SCHEMA.TABLE_OPTIONS
  GROUP BY table_name
)
SELECT t.table_name, t.table_type, t.ddl, t.base_table_catalog, t.base_table_schema, t.base_table_name,
       t.snapshot_time_ms, v.view_definition, v.use_standard_sql, m.creation_time AS creation_time_ms,
       m.last_modified_time AS last_modified_time_ms, m.row_count, {selected}
FROM {ref}.INFORMATION_SCHEMA.TABLES AS t
LEFT JOIN {ref}.INFORMATION_SCHEMA.VIEWS AS v ON v.table_name = t.table_name
LEFT JOIN options AS o ON o.table_name = t.table_name
LEFT JOIN {ref}.__TABLES__ AS m ON m.table_id = t.table_name
{where}
ORDER BY t.table_name
"""


def _columns_sql(ref: str, bound: bool) -> str:
    where = "WHERE c.table_name IN UNNEST(@table_names)" if bound else ""
    return f"""
SELECT c.table_name, c.column_name, c.ordinal_position, c.is_nullable, c.data_type, c.is_hidden,
       c.is_partitioning_column, c.clustering_ordinal_position, c.column_default,
       f.field_path, f.description, f.policy_tags
FROM {ref}.INFORMATION_SCHEMA.COLUMNS AS c
LEFT JOIN {ref}.INFORMATION_SCHEMA.COLUMN_FIELD_PATHS AS f
  ON f.table_name = c.table_name AND f.column_name = c.column_name
{where}
ORDER BY c.table_name, c.ordinal_position, f.field_path
"""


def _parameter(name: str, value: Any) -> Any:
    from google.cloud import bigquery

    if isinstance(value, (list, tuple)):
        return bigquery.ArrayQueryParameter(name, "STRING", list(value))
    return bigquery.ScalarQueryParameter(name, "STRING", value)


# ---------------------------------------------------------------------- helpers


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _payload(entry: Any) -> dict[str, Any] | None:
    payload = getattr(entry, "payload", None)
    if isinstance(payload, dict):
        return payload
    if payload is not None and hasattr(payload, "DESCRIPTOR"):  # a protobuf message (gRPC transport)
        from google.protobuf.json_format import MessageToDict

        return MessageToDict(payload)
    return None


def _api_message(error: BaseException) -> str:
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or str(error)
    text = f"{int(code) if isinstance(code, int) else code} {message}" if code else message
    return text.splitlines()[0][:300] if text else type(error).__name__



#: 4xx reasons of BigQuery that a retry can help with (rate limits reported as 403).
_TRANSIENT_REASONS = frozenset({"rateLimitExceeded", "backendError", "internalError"})
