"""Row -> entity mapping from rows shaped exactly as BigQuery documents them (no server needed)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_omingest.models.entities import TableType
from airflow_provider_omingest.sources.bigquery.audit import (
    AUDIT_METHOD,
    AuditEvent,
    audit_filter,
    change_set_from_events,
    event_from_entry,
)
from airflow_provider_omingest.sources.bigquery.mapping import (
    ColumnRow,
    TableRow,
    build_columns,
    build_table,
    materialized_view_query,
    option_literals,
    parse_partitioning,
    parse_type,
)

SPEC = Path("/work/shared/openmetadata-spec/entity/data/table.json")
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def om_data_types() -> set[str]:
    return set(json.loads(SPEC.read_text())["definitions"]["dataType"]["enum"])


# ---------------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("spelled", "data_type", "array_type", "facts"),
    [
        pytest.param("INT64", "BIGINT", None, {}, id="int64"),
        pytest.param("FLOAT64", "DOUBLE", None, {}, id="float64"),
        pytest.param("BOOL", "BOOLEAN", None, {}, id="bool"),
        pytest.param("STRING(10)", "STRING", None, {"data_length": 10}, id="string-length"),
        pytest.param("BYTES(20)", "BYTES", None, {"data_length": 20}, id="bytes-length"),
        pytest.param("NUMERIC(10, 2)", "NUMERIC", None, {"precision": 10, "scale": 2}, id="numeric"),
        pytest.param("BIGNUMERIC(40)", "NUMERIC", None, {"precision": 40, "scale": 0}, id="bignumeric"),
        pytest.param("TIMESTAMP", "TIMESTAMP", None, {}, id="timestamp"),
        pytest.param("DATETIME", "DATETIME", None, {}, id="datetime"),
        pytest.param("GEOGRAPHY", "GEOGRAPHY", None, {}, id="geography"),
        pytest.param("JSON", "JSON", None, {}, id="json"),
        pytest.param("INTERVAL", "INTERVAL", None, {}, id="interval"),
        pytest.param("RANGE<DATE>", "DATETIMERANGE", None, {}, id="range"),
        pytest.param("ARRAY<STRING>", "ARRAY", "STRING", {}, id="array"),
        pytest.param("ARRAY<STRUCT<a INT64>>", "ARRAY", "STRUCT", {}, id="array-struct"),
        pytest.param("STRUCT<a INT64, b STRING>", "STRUCT", None, {}, id="struct"),
    ],
)
def test_column_types(spelled: str, data_type: str, array_type: str | None, facts: dict[str, int]) -> None:
    (column,), _ = build_columns([ColumnRow("t", "c", 1, "YES", spelled, field_path="c")])
    assert (column.data_type, column.array_data_type, column.data_type_display) == (data_type, array_type, spelled)
    assert {k: getattr(column, k) for k in facts} == facts
    assert {column.data_type, column.array_data_type or "ARRAY"} <= om_data_types()


def test_unknown_type_maps_to_unknown() -> None:
    (column,), _ = build_columns([ColumnRow("t", "c", 1, "YES", "FANCY_NEW_TYPE")])
    assert column.data_type == "UNKNOWN"


def test_parse_nested_struct_with_quoted_names_and_not_null() -> None:
    parsed = parse_type("STRUCT<`first name` STRING NOT NULL, inner STRUCT<x ARRAY<NUMERIC(5, 1)>, y DATE>>")
    assert [f.name for f in parsed.fields] == ["first name", "inner"]
    assert parsed.fields[0].not_null and not parsed.fields[1].not_null
    inner = parsed.fields[1].type
    assert [f.name for f in inner.fields] == ["x", "y"]
    assert inner.fields[0].type.element is not None and inner.fields[0].type.element.params == ("5", "1")


def test_nested_columns_take_descriptions_and_policy_tags_from_field_paths() -> None:
    data_type = "ARRAY<STRUCT<sku STRING, price STRUCT<amount NUMERIC(10, 2) NOT NULL, currency STRING>>>"
    rows = [
        ColumnRow("orders", "id", 1, "NO", "INT64", field_path="id", description="Order id"),
        ColumnRow("orders", "items", 2, "YES", data_type, field_path="items", description="Lines"),
        ColumnRow("orders", "items", 2, "YES", data_type, field_path="items.sku", description="Stock unit"),
        ColumnRow("orders", "items", 2, "YES", data_type, field_path="items.price"),
        ColumnRow("orders", "items", 2, "YES", data_type, field_path="items.price.amount",
                  description="Amount", policy_tags=("projects/p/locations/us/taxonomies/1/policyTags/9",)),
        ColumnRow("orders", "items", 2, "YES", data_type, field_path="items.price.currency"),
    ]
    columns, _ = build_columns(reversed(rows), policy_tag_prefix="policy_tag:")
    assert [c.name for c in columns] == ["id", "items"]
    id_, items = columns
    assert (id_.nullable, id_.description) == (False, "Order id")
    assert (items.data_type, items.array_data_type, items.description) == ("ARRAY", "STRUCT", "Lines")
    sku, price = items.children
    assert (sku.name, sku.description, sku.ordinal_position) == ("sku", "Stock unit", 1)
    assert (price.data_type, price.ordinal_position) == ("STRUCT", 2)
    amount, currency = price.children
    assert (amount.data_type, amount.precision, amount.scale, amount.nullable) == ("NUMERIC", 10, 2, False)
    assert amount.description == "Amount"
    assert amount.tags == ("policy_tag:projects/p/locations/us/taxonomies/1/policyTags/9",)
    assert currency.nullable and not currency.children


def test_hidden_pseudo_columns_are_partitioning_facts_not_columns() -> None:
    rows = [
        ColumnRow("events", "payload", 1, "YES", "JSON", field_path="payload"),
        ColumnRow("events", "_PARTITIONTIME", None, "YES", "TIMESTAMP", is_hidden="YES", is_partitioning_column="YES"),
        ColumnRow("events", "_PARTITIONDATE", None, "YES", "DATE", is_hidden="YES", is_partitioning_column="YES"),
    ]
    columns, facts = build_columns(rows)
    assert [c.name for c in columns] == ["payload"]
    assert set(facts["partition_columns"]) == {"_PARTITIONTIME", "_PARTITIONDATE"}
    assert set(facts["hidden"]) == {"_PARTITIONTIME", "_PARTITIONDATE"}


def test_column_default_null_string_means_no_default() -> None:
    rows = [ColumnRow("t", "a", 1, "YES", "STRING", column_default="NULL"),
            ColumnRow("t", "b", 2, "YES", "STRING", column_default='"n/a"')]
    a, b = build_columns(rows)[0]
    assert (a.default, b.default) == (None, '"n/a"')


# ---------------------------------------------------------------------- options, DDL


def test_option_literals() -> None:
    assert option_literals('"Orders \\"all\\" of them\\nsecond line"') == ['Orders "all" of them\nsecond line']
    assert option_literals('[STRUCT("env", "prod"), STRUCT("team", "sales")]') == ["env", "prod", "team", "sales"]
    assert option_literals('["gs://b/a.parquet", "gs://b/b.parquet"]') == ["gs://b/a.parquet", "gs://b/b.parquet"]
    assert option_literals("7.5") == ["7.5"]
    assert option_literals("[]") == []
    assert option_literals(None) == []


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("PARTITION BY DATE(ts)", {"partition_interval_type": "TIME-UNIT", "partition_interval": "DAY",
                                   "partition_field": "ts"}),
        ("PARTITION BY day", {"partition_interval_type": "TIME-UNIT", "partition_interval": "DAY",
                              "partition_field": "day"}),
        ("PARTITION BY TIMESTAMP_TRUNC(ts, HOUR)", {"partition_interval_type": "TIME-UNIT",
                                                    "partition_interval": "HOUR", "partition_field": "ts"}),
        ("PARTITION BY DATE_TRUNC(d, MONTH)", {"partition_interval_type": "TIME-UNIT", "partition_interval": "MONTH",
                                               "partition_field": "d"}),
        ("PARTITION BY _PARTITIONDATE", {"partition_interval_type": "INGESTION-TIME", "partition_interval": "DAY",
                                         "partition_field": "_PARTITIONTIME"}),
        ("PARTITION BY TIMESTAMP_TRUNC(_PARTITIONTIME, HOUR)", {"partition_interval_type": "INGESTION-TIME",
                                                                "partition_interval": "HOUR",
                                                                "partition_field": "_PARTITIONTIME"}),
        ("PARTITION BY RANGE_BUCKET(customer_id, GENERATE_ARRAY(0, 100, 10))",
         {"partition_interval_type": "INTEGER-RANGE", "partition_field": "customer_id", "partition_range": "0,100,10"}),
    ],
)
def test_parse_partitioning(clause: str, expected: dict[str, str]) -> None:
    ddl = f'CREATE TABLE `p.d.t`\n(\n  ts TIMESTAMP\n)\n{clause}\nCLUSTER BY a\nOPTIONS(\n  description="x"\n);'
    assert parse_partitioning(ddl) == expected


def test_partition_keywords_inside_descriptions_are_ignored() -> None:
    ddl = 'CREATE TABLE `p.d.t`\n(\n  a INT64 OPTIONS(description="PARTITION BY DATE(a)")\n);'
    assert parse_partitioning(ddl) == {}


def test_materialized_view_query_skips_as_inside_options() -> None:
    ddl = ('CREATE MATERIALIZED VIEW `p.d.mv`\nPARTITION BY DATE(ts)\nOPTIONS(\n  description="known AS the '
           'daily roll-up", enable_refresh=true\n)\nAS SELECT DATE(ts) AS day, COUNT(*) AS n FROM d.t GROUP BY 1;')
    assert materialized_view_query(ddl) == "SELECT DATE(ts) AS day, COUNT(*) AS n FROM d.t GROUP BY 1"


# ---------------------------------------------------------------------- tables


def test_snapshot_external_and_materialized_view_rows() -> None:
    snapshot = build_table(TableRow("orders_snap", "SNAPSHOT", ddl="CREATE SNAPSHOT TABLE `p.d.orders_snap`\nCLONE "
                                    "`p.d.orders`;", base_table_catalog="p", base_table_schema="d",
                                    base_table_name="orders", snapshot_time="2024-05-01T00:00:00+00:00"), [])
    assert snapshot.table_type is TableType.REGULAR
    assert snapshot.properties["base_table"] == "p.d.orders"
    assert snapshot.properties["bigquery_table_type"] == "SNAPSHOT"
    external = build_table(TableRow("ext", "EXTERNAL", options={"format": '"PARQUET"',
                                                                "uris": '["gs://b/x/*.parquet"]'}), [])
    assert external.table_type is TableType.EXTERNAL
    assert (external.properties["external_format"], external.properties["external_uris"]) == (
        "PARQUET", "gs://b/x/*.parquet")
    mv = build_table(TableRow("mv", "MATERIALIZED VIEW", ddl="CREATE MATERIALIZED VIEW `p.d.mv`\nAS SELECT 1 AS x;",
                              row_count=5), [ColumnRow("mv", "x", 1, "YES", "INT64")])
    assert (mv.table_type, mv.view_definition, mv.row_count) == (TableType.MATERIALIZED_VIEW, "SELECT 1 AS x", None)


def test_table_options_labels_and_digest() -> None:
    row = TableRow("t", "BASE TABLE", options={"description": '"Facts"', "labels": '[STRUCT("env", "prod")]',
                                               "partition_expiration_days": "7.0",
                                               "require_partition_filter": "true"},
                   creation_time_ms=1, last_modified_time_ms=2, row_count=10)
    table = build_table(row, [], label_prefix="label:")
    assert (table.description, table.tags, table.row_count) == ("Facts", ("label:env=prod",), 10)
    assert table.properties["partition_expiration_days"] == "7.0"
    assert table.properties["require_partition_filter"] == "true"
    modified = build_table(TableRow("t", "BASE TABLE", creation_time_ms=1, last_modified_time_ms=3), [])
    assert table.source_digest and modified.source_digest != table.source_digest
    assert table.fingerprint() == build_table(
        TableRow(**{**row.__dict__, "last_modified_time_ms": 9, "row_count": 99}), [], label_prefix="label:"
    ).fingerprint(), "times and row counts are volatile"


# ---------------------------------------------------------------------- audit log entries


def entry(method: str, resource: str, **metadata: object) -> dict[str, object]:
    """A ``protoPayload`` as Cloud Logging returns it for BigQueryAuditMetadata."""
    return {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "serviceName": "bigquery.googleapis.com",
        "methodName": f"google.cloud.bigquery.v2.{method}",
        "resourceName": resource,
        "metadata": {"@type": "type.googleapis.com/google.cloud.audit.BigQueryAuditMetadata", **metadata},
    }


def test_events_from_entries() -> None:
    created = event_from_entry(entry("JobService.InsertJob", "projects/p/datasets/d/tables/t",
                                     tableCreation={"reason": "QUERY"}), T0)
    assert created == AuditEvent(T0, "p", "d", "t", dropped=False)
    deleted = event_from_entry(entry("TableService.DeleteTable", "projects/p/datasets/d/tables/t",
                                     tableDeletion={"reason": "TABLE_DELETE_REQUEST"}), T0)
    assert deleted is not None and deleted.dropped
    partition = event_from_entry(entry("JobService.InsertJob", "projects/p/datasets/d/tables/t$20240501",
                                       tableChange={"reason": "JOB"}), T0)
    assert partition is not None and partition.table == "t"
    by_metadata = event_from_entry(entry("JobService.InsertJob", "projects/p/jobs/job_1", tableCreation={
        "table": {"tableName": "projects/p/datasets/d/tables/from_meta"}, "reason": "JOB"}), T0)
    assert by_metadata is not None and by_metadata.table == "from_meta"
    dataset = event_from_entry(entry("DatasetService.DeleteDataset", "projects/p/datasets/old",
                                     datasetDeletion={"reason": "DELETE"}), T0)
    assert dataset == AuditEvent(T0, "p", "old", None, dropped=True)
    assert event_from_entry(entry("JobService.InsertJob", "projects/p/datasets/d/tables/t",
                                  tableDataRead={"reason": "JOB"}), T0) is None
    assert event_from_entry(None, T0) is None


def test_change_set_newest_event_wins_and_anonymous_datasets_are_skipped() -> None:
    events = [
        AuditEvent(T0 + timedelta(minutes=2), "p", "d", "recreated", dropped=False),
        AuditEvent(T0 + timedelta(minutes=1), "p", "d", "recreated", dropped=True),
        AuditEvent(T0, "p", "d", "gone", dropped=False),
        AuditEvent(T0 + timedelta(minutes=3), "p", "d", "gone", dropped=True),
        AuditEvent(T0, "p", "_0a1b2c", "anon", dropped=False),
        AuditEvent(T0, "p", "new_ds", None, dropped=False),
    ]
    changes = change_set_from_events(events, since=T0, until=T0 + timedelta(hours=1))
    assert changes.method == AUDIT_METHOD
    assert [r.table for r in changes.changed] == ["recreated"]
    assert [r.table for r in changes.dropped] == ["gone"]
    assert changes.created_schemas == [("p", "new_ds")]


def test_audit_filter_names_every_method_and_the_window() -> None:
    text = audit_filter(datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))))
    assert 'timestamp>="2024-05-01T12:00:00.000000Z"' in text
    for name in ("TableService.InsertTable", "TableService.UpdateTable", "TableService.PatchTable",
                 "TableService.DeleteTable", "JobService.InsertJob", "tableCreation:*", "tableChange:*",
                 "tableDeletion:*", "BigQueryAuditMetadata"):
        assert name in text
