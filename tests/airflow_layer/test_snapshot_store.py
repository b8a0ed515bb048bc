"""Snapshots between extract and update: round trip, atomic write, clean-up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.models.entities import Column, Table
from airflow_provider_omingest.models.units import SchemaSnapshot, TableSlice
from airflow_provider_omingest.snapshot_store import (
    CREATED_MARKER,
    check_snapshot_conn_id,
    default_snapshot_conn_id,
    delete_run_snapshots,
    purge_stale_snapshots,
    read_snapshots,
    run_folder,
    write_snapshots,
)


def _snapshots():
    col = Column(name="id", data_type="INT", data_type_display="integer", ordinal_position=1)
    return [SchemaSnapshot(database="db", schema_name="s.1", tables=[Table(name="t", columns=(col,))],
                           table_slice=TableSlice(index=1, count=3), unreflectable={"x": "boom"})]


def test_round_trip_and_safe_names(tmp_path):
    base = f"file://{tmp_path}"
    path = write_snapshots(base, "dag", "manual__2026-11-21T10:00:00+00:00", "db/s.1/2of3", _snapshots())
    assert read_snapshots(path) == _snapshots()
    folder = run_folder(base, "dag", "manual__2026-11-21T10:00:00+00:00")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [CREATED_MARKER, "db_s.1_2of3.json.gz"]  # no temp file left, no path separators


def test_delete_and_purge(tmp_path):
    base = f"file://{tmp_path}"
    for run in ("old_failed", "recent_failed", "done"):
        write_snapshots(base, "dag", run, "u", _snapshots())
    old = run_folder(base, "dag", "old_failed") / CREATED_MARKER
    old.write_text((datetime.now(timezone.utc) - timedelta(days=8)).isoformat())
    delete_run_snapshots(base, "dag", "done")
    assert not run_folder(base, "dag", "done").exists()
    assert purge_stale_snapshots(base, "dag", older_than=timedelta(days=7)) == 1
    assert not run_folder(base, "dag", "old_failed").exists()
    assert run_folder(base, "dag", "recent_failed").exists()
    delete_run_snapshots(base, "dag", "never_ran")  # missing is fine
    assert purge_stale_snapshots(base, "other_dag", older_than=timedelta(days=7)) == 0


# --- On S3: moto's server, reached through ObjectStoragePath and an `aws` connection --------------

@pytest.fixture(scope="module")
def s3_server():
    from tests.support.s3_server import S3Server

    with S3Server() as server:
        yield server


@pytest.fixture
def s3_base(s3_server, monkeypatch, request):
    bucket = s3_server.create_bucket(f"snapshots-{abs(hash(request.node.name)) % 10**8}")
    monkeypatch.setenv("AIRFLOW_CONN_OMINGEST_TEST_SNAPSHOTS", s3_server.aws_connection_json())
    # Nothing may come from the environment's own AWS credentials: only the connection counts.
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    return bucket


def test_on_s3_through_an_aws_connection_write_read_delete(s3_server, s3_base):
    base, conn = f"s3://{s3_base}/omingest/snapshots", "omingest_test_snapshots"
    path = write_snapshots(base, "dag", "manual__1", "db/s.1/2of3", _snapshots(), conn_id=conn)
    # ObjectStoragePath writes the connection id into the URL (s3://conn_id@bucket/...): an id, no secret.
    assert path == f"s3://{conn}@{s3_base}/omingest/snapshots/dag/manual__1/db_s.1_2of3.json.gz"
    # boto3 is the judge: the objects are in the bucket, and no temp object is left.
    assert sorted(s3_server.keys(s3_base)) == [f"omingest/snapshots/dag/manual__1/{CREATED_MARKER}",
                                               "omingest/snapshots/dag/manual__1/db_s.1_2of3.json.gz"]
    assert read_snapshots(path, conn) == _snapshots()
    write_snapshots(base, "dag", "manual__2", "u", _snapshots(), conn_id=conn)
    delete_run_snapshots(base, "dag", "manual__1", conn)
    assert all("/manual__2/" in k for k in s3_server.keys(s3_base)), s3_server.keys(s3_base)
    old = run_folder(base, "dag", "manual__2", conn) / CREATED_MARKER
    old.write_text((datetime.now(timezone.utc) - timedelta(days=8)).isoformat())
    assert purge_stale_snapshots(base, "dag", older_than=timedelta(days=7), conn_id=conn) == 1
    assert s3_server.keys(s3_base) == []


def test_on_s3_a_missing_connection_is_a_config_error_not_a_silent_fallback(s3_base):
    """The Amazon provider would fall back to AWS's own endpoint and default credentials."""
    base = f"s3://{s3_base}/omingest"
    with pytest.raises(ConfigError, match=r"snapshot_conn_id='omingest_test_absent': no such Airflow connection"):
        write_snapshots(base, "dag", "r", "u", _snapshots(), conn_id="omingest_test_absent")


def test_the_configured_conn_id_is_validated(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OMINGEST__SNAPSHOT_CONN_ID", "not a conn id!")
    with pytest.raises(ConfigError, match=r"\[omingest\] snapshot_conn_id='not a conn id!'"):
        default_snapshot_conn_id()
    monkeypatch.setenv("AIRFLOW__OMINGEST__SNAPSHOT_CONN_ID", "omingest_snapshots")
    assert default_snapshot_conn_id() == "omingest_snapshots"
    assert check_snapshot_conn_id("{{ var.value.snapshots_conn }}") == "{{ var.value.snapshots_conn }}"


def test_a_scheme_without_a_registered_filesystem_names_the_package_to_install():
    with pytest.raises(ConfigError, match=r"no Airflow filesystem is registered for gs://; "
                                          r"install apache-airflow-providers-google"):
        write_snapshots("gs://bucket/x", "dag", "r", "u", _snapshots())
