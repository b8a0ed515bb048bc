"""Read BigQuery's structural changes from Cloud Logging audit entries (``BigQueryAuditMetadata``).

One ``entries.list`` query per project and run, with 1,000-entry pages: the Logging read quota
is 60 requests a minute, which OpenMetadata exhausted by querying once per dataset. Entries of
table insert/update/patch/delete API calls and of jobs that created, changed or deleted a
table (DDL, load and query jobs) name the table; the newest entry per table decides whether it
is reported changed or dropped. The engine fetches both kinds by name, so a table dropped and
re-created in the window survives either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_omingest.models.changes import ChangeSet, TableRef

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
    "google.cloud.bigquery.v2.DatasetService.DeleteDataset",
)
_JOB_METHOD = "google.cloud.bigquery.v2.JobService.InsertJob"
_METADATA_TYPE = "type.googleapis.com/google.cloud.audit.BigQueryAuditMetadata"

_TABLE_NAME = re.compile(r"projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)$")
_DATASET_NAME = re.compile(r"projects/([^/]+)/datasets/([^/]+)$")


def audit_filter(since: datetime) -> str:
    """Return the Logging query for structural table and dataset changes since ``since``.

    :param since: lower bound (aware); written as RFC 3339 UTC.
    """
    stamp = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    methods = " OR ".join(f'"{m}"' for m in (*_TABLE_METHODS, *_DATASET_METHODS))
    return (
        f'protoPayload.metadata."@type"="{_METADATA_TYPE}"\n'
        f"AND (\n"
        f"  protoPayload.methodName=({methods})\n"
        f'  OR (protoPayload.methodName="{_JOB_METHOD}" AND ('
        "protoPayload.metadata.tableCreation:* OR protoPayload.metadata.tableChange:* OR "
        "protoPayload.metadata.tableDeletion:* OR protoPayload.metadata.datasetCreation:* OR "
        "protoPayload.metadata.datasetDeletion:*))\n"
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
    kinds = {k for k in ("tableCreation", "tableChange", "tableDeletion", "datasetCreation",
                         "datasetDeletion") if k in metadata}
    if method not in (*_TABLE_METHODS, *_DATASET_METHODS) and not kinds:
        return None
    dropped = "tableDeletion" in kinds or "datasetDeletion" in kinds or method.endswith(("DeleteTable",
                                                                                          "DeleteDataset"))
    for name in _candidate_names(payload, metadata):
        if (m := _TABLE_NAME.search(name)) is not None:
            table = re.split(r"[$@]", m.group(3), maxsplit=1)[0]
            return AuditEvent(_aware(timestamp), m.group(1), m.group(2), table, dropped)
        if (m := _DATASET_NAME.search(name)) is not None:
            return AuditEvent(_aware(timestamp), m.group(1), m.group(2), None, dropped)
    return None


def _candidate_names(payload: Mapping[str, Any], metadata: Mapping[str, Any]) -> Iterable[str]:
    yield payload.get("resourceName") or ""
    for kind in ("tableCreation", "tableChange"):
        yield ((metadata.get(kind) or {}).get("table") or {}).get("tableName") or ""
    for kind in ("datasetCreation", "datasetDeletion"):
        yield ((metadata.get(kind) or {}).get("dataset") or {}).get("datasetName") or ""


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


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
