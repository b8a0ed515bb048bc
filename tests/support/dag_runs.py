"""Run the test DAGs of tests/dag_files with ``dag.test()`` and read what their summary pushed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

DAG_FILES = Path(__file__).resolve().parents[1] / "dag_files"


def load_dag(name: str) -> Any:
    """Return the DAG ``omingest_test_<name>`` (``dag.test()`` needs a DAG that lives in a bundle)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAG_FILES)).get_dag(f"omingest_test_{name}")


def run_dag(dag: Any, **conf: Any) -> tuple[Any, dict[str, Any] | None]:
    """Run ``dag`` once with ``dag.test()``; return the dag run and the summary task's summary."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dr = dag.test(run_conf=conf or None)
    with create_session() as session:
        row = session.scalars(select(XComModel).where(
            XComModel.dag_id == dag.dag_id, XComModel.run_id == dr.run_id,
            XComModel.task_id == "summary", XComModel.key == "summary")).first()
        return dr, None if row is None else XComModel.deserialize_value(row)


def forget_watermark(dag_id: str) -> None:
    """Start a new ingestion history for ``dag_id`` (its watermark Variable is removed)."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key == f"omingest_watermark__{dag_id}").delete(
            synchronize_session=False)
