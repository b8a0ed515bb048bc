"""The audit log as BigQuery writes it, read through google-cloud-logging from a stand-in that evaluates the filter.

Rows 5 and 6 of the warehouse-fidelity list: expired tables (``InternalTableExpired``), DDL sent
through ``jobs.query`` (``JobService.Query``), and dataset updates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.exceptions import SourceError
from airflow_provider_omingest.models.changes import TableRef
from airflow_provider_omingest.models.units import WorkUnit
from airflow_provider_omingest.sources.bigquery.source import BigQuerySource
from tests.bigquery.logging_query import FilterError, compile_filter
from tests.bigquery.standin import ApiError, BigQueryStandin, StandinTable, field_

P = "proj-a"
MakeSource = Callable[..., BigQuerySource]


def table(name: str, *columns: str) -> StandinTable:
    return StandinTable(name, [field_(c) for c in columns or ("id",)])


def ref(name: str, dataset: str = "sales") -> TableRef:
    return TableRef(database=P, schema_name=dataset, table=name)


@pytest.fixture
def warehouse(standin: BigQueryStandin) -> BigQueryStandin:
    standin.create_dataset(P, "sales", description="before")
    for name in ("orders", "temp_export", "staging"):
        standin.create_table(P, "sales", table(name))
    return standin


# --------------------------------------------------------------------------- 5: expired tables


def test_an_expired_table_is_reported_dropped(warehouse: BigQueryStandin, make_source: MakeSource) -> None:
    since = warehouse.now() + timedelta(milliseconds=500)
    warehouse.expire_table(P, "sales", "temp_export")
    changes = make_source().changes_since(since, [P])
    assert changes.dropped == [ref("temp_export")]
    assert changes.changed == []
    entry = warehouse.audit_entries[-1]
    assert entry["logName"].endswith("cloudaudit.googleapis.com%2Fsystem_event")
    assert entry["protoPayload"]["methodName"] == "InternalTableExpired"


# --------------------------------------------------------------------------- 6: jobs.query, dataset updates


def test_ddl_sent_through_jobs_query_is_a_change(warehouse: BigQueryStandin, make_source: MakeSource) -> None:
    since = warehouse.now() + timedelta(milliseconds=500)
    warehouse.create_table(P, "sales", table("by_query_and_wait"), via="jobs.query")
    warehouse.alter_table(P, "sales", "orders", via="jobs.query", fields=[field_("id"), field_("note")])
    warehouse.drop_table(P, "sales", "staging", via="jobs.query")
    changes = make_source().changes_since(since, [P])
    assert sorted(r.table for r in changes.changed) == ["by_query_and_wait", "orders"]
    assert changes.dropped == [ref("staging")]


@pytest.mark.parametrize("via", ["api", "patch", "query"])
def test_a_dataset_update_rereads_the_dataset(warehouse: BigQueryStandin, make_source: MakeSource, via: str) -> None:
    since = warehouse.now() + timedelta(milliseconds=500)
    warehouse.alter_dataset(P, "sales", via=via, description="after", labels={"tier": "gold"})
    changes = make_source().changes_since(since, [P])
    assert changes.created_schemas == [(P, "sales")], "extracted whole: its description and labels changed"
    (snapshot,) = make_source().extract(WorkUnit(unit_id="u", database=P, schemas=("sales",)), Filters())
    assert snapshot.schema_entity.description == "after"
    assert snapshot.schema_entity.tags == ("label:tier=gold",)


def test_an_access_policy_change_is_not_a_change(warehouse: BigQueryStandin, make_source: MakeSource) -> None:
    since = warehouse.now() + timedelta(milliseconds=500)
    warehouse.alter_dataset(P, "sales", via="iam")
    changes = make_source().changes_since(since, [P])
    assert (changes.changed, changes.dropped, changes.created_schemas) == ([], [], [])


def test_the_filter_is_evaluated_not_ignored(warehouse: BigQueryStandin, make_source: MakeSource) -> None:
    since = warehouse.now() + timedelta(milliseconds=500)
    warehouse.add_data_read_entry(P, "sales", "orders")  # a query reading a table: not structural
    warehouse.create_table(P, "sales", table("fresh"))
    make_source().changes_since(since, [P])
    sent = warehouse.filters[-1]
    matches = compile_filter(sent)
    assert [e["protoPayload"]["metadata"].keys() - {"@type"} for e in warehouse.audit_entries if matches(e)] == [
        {"tableCreation"}], "only the structural entry after `since`"


# --------------------------------------------------------------------------- the stand-in's filter rules


ENTRY = {
    "timestamp": "2026-05-01T10:00:00.123456Z",
    "protoPayload": {"methodName": "google.cloud.bigquery.v2.JobService.Query",
                     "metadata": {"@type": "type.googleapis.com/google.cloud.audit.BigQueryAuditMetadata",
                                  "tableCreation": {"reason": "QUERY"}}},
}


@pytest.mark.parametrize("query, matches", [
    ('protoPayload.methodName="google.cloud.bigquery.v2.JobService.Query"', True),
    ('protoPayload.methodName="GOOGLE.cloud.bigquery.v2.jobservice.query"', True),  # not case sensitive
    ('protoPayload.methodName=("x" OR "google.cloud.bigquery.v2.JobService.Query")', True),
    ('protoPayload.methodName:"JobService"', True),
    ("protoPayload.metadata.tableCreation:*", True),
    ("protoPayload.metadata.tableDeletion:*", False),
    ('protoPayload.metadata."@type":"BigQueryAuditMetadata"', True),
    ('timestamp>="2026-05-01T10:00:00Z"', True),
    ('timestamp>="2026-05-01T10:00:00.2Z"', False),
    ('NOT protoPayload.metadata.tableDeletion:*', True),
    # NOT, then OR, then AND: "a AND b OR c" is "a AND (b OR c)".
    ("protoPayload.metadata.tableDeletion:* AND protoPayload.metadata.tableDeletion:* OR "
     + "protoPayload.metadata.tableCreation:*", False),
    ("protoPayload.metadata.tableCreation:* OR protoPayload.metadata.tableDeletion:* AND "
     + "protoPayload.metadata.tableDeletion:*", False),
    ('protoPayload.metadata.tableCreation:* protoPayload.methodName:"Query"', True),  # implicit AND
    ("protoPayload.missing.field=1", False),
])
def test_logging_query_rules(query: str, matches: bool) -> None:
    assert compile_filter(query)(ENTRY) is matches


@pytest.mark.parametrize("query", ["JobService", 'protoPayload.methodName=~"Job.*"', "(a=1"])
def test_what_the_stand_in_cannot_evaluate_is_refused(query: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(query)


# --------------------------------------------------------------------------- errors, odd tables, timeouts


def test_query_jobs_carry_the_statement_timeout(warehouse: BigQueryStandin, make_source: MakeSource) -> None:
    warehouse.reset_requests()
    make_source(statement_timeout=42).now()
    (body,) = [b for kind, _, b in warehouse.requests if kind == "query"]
    assert body["jobTimeoutMs"] == "42000" or body["jobTimeoutMs"] == 42000


def test_denied_dataset_is_terminal_and_server_errors_transient(warehouse: BigQueryStandin,
                                                                make_source: MakeSource) -> None:
    warehouse.denied_datasets.add((P, "sales"))
    with pytest.raises(SourceError) as denied:
        list(make_source().extract(WorkUnit(unit_id="u", database=P, schemas=("sales",)), Filters()))
    assert denied.value.schema == "sales" and not denied.value.retryable
    with pytest.raises(SourceError) as missing:
        list(make_source().extract(WorkUnit(unit_id="u", database=P, schemas=("nope",)), Filters()))
    assert not missing.value.retryable
    warehouse.denied_datasets.clear()
    warehouse.fail_next.extend([ApiError(503, "UNAVAILABLE", "backendError", "try later")] * 50)
    with pytest.raises(SourceError) as unavailable:
        list(make_source().extract(WorkUnit(unit_id="u", database=P, schemas=("sales",)), Filters()))
    warehouse.fail_next.clear()
    assert unavailable.value.retryable


def test_rate_limits_reported_as_403_are_transient() -> None:
    from google.api_core import exceptions

    source = BigQuerySource(["p"])
    limited = exceptions.Forbidden("Exceeded rate limits", errors=[{"reason": "rateLimitExceeded"}])
    assert source.is_transient(limited)
    assert not source.is_transient(exceptions.Forbidden("Access Denied", errors=[{"reason": "accessDenied"}]))
    assert source.is_transient(exceptions.ServiceUnavailable("down"))
    assert source.is_transient(exceptions.TooManyRequests("slow down"))


def test_an_odd_table_is_unreflectable_and_the_dataset_goes_on(warehouse: BigQueryStandin,
                                                               make_source: MakeSource,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_omingest.sources.bigquery import source as bigquery_source

    original = bigquery_source.build_table

    def build_table(row, *args, **kwargs):
        if row.table_name == "staging":
            raise ValueError("a type string nobody expected")
        return original(row, *args, **kwargs)

    monkeypatch.setattr(bigquery_source, "build_table", build_table)
    (snapshot,) = make_source().extract(WorkUnit(unit_id="u", database=P, schemas=("sales",)), Filters())
    assert [t.name for t in snapshot.tables] == ["orders", "temp_export"] and snapshot.complete
    assert snapshot.unreflectable == {"staging": "ValueError: a type string nobody expected"}


def test_the_clock_is_aware_utc(warehouse: BigQueryStandin, make_source: MakeSource) -> None:
    now = make_source().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(timezone.utc)) < timedelta(minutes=5)
