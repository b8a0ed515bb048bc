"""The DAG factory validates at parse time and builds the documented shape."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_omingest import build_ingestion_dag
from airflow_provider_omingest.exceptions import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _dag(**kw):
    args = dict(source_conn_id="wh", service="svc")
    args.update(kw)
    return build_ingestion_dag("t_factory", **args)


def test_shape_params_and_caps():
    dag = _dag(threads=3, pool="wh_pool", schedule="@daily")
    assert set(dag.task_dict) == {"plan", "unit.extract", "unit.update", "delete", "summary"}
    extract = dag.task_dict["unit.extract"]
    assert extract.pool == "wh_pool"
    assert extract.max_active_tis_per_dagrun == 3
    assert dag.task_dict["delete"].trigger_rule == "all_done"
    assert dag.task_dict["summary"].trigger_rule == "all_done"
    assert dag.max_active_runs == 1
    assert set(dag.params) >= {"mode", "dry_run", "confirm_delete", "safety_margin"}
    assert dag.params["mode"] == "auto"
    assert set(dag.task_dict["plan"].template_fields) == {
        "source_conn_id", "catalog_conn_id", "mode", "dry_run", "safety_margin"}


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"filters": {"schema": {"include": ["sales[" ]}}}, "schema_filter.include"),
        ({"filters": {"table": {"exclude": ["(unclosed"]}}}, "(unclosed"),
        ({"filters": {"database": {"include": ["*bad"]}}}, "*bad"),
        ({"threads": 0}, "threads"),
        ({"min_tables_per_unit": 0}, "min_tables_per_unit"),
        ({"max_delete_fraction": 1.5}, "max_delete_fraction"),
        ({"service": " "}, "service"),
        ({"default_mode": "sometimes"}, "sometimes"),
        ({"pool": ""}, "pool"),
        ({"safety_margin": "three hours"}, "three hours"),
        ({"lookback": "-1d"}, "lookback"),
    ],
)
def test_bad_settings_fail_at_parse_time_naming_the_value(kwargs, named):
    with pytest.raises(ConfigError) as info:
        _dag(**kwargs)
    assert named in str(info.value)


def test_dag_file_parse_is_light():
    """Parsing the example DAGs imports no warehouse client and opens no connection."""
    code = (
        "import sys, runpy\n"
        f"runpy.run_path({str(REPO / 'dags' / 'omingest_demo.py')!r})\n"
        "heavy = [m for m in ('duckdb', 'psycopg', 'snowflake.connector', 'redshift_connector',"
        " 'google.cloud.bigquery', 'airflow_provider_omingest.sources.sql.source',"
        " 'airflow_provider_omingest.catalog.sql_catalog') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
