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


def _run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version_and_help_without_markup(capsys):
    from airflow_provider_omingest import __version__

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"omingest {__version__}"
    for command in ([], ["demo"], ["run"], ["catalog"], ["pools"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = capsys.readouterr().out
        assert "``" not in text and ":param" not in text, text
        if command == ["run"]:
            for option in ("--source", "--catalog", "--service", "--mode", "--threads", "--include-schema",
                           "--exclude-table", "--safety-margin", "--dry-run", "--confirm-delete"):
                line = next(li for li in text.splitlines() if li.strip().startswith(option))
                assert len(line.split()) > 1 or option in ("--include-schema", "--exclude-table"), line


def test_bad_values_are_one_line_errors(tmp_path, capsys):
    wh = build_demo_warehouse(tmp_path / "w.duckdb")
    catalog = f"sqlite:///{tmp_path / 'c.db'}"
    code, _, err = _run_cli(capsys, "run", "--source", f"duckdb:///{wh}", "--catalog", catalog,
                            "--service", "demo", "--threads", "0")
    assert code == 2 and err.strip().splitlines() == [
        "omingest: error: Invalid threads=0: must be between 1 and 64 (1-8 is typical)"]
    code, _, err = _run_cli(capsys, "run", "--source", f"duckdb:///{wh}", "--catalog", catalog,
                            "--service", "demo", "--include-schema", "(")
    assert code == 2 and "table_filter" not in err and "schema_filter.include='('" in err
    assert "Traceback" not in err


def test_incremental_reads_the_watermark_from_the_catalog(tmp_path, capsys):
    wh = build_demo_warehouse(tmp_path / "w.duckdb")
    source, catalog = f"duckdb:///{wh}", f"sqlite:///{tmp_path / 'c.db'}"
    code, out, _ = _run_cli(capsys, "run", "--source", source, "--catalog", catalog, "--service", "demo",
                            "--mode", "incremental")
    assert code == 2  # no successful run yet: a clear refusal
    code, out, _ = _run_cli(capsys, "run", "--source", source, "--catalog", catalog, "--service", "demo")
    assert code == 0 and out.startswith("full run")
    code, out, err = _run_cli(capsys, "run", "--source", source, "--catalog", catalog, "--service", "demo",
                              "--mode", "incremental")
    assert code == 0 and out.startswith("incremental run"), err


def test_filters_on_run(tmp_path, capsys):
    wh = build_demo_warehouse(tmp_path / "w.duckdb")
    catalog = f"sqlite:///{tmp_path / 'c.db'}"
    code, out, _ = _run_cli(capsys, "run", "--source", f"duckdb:///{wh}", "--catalog", catalog,
                            "--service", "demo", "--include-schema", "^sales$")
    assert code == 0
    rows = [line.split()[0] for line in out.splitlines()[2:] if line.strip()]
    assert rows == ["sales", "TOTAL"]


def test_catalog_with_a_wrong_path_or_service_is_an_error(tmp_path, capsys):
    missing = tmp_path / "nope.db"
    code, out, err = _run_cli(capsys, "catalog", "--catalog", f"sqlite:///{missing}", "--service", "demo")
    assert code == 2 and str(missing) in err and not missing.exists() and out == ""
    wh = build_demo_warehouse(tmp_path / "w.duckdb")
    catalog = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["run", "--source", f"duckdb:///{wh}", "--catalog", catalog, "--service", "demo"]) == 0
    capsys.readouterr()
    code, out, err = _run_cli(capsys, "catalog", "--catalog", catalog, "--service", "dmeo")
    assert code == 2 and "'dmeo'" in err and "it holds: demo" in err and out == ""
