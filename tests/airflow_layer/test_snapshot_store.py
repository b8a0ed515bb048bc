"""Snapshots between extract and update: round trip, atomic write, clean-up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_omingest.models.entities import Column, Table
from airflow_provider_omingest.models.units import SchemaSnapshot, TableSlice
from airflow_provider_omingest.snapshot_store import (
    CREATED_MARKER,
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
