"""Every DAG example in the README is a file in docs/examples, and each one runs as written.

Run with the demo warehouse behind the connection ``warehouse`` and a SQLite catalog behind
``omingest_catalog``: a full run, then an ``auto`` run that is incremental, and the trigger conf
``mode=full`` honoured.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from airflow_provider_omingest.demo.warehouse import build_demo_warehouse, mutate_demo_warehouse

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "examples"
README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_every_python_block_of_the_readme_is_an_example_file():
    files = {p.name: p.read_text() for p in EXAMPLES.glob("*.py")}
    dag_blocks = [b for b in BLOCKS if "DAG" in b or "build_ingestion_dag" in b]
    assert dag_blocks, "the README shows no DAG"
    for block in dag_blocks:
        assert block in files.values(), f"this README block is not a file of docs/examples:\n{block}"
    shown = {name for name, text in files.items() if text in dag_blocks}
    assert shown == set(files), f"examples not shown in the README: {set(files) - shown}"


@pytest.fixture
def demo(tmp_path, monkeypatch, airflow_db):
    warehouse = build_demo_warehouse(tmp_path / "warehouse.duckdb")
    catalog_path = tmp_path / "catalog.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(warehouse)}))
    monkeypatch.setenv("AIRFLOW_CONN_OMINGEST_CATALOG", json.dumps({"conn_type": "sqlite", "host": str(catalog_path)}))
    monkeypatch.setenv("AIRFLOW__OMINGEST__SNAPSHOT_PATH", f"file://{tmp_path}/snapshots")
    from tests.airflow_layer.test_dag_end_to_end import _forget_watermarks

    _forget_watermarks()
    with SqlCatalog(f"sqlite:///{catalog_path}") as catalog:
        yield warehouse, catalog


def _summary(dag, run_id, task_id):
    from tests.airflow_layer.test_dag_end_to_end import _xcom

    return _xcom(dag.dag_id, run_id, task_id, "summary")


@pytest.mark.airflow
@pytest.mark.parametrize("dag_id, summary_task, schemas", [
    ("ingest_warehouse", "summary", {"sales", "finance", "marketing", "staging"}),
    ("after_dbt", "metadata.summary", {"sales", "finance"}),
    ("composed_operators", "summary", {"sales", "finance", "marketing", "staging"}),
    ("ingest_after_dbt", "summary", {"sales", "finance", "marketing", "staging"}),
])
def test_each_example_runs_full_then_incremental_and_honours_the_trigger_conf(demo, dag_id, summary_task, schemas):
    from airflow.dag_processing.dagbag import DagBag

    warehouse, catalog = demo
    dag = DagBag(dag_folder=str(EXAMPLES)).get_dag(dag_id)
    assert dag is not None, dag_id
    first = dag.test()
    assert first.state == "success"
    summary = _summary(dag, first.run_id, summary_task)
    assert summary["mode"] == "full" and set(summary["schemas"]) == schemas
    mutate_demo_warehouse(warehouse)
    second = dag.test()
    assert second.state == "success" and _summary(dag, second.run_id, summary_task)["mode"] == "incremental"
    third = dag.test(run_conf={"mode": "full"})
    assert third.state == "success" and _summary(dag, third.run_id, summary_task)["mode"] == "full"
    labels = _map_labels(dag.dag_id, third.run_id)
    assert labels and all(label.startswith("warehouse: ") for label in labels), labels


def _map_labels(dag_id, run_id):
    from sqlalchemy import select

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return [ti.rendered_map_index for ti in session.scalars(select(TaskInstance).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.map_index >= 0,
            TaskInstance.task_id.like("%extract")))]


@pytest.mark.airflow
def test_the_assets_example_emits_on_the_service_asset_and_its_downstream_dag_runs(demo):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bag = DagBag(dag_folder=str(EXAMPLES))
    ingest, downstream = bag.get_dag("ingest_after_dbt"), bag.get_dag("after_catalog_sync")
    assert downstream.timetable.asset_condition.objects[0].uri == "omingest://warehouse/"
    run = ingest.test()
    assert run.state == "success"
    with create_session() as session:
        extras = session.scalars(select(AssetEvent.extra).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                                 .where(AssetModel.uri == "omingest://warehouse/",
                                        AssetEvent.source_run_id == run.run_id)).all()
    assert len(extras) == 1 and extras[0]["counts"]["created"] == 34
    assert downstream.test().state == "success"
