"""Smoke test of the benchmark harness (the full matrix is run by hand: see benchmarks/README.md).

Two tiny warehouses with the same schemas and twice the tables: full, no-change and incremental
runs of the engine alone, one DAG run under ``dag.test()``; the report and plot are written.
"""

from __future__ import annotations

import json
import time

import pytest

from benchmarks.run import main

pytestmark = pytest.mark.airflow


def test_harness_runs_and_statements_grow_with_schemas_not_tables(tmp_path):
    started = time.monotonic()
    out, md = tmp_path / "results", tmp_path / "RESULTS.md"
    assert main(["--shape", "3x10x8", "--shape", "3x20x8", "--dag-sizes", "60", "--dag-full-only",
                 "--threads", "2", "--threads-matrix", "", "--out", str(out), "--results-md", str(md)]) == 0
    (results,) = out.glob("results-*.json")
    records = json.loads(results.read_text())["records"]
    engine = {(r["shape"], r["scenario"]): r for r in records if r["layer"] == "engine"}
    assert all(r["status"] == "success" for r in records), records

    small, large = engine[("3x10x8", "full")], engine[("3x20x8", "full")]
    extra = 2  # the pg_stat_statements views in public
    assert (small["tables_fetched"], large["tables_fetched"]) == (30 + extra, 60 + extra)
    # Round trips to the source depend on the schemas, not on the tables in them.
    assert small["source_statements"] == large["source_statements"] > 0
    # The second run of the worker process reuses its engine: the same reads without the connection setup.
    again = engine[("3x10x8", "no-change (full)")]["source_statements"]
    assert 0 < again < small["source_statements"]
    for shape in ("3x10x8", "3x20x8"):
        no_change = engine[(shape, "no-change (incremental)")]
        assert no_change["mode"] == "incremental" and no_change["tables_fetched"] == 0
        incremental = engine[(shape, "incremental after 1% change")]
        assert incremental["mode"] == "incremental" and 0 < incremental["tables_fetched"] < 5
        assert engine[(shape, "full")]["catalog_statements"] > 0 and engine[(shape, "full")]["peak_rss_mib"] > 0

    (dag,) = [r for r in records if r["layer"] == "dag"]
    assert dag["scenario"] == "full" and dag["tables_fetched"] == 60 + extra
    assert dag["source_statements"] == large["source_statements"]
    assert 0 < dag["xcom_bytes"] < 100_000

    assert "## Targets" in md.read_text() and (out / "time_vs_tables.png").stat().st_size > 1000
    assert time.monotonic() - started < 60
