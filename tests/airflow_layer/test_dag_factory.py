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
        ({"snapshot_conn_id": "my snapshots"}, "snapshot_conn_id='my snapshots'"),
        ({"snapshot_conn_id": ""}, "snapshot_conn_id=''"),
    ],
)
def test_bad_settings_fail_at_parse_time_naming_the_value(kwargs, named):
    with pytest.raises(ConfigError) as info:
        _dag(**kwargs)
    assert named in str(info.value)


def test_the_snapshot_connection_reaches_every_task_that_touches_snapshots():
    dag = _dag(snapshot_path="s3://bucket/omingest", snapshot_conn_id="omingest_snapshots")
    for task_id in ("unit.extract", "summary"):
        task = dag.task_dict[task_id]
        assert (task.snapshot_path, task.snapshot_conn_id) == ("s3://bucket/omingest", "omingest_snapshots")
        assert "snapshot_conn_id" in task.template_fields
    assert _dag().task_dict["unit.extract"].snapshot_conn_id is None  # [omingest] snapshot_conn_id at run time


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


@pytest.mark.parametrize(
    "kwargs, named, listed",
    [
        ({"filters": {"schemas": {"exclude": ["^tmp_"]}}}, "filters.schemas", "database, schema, table"),
        ({"filters": {"schema": {"exlude": ["^tmp_"]}}}, "filters.schema.exlude", "exclude, include"),
        ({"thread": 8}, "thread", "threads"),
        ({"max_delete_fractoin": 0.5}, "max_delete_fractoin", "max_delete_fraction"),
    ],
)
def test_unknown_keys_fail_at_parse_time_naming_the_key_and_the_valid_ones(kwargs, named, listed):
    with pytest.raises(ConfigError) as info:
        _dag(**kwargs)
    message = str(info.value)
    assert f"Invalid {named}=" in message and listed in message, message


def test_operators_refuse_unknown_settings_at_construction():
    from airflow_provider_omingest.operators import OmingestPlanOperator

    with pytest.raises(ConfigError, match="Invalid thread=8: unknown key; valid keys are: .*threads"):
        OmingestPlanOperator(task_id="plan", source_conn_id="wh", catalog_conn_id="cat",
                             settings={"service": "svc", "thread": 8})


def _valid_values() -> dict:
    from datetime import timedelta

    return {"service": "svc", "filters": {"table": {"exclude": ["_bak$"]}}, "threads": 3, "tables_per_unit": 50,
            "min_tables_per_unit": 5, "max_units": 12, "max_delete_fraction": 0.3, "hard_delete": True,
            "delete_vanished_schemas": False, "delete_vanished_databases": False, "safety_margin": "90m",
            "lookback": timedelta(days=3)}


def test_the_factory_takes_every_settings_field():
    from airflow_provider_omingest.config import IngestionSettings

    values = _valid_values()
    assert set(values) == set(IngestionSettings.model_fields), "a settings field is missing from this test"
    dag = build_ingestion_dag("t_every_field", source_conn_id="wh", **values)
    settings = dag.task_dict["plan"].settings
    assert settings == IngestionSettings.model_validate(values)
    assert dag.task_dict["unit.extract"].settings == settings == dag.task_dict["summary"].settings


def test_the_factory_docstring_lists_every_settings_field_with_its_default():
    from airflow_provider_omingest.config import IngestionSettings

    doc = build_ingestion_dag.__doc__
    for name, field in IngestionSettings.model_fields.items():
        line = next((li for li in doc.splitlines() if li.strip().startswith(f"- ``{name}``")), None)
        assert line is not None, f"{name} is not documented"
        if not field.is_required():
            assert repr(field.default) in line


def test_the_readme_documents_every_settings_field_with_its_default():
    from airflow_provider_omingest.config import IngestionSettings

    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("### `build_ingestion_dag` reference"):]
    rows = {line.split("|")[1].strip().strip("`"): line.split("|")[2].strip()
            for line in table.splitlines() if line.startswith("| `")}
    for name in IngestionSettings.model_fields:
        assert name in rows, f"README's build_ingestion_dag table lacks {name}"


def test_safety_margin_param_is_validated_at_trigger_time():
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    from airflow_provider_omingest.dag_factory import ingestion_params

    params = ParamsDict(ingestion_params())
    for good in (None, "3h", "90m", "1d", "3600"):
        params["safety_margin"] = good
        params.validate()
    for bad in ("soon", "3 hours", "-1h"):
        with pytest.raises(ParamValidationError, match="does not match"):
            params["safety_margin"] = bad  # Airflow validates when the trigger conf is applied
            params.validate()


def test_task_group_for_dag_authors_has_the_params_and_labels():
    from airflow.sdk import DAG

    from airflow_provider_omingest import ingestion_task_group
    from airflow_provider_omingest.operators.wiring import UNIT_MAP_INDEX_TEMPLATE

    with DAG("t_group", schedule=None) as dag:
        group = ingestion_task_group("ingest", source_conn_id="wh", service="svc", threads=3, pool="p")
    assert set(dag.task_dict) == {"ingest.plan", "ingest.unit.extract", "ingest.unit.update", "ingest.delete",
                                  "ingest.summary"}
    assert group.group_id == "ingest"
    assert set(dag.params) == {"mode", "dry_run", "confirm_delete", "safety_margin"}
    extract = dag.task_dict["ingest.unit.extract"]
    assert extract.map_index_template == UNIT_MAP_INDEX_TEMPLATE and extract.pool == "p"
    summary = dag.task_dict["ingest.summary"]
    assert (summary.plan_task_id, summary.update_task_id, summary.delete_task_id) == (
        "ingest.plan", "ingest.unit.update", "ingest.delete")
    assert summary.watermark_key == dag.task_dict["ingest.plan"].watermark_key == "t_group.ingest"
    with pytest.raises(ConfigError, match="inside `with DAG"):
        ingestion_task_group("outside", source_conn_id="wh", service="svc")
    with pytest.raises(ConfigError, match="Invalid thread=2"), DAG("t_group_bad", schedule=None):
        ingestion_task_group("ingest", source_conn_id="wh", service="svc", thread=2)
