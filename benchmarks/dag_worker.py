"""Run ingestion DAG scenarios with ``dag.test()`` in an Airflow home made for the benchmark.

``dag.test()`` needs DAGs that live in a DAG bundle: the worker writes a one-DAG bundle folder,
points Airflow (a SQLite metadata database in a fresh ``AIRFLOW_HOME``) at it, and creates the
connections as ``AIRFLOW_CONN_*`` variables. ``dag.test()`` runs the tasks one at a time in
this process: the figures show Airflow's per-task overhead, not the concurrency of mapped tasks
under a real scheduler (tested elsewhere).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import RssSampler, SourceStatements

DAG_ID = "omingest_bench"

DAG_FILE = '''\
"""The benchmark's ingestion DAG (written by benchmarks/dag_worker.py)."""
import os

from airflow_provider_omingest import build_ingestion_dag

dag = build_ingestion_dag(
    "{dag_id}", source_conn_id="bench_wh", catalog_conn_id="bench_cat", service="bench",
    threads=int(os.environ.get("OMINGEST_BENCH_THREADS", "4")),
    tables_per_unit=int(os.environ.get("OMINGEST_BENCH_TABLES_PER_UNIT", "1000")),
    retries=0,
)
'''


def configure_airflow(home: Path, spec: dict[str, Any]) -> Path:
    """Set the environment of an isolated Airflow (before Airflow is imported); return the bundle."""
    bundle = home / "dags"
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "omingest_bench_dag.py").write_text(DAG_FILE.format(dag_id=DAG_ID))
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(bundle),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([
            {"name": "omingest-bench", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
             "kwargs": {"path": str(bundle)}}]),
        "AIRFLOW__OMINGEST__SNAPSHOT_PATH": f"file://{home}/snapshots",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": spec.get("log_level", "WARNING"),
        "AIRFLOW_CONN_BENCH_WH": json.dumps(spec["source_conn"]),
        "AIRFLOW_CONN_BENCH_CAT": json.dumps(spec["catalog_conn"]),
        "OMINGEST_BENCH_THREADS": str(spec["threads"]),
        "OMINGEST_BENCH_TABLES_PER_UNIT": str(spec.get("tables_per_unit", 1000)),
    }
    os.environ.update(env)
    os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    return bundle


def xcom_bytes(dag_id: str, run_id: str) -> dict[str, int]:
    """Sum of the JSON sizes of a DAG run's XComs, per task id (read through the ORM)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    sizes: dict[str, int] = {}
    with create_session() as session:
        for row in session.scalars(select(XComModel).where(XComModel.dag_id == dag_id,
                                                           XComModel.run_id == run_id)):
            value = row.value
            size = len(value.encode()) if isinstance(value, str) else len(json.dumps(value).encode())
            sizes[row.task_id] = sizes.get(row.task_id, 0) + size
    return sizes


def _task_times(dag_id: str, run_id: str) -> dict[str, Any]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id,
                                                         TaskInstance.run_id == run_id)).all()
        per_task: dict[str, float] = {}
        for ti in tis:
            per_task[ti.task_id] = per_task.get(ti.task_id, 0.0) + float(ti.duration or 0.0)
        return {"task_instances": len(tis), "task_seconds": {k: round(v, 3) for k, v in per_task.items()}}


def run_dag(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the steps of a ``dag`` spec; return one record per step."""
    from benchmarks.worker import run_steps

    home = Path(spec["airflow_home"])
    bundle = configure_airflow(home, spec)
    import logging

    from airflow.utils import db

    started = time.perf_counter()
    db.resetdb()
    init_s = time.perf_counter() - started
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(bundle)).get_dag(DAG_ID)
    logging.getLogger("airflow_provider_omingest").setLevel(logging.WARNING)
    statements = SourceStatements(spec["admin_dsn"], spec["database"])
    sleeps = _count_dag_test_sleeps()

    def run_once(step: dict[str, Any]) -> dict[str, Any]:
        statements.reset()
        sleeps.seconds = 0.0
        with RssSampler() as rss:
            started = time.perf_counter()
            dr = dag.test(run_conf={"mode": step["mode"]})
            seconds = time.perf_counter() - started
        stm = statements.read()
        summary = _summary(DAG_ID, dr.run_id)
        xcoms = xcom_bytes(DAG_ID, dr.run_id)
        return {
            "step": "run", "scenario": step["name"], "mode": summary.get("mode"), "status": str(dr.state),
            "wall_s": round(seconds, 3), "source_statements": stm["statements"],
            "source_distinct_statements": stm["distinct"], "tables_fetched": summary.get("tables_fetched"),
            "peak_rss_mib": round(rss.peak, 1), "rss_before_mib": round(rss.start_rss, 1),
            "units": summary.get("units"), "totals": summary.get("totals"),
            "xcom_bytes": sum(xcoms.values()), "xcom_bytes_by_task": xcoms,
            "airflow_db_init_s": round(init_s, 2), "dag_test_sleep_s": round(sleeps.seconds, 2),
            **_task_times(DAG_ID, dr.run_id),
        }

    records = run_steps(spec, run_once)
    return records


class _SleepCounter:
    """Wraps ``time.sleep``: counts the seconds slept by ``dag.test()`` itself."""

    def __init__(self, sleep: Any) -> None:
        self.seconds = 0.0
        self._sleep = sleep

    def __call__(self, seconds: float) -> None:
        caller = sys._getframe(1).f_code.co_filename.replace("\\", "/")
        if caller.endswith("airflow/sdk/definitions/dag.py"):
            self.seconds += seconds
        self._sleep(seconds)


def _count_dag_test_sleeps() -> _SleepCounter:
    """Count the seconds ``dag.test()`` sleeps when no task is ready (its 1 s polling, not Airflow's cost).

    ``dag.test()`` imports ``time`` inside the function, so ``time.sleep`` itself is wrapped
    (for this worker process only) and the sleeps are attributed by their caller's file.
    """
    counter = _SleepCounter(time.sleep)
    time.sleep = counter  # type: ignore[assignment]
    return counter


def _summary(dag_id: str, run_id: str) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(select(XComModel).where(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.task_id == "summary",
            XComModel.key == "summary")).first()
        return {} if row is None else XComModel.deserialize_value(row)
