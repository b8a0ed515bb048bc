"""Read BigQuery's structural changes from Cloud Logging audit entries (``BigQueryAuditMetadata``).

One ``entries.list`` query per project and run, with 1,000-entry pages: the Logging read quota
is 60 requests a minute, which OpenMetadata exhausted by querying once per dataset. The newest
entry per table decides whether it is reported changed or dropped. The engine fetches both
kinds by name, so a table dropped and re-created in the window survives either way.

What is read (BigQuery audit logs, https://cloud.google.com/bigquery/docs/reference/auditlogs, and
``BigQueryAuditMetadata``,
https://cloud.google.com/bigquery/docs/reference/auditlogs/rest/Shared.Types/BigQueryAuditMetadata):

- table API calls: ``TableService.InsertTable``/``UpdateTable``/``PatchTable``/``DeleteTable``;
- dataset API calls: ``DatasetService.InsertDataset``/``UpdateDataset``/``PatchDataset``/``DeleteDataset``;
- jobs, both ``JobService.InsertJob`` (``jobs.insert``) and ``JobService.Query`` (``jobs.query``,
  which ``Client.query_and_wait()`` uses: DDL sent by current clients is logged under it), whose
  metadata records ``tableCreation``, ``tableChange``, ``tableDeletion``, ``datasetCreation``,
  ``datasetChange`` or ``datasetDeletion``;
- ``InternalTableExpired``: the system event of a table that expired (its own or its dataset's
  default expiration), with ``tableDeletion`` (reason ``EXPIRED``).

A changed dataset (description, labels: ``ALTER SCHEMA … SET OPTIONS``, ``datasets.patch``) is
extracted whole, like a new one; an access-policy change (``SET_IAM_POLICY``) changes nothing the
catalog holds and is left out.

The filter is a Logging query (Logging query language,
https://cloud.google.com/logging/docs/view/logging-query-language); every boolean group is
parenthesised, so its meaning does not depend on the precedence of ``AND`` and ``OR``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_provider_omingest.models.changes import ChangeSet, TableRef
from airflow_provider_omingest.sources.base import as_utc

__all__ = ["AUDIT_METHOD", "AuditEvent", "audit_filter", "change_set_from_events", "event_from_entry"]

#: ``ChangeSet.method`` of changes read from the audit logs.
AUDIT_METHOD = "Cloud Logging audit log (BigQueryAuditMetadata)"

_TABLE_METHODS = (
    "google.cloud.bigquery.v2.TableService.InsertTable",
    "google.cloud.bigquery.v2.TableService.UpdateTable",
    "google.cloud.bigquery.v2.TableService.PatchTable",
    "google.cloud.bigquery.v2.TableService.DeleteTable",
)
_DATASET_METHODS = (
    "google.cloud.bigquery.v2.DatasetService.InsertDataset",
    "google.cloud.bigquery.v2.DatasetService.UpdateDataset",
    "google.cloud.bigquery.v2.DatasetService.PatchDataset",
    "google.cloud.bigquery.v2.DatasetService.DeleteDataset",
)
#: ``jobs.insert`` and ``jobs.query``: a job's metadata says what it created, changed or deleted.
_JOB_METHODS = (
    "google.cloud.bigquery.v2.JobService.InsertJob",
    "google.cloud.bigquery.v2.JobService.Query",
)
#: The system event of a table that expired.
_EXPIRED_METHOD = "InternalTableExpired"
_METADATA_TYPE = "type.googleapis.com/google.cloud.audit.BigQueryAuditMetadata"
#: Metadata of a job (or of an expiration) that names a structural change.
_CHANGE_KINDS = ("tableCreation", "tableChange", "tableDeletion", "datasetCreation", "datasetChange",
                 "datasetDeletion")

_TABLE_NAME = re.compile(r"projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)$")
_DATASET_NAME = re.compile(r"projects/([^/]+)/datasets/([^/]+)$")


def audit_filter(since: datetime) -> str:
    """Return the Logging query for structural table and dataset changes since ``since``.

    :param since: lower bound (aware); written as RFC 3339 UTC.
    """
    stamp = as_utc(since).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    methods = " OR ".join(f'"{m}"' for m in (*_TABLE_METHODS, *_DATASET_METHODS))
    jobs = " OR ".join(f'"{m}"' for m in (*_JOB_METHODS, _EXPIRED_METHOD))
    kinds = " OR ".join(f"protoPayload.metadata.{k}:*" for k in _CHANGE_KINDS)
    return (
        f'protoPayload.metadata."@type"="{_METADATA_TYPE}"\n'
        f"AND (\n"
        f"  protoPayload.methodName=({methods})\n"
        f"  OR (protoPayload.methodName=({jobs}) AND ({kinds}))\n"
        f")\n"
        f'AND timestamp>="{stamp}"'
    )


@dataclass(frozen=True)
class AuditEvent:
    """One structural change read from an audit entry."""

    timestamp: datetime
    project: str
    dataset: str
    table: str | None
    dropped: bool


def event_from_entry(payload: Mapping[str, Any] | None, timestamp: datetime | None) -> AuditEvent | None:
    """Return the change an audit entry records, or ``None`` for an entry that records none.

    The table is the ``resourceName`` of the entry (``projects/p/datasets/d/tables/t``), else
    the table named in the metadata; partition (``$``) and snapshot (``@``) decorators are cut.

    :param payload: the entry's ``protoPayload`` (an ``AuditLog`` as JSON).
    :param timestamp: the entry's timestamp.
    """
    if not payload or timestamp is None:
        return None
    metadata = payload.get("metadata") or {}
    method = payload.get("methodName") or ""
    kinds = {k for k in _CHANGE_KINDS if k in metadata}
    if method not in (*_TABLE_METHODS, *_DATASET_METHODS) and not kinds:
        return None
    if kinds == {"datasetChange"} and (metadata["datasetChange"] or {}).get("reason") == "SET_IAM_POLICY":
        return None  # an access-policy change: nothing the catalog holds
    dropped = "tableDeletion" in kinds or "datasetDeletion" in kinds or method.endswith(("DeleteTable",
                                                                                          "DeleteDataset"))
    for name in _candidate_names(payload, metadata):
        if (m := _TABLE_NAME.search(name)) is not None:
            table = re.split(r"[$@]", m.group(3), maxsplit=1)[0]
            return AuditEvent(as_utc(timestamp), m.group(1), m.group(2), table, dropped)
        if (m := _DATASET_NAME.search(name)) is not None:
            return AuditEvent(as_utc(timestamp), m.group(1), m.group(2), None, dropped)
    return None


def _candidate_names(payload: Mapping[str, Any], metadata: Mapping[str, Any]) -> Iterable[str]:
    yield payload.get("resourceName") or ""
    for kind in ("tableCreation", "tableChange"):
        yield ((metadata.get(kind) or {}).get("table") or {}).get("tableName") or ""
    for kind in ("datasetCreation", "datasetChange", "datasetDeletion"):
        yield ((metadata.get(kind) or {}).get("dataset") or {}).get("datasetName") or ""


def change_set_from_events(
    events: Iterable[AuditEvent], *, since: datetime, until: datetime, notes: list[str] | None = None
) -> ChangeSet:
    """Fold events into a change set: the newest event per table (and per dataset) wins.

    Tables in anonymous datasets (query results, names starting with ``_``) are left out.

    :param events: events of any order.
    :param since: the lower bound asked for.
    :param until: the source's clock when the entries were read.
    """
    latest_table: dict[tuple[str, str, str], AuditEvent] = {}
    latest_dataset: dict[tuple[str, str], AuditEvent] = {}
    for event in sorted(events, key=lambda e: e.timestamp):
        if event.dataset.startswith("_"):
            continue
        if event.table is None:
            latest_dataset[(event.project, event.dataset)] = event
        else:
            latest_table[(event.project, event.dataset, event.table)] = event
    changed = [TableRef(database=p, schema_name=d, table=t) for (p, d, t), e in sorted(latest_table.items())
               if not e.dropped]
    dropped = [TableRef(database=p, schema_name=d, table=t) for (p, d, t), e in sorted(latest_table.items())
               if e.dropped]
    return ChangeSet(
        method=AUDIT_METHOD,
        since=since,
        until=until,
        changed=changed,
        dropped=dropped,
        created_schemas=[key for key, e in sorted(latest_dataset.items()) if not e.dropped],
        dropped_schemas=[key for key, e in sorted(latest_dataset.items()) if e.dropped],
        notes=list(notes or []),
    )
