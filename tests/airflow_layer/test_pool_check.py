"""The provider's listener: an omingest run whose pool does not exist fails at once, or gets its pool.

The scheduler calls ``on_dag_run_running`` with the serialized DAG attached to the run and the run
in its own session; here a DagRun is added to a session on the test metadata database the same way
(nothing is committed). The real scheduler is exercised in tests/e2e/test_scheduler.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_omingest.plugins import pool_check
from airflow_provider_omingest.pools import is_omingest_dag, missing_pools, pools_wanted

pytestmark = pytest.mark.airflow

DAG_FILES = Path(__file__).resolve().parents[1] / "dag_files"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def session(airflow_db):
    from airflow.utils.session import create_session

    with create_session() as s:
        yield s
        s.rollback()


def _run_of(dag, session):
    from airflow.models.dagrun import DagRun
    from airflow.utils.state import DagRunState

    run = DagRun(dag_id=dag.dag_id, run_id="manual__pool_check", run_type="manual", state=DagRunState.RUNNING)
    session.add(run)
    run.dag = dag
    return run


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags")).get_dag(dag_id)


def test_missing_pools_are_those_of_omingest_dags_only(airflow_db):
    dag = _dag("omingest_snowflake")
    assert is_omingest_dag(dag)
    assert missing_pools(dag, ["default_pool"]) == {"snowflake": 4}
    assert missing_pools(dag, ["default_pool", "snowflake"]) == {}
    assert pools_wanted([dag]) == {"snowflake": 4}

    class Other:
        tasks = [type("T", (), {"task_type": "BashOperator", "pool": "nowhere"})()]

    assert missing_pools(Other(), []) == {}


def test_the_run_fails_with_a_note_naming_the_pool_and_the_fix(session, monkeypatch):
    from airflow.models.pool import Pool

    monkeypatch.delenv("AIRFLOW__OMINGEST__MISSING_POOLS", raising=False)
    Pool.delete_pool("snowflake") if Pool.get_pool("snowflake") else None
    run = _run_of(_dag("omingest_snowflake"), session)
    pool_check.on_dag_run_running(dag_run=run, msg="started")
    assert run.state == "failed"
    assert "'snowflake'" in run.note and "omingest pools" in run.note
    assert "airflow pools set snowflake 4" in run.note


def test_create_mode_adds_the_pool_and_lets_the_run_go_on(session, monkeypatch):
    from airflow.models.pool import Pool

    monkeypatch.setenv("AIRFLOW__OMINGEST__MISSING_POOLS", "create")
    Pool.delete_pool("redshift") if Pool.get_pool("redshift") else None
    run = _run_of(_dag("omingest_redshift"), session)
    pool_check.on_dag_run_running(dag_run=run, msg="started")
    assert run.state == "running"
    created = [p for p in session.new if isinstance(p, Pool)]
    assert [(p.pool, p.slots) for p in created] == [("redshift", 4)]


def test_existing_pools_and_other_dags_are_left_alone(session, monkeypatch):
    monkeypatch.delenv("AIRFLOW__OMINGEST__MISSING_POOLS", raising=False)
    run = _run_of(_dag("omingest_demo"), session)  # default_pool always exists
    pool_check.on_dag_run_running(dag_run=run, msg="started")
    assert run.state == "running" and run.note is None


def test_a_failing_check_never_breaks_the_scheduler(caplog):
    class Broken:
        run_id = "r"

        @property
        def dag(self):
            raise RuntimeError("boom")

    pool_check.on_dag_run_running(dag_run=Broken(), msg="started")
    assert "pool check of r failed" in caplog.text


def test_the_plugin_registers_the_listener():
    from airflow_provider_omingest.plugins import OmingestPlugin

    assert pool_check in OmingestPlugin.listeners
