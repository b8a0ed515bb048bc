"""The ``omingest`` command line: pools, run, catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_omingest.cli import main
from airflow_provider_omingest.demo.warehouse import build_demo_warehouse

REPO = Path(__file__).resolve().parents[2]


def test_pools_creates_the_pools_the_example_dags_use(airflow_db, capsys):
    from airflow.models.pool import Pool

    for name in ("snowflake", "redshift", "bigquery"):
        pool = Pool.get_pool(name)
        if pool is not None:
            Pool.delete_pool(name)
    assert main(["pools", "--dags-folder", str(REPO / "dags")]) == 0
    out = capsys.readouterr().out
    assert "pool snowflake: created with 4 slots" in out
    assert Pool.get_pool("redshift").slots == 4
    assert main(["pools", "--dags-folder", str(REPO / "dags")]) == 0
    assert "pool bigquery: exists" in capsys.readouterr().out


def test_run_and_catalog_without_airflow(tmp_path, capsys):
    wh = build_demo_warehouse(tmp_path / "w.duckdb")
    catalog = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["run", "--source", f"duckdb:///{wh}", "--catalog", catalog, "--service", "demo"]) == 0
    assert "TOTAL" in capsys.readouterr().out
    assert main(["catalog", "--catalog", catalog, "--service", "demo"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 34 and lines[0].startswith("demo.w.")


def test_bad_arguments_exit_with_usage():
    with pytest.raises(SystemExit):
        main(["run", "--source", "x"])
