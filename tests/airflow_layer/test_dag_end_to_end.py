"""The ingestion DAG under ``dag.test()``: full run, changes, no-change run, failures, fail-safe."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from airflow_provider_omingest.demo.warehouse import build_demo_warehouse, mutate_demo_warehouse
from airflow_provider_omingest.hooks import source as source_hook

pytestmark = pytest.mark.airflow

DAG_FILES = Path(__file__).resolve().parents[1] / "dag_files"


@pytest.fixture
def env(tmp_path, monkeypatch, airflow_db):
    warehouse = build_demo_warehouse(tmp_path / "warehouse.duckdb")
    catalog_path = tmp_path / "catalog.db"
    monkeypatch.setenv("AIRFLOW_CONN_WH", json.dumps({"conn_type": "duckdb", "host": str(warehouse)}))
    monkeypatch.setenv("AIRFLOW_CONN_FAULTY_WH", json.dumps({"conn_type": "omingest_faulty", "host": str(warehouse)}))
    monkeypatch.setenv("AIRFLOW_CONN_CAT", json.dumps({"conn_type": "sqlite", "host": str(catalog_path)}))
    monkeypatch.setitem(source_hook.SOURCE_BUILDERS, "omingest_faulty",
                        "tests.airflow_layer.faulty_source:source_from_connection")
    monkeypatch.setenv("AIRFLOW__OMINGEST__SNAPSHOT_PATH", f"file://{tmp_path}/snapshots")
    catalog = SqlCatalog(f"sqlite:///{catalog_path}")
    _forget_watermarks()  # each test starts a new ingestion history
    yield {"warehouse": warehouse, "catalog": catalog, "tmp": tmp_path}
    catalog.close()


def _forget_watermarks():
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key.like("omingest_watermark__%")).delete(synchronize_session=False)


def _dag(name: str):
    """Return a DAG of tests/dag_files (dag.test() needs DAGs that live in a bundle)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAG_FILES)).get_dag(f"omingest_test_{name}")


def _run(dag, **conf):
    dr = dag.test(run_conf=conf or None)
    return dr, _xcom(dag.dag_id, dr.run_id, "summary", "summary")


def _xcom(dag_id, run_id, task_id, key):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(select(XComModel).where(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id,
            XComModel.task_id == task_id, XComModel.key == key)).first()
        return None if row is None else XComModel.deserialize_value(row)


def _history_rows(catalog: SqlCatalog) -> int:
    with catalog.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(catalog.tables.history))


def _live_tables(catalog):
    return {t["fqn"] for t in catalog.list_tables("demo") if not t["deleted"]}


def test_full_then_changes_then_no_change(env):
    catalog = env["catalog"]
    dag = _dag("changes")
    dr, summary = _run(dag, mode="full")
    assert dr.state == "success"
    assert summary["status"] == "success" and summary["mode"] == "full"
    assert summary["totals"].get("created") == 34 and not summary["totals"].get("updated")
    assert len(_live_tables(catalog)) == 34
    assert catalog.get_run(dr.run_id).status == "success"

    changes = mutate_demo_warehouse(env["warehouse"])
    assert len(changes) == 4
    dr, summary = _run(dag)
    assert dr.state == "success"
    t = summary["totals"]
    assert (t.get("created"), t.get("updated"), t.get("deleted"), t.get("unchanged")) == (1, 2, 1, 31)
    assert "demo.warehouse.marketing.email_sends" in _live_tables(catalog)
    gone = catalog.get("demo.warehouse.staging.tmp_currency_rates")
    assert gone["deleted"] is True  # soft delete: the row and its history stay
    history = catalog.history("demo.warehouse.finance.invoices")
    assert [h.change for h in history] == ["created", "updated"]
    assert history[-1].run_id == dr.run_id and history[-1].changes

    before = _history_rows(catalog)
    dr, summary = _run(dag)
    assert dr.state == "success"
    assert summary["totals"].get("unchanged") == 34
    assert not any(summary["totals"].get(k) for k in ("created", "updated", "deleted", "failed"))
    assert _history_rows(catalog) == before  # zero writes


def test_source_error_in_one_schema_fails_that_unit_and_deletes_nothing_there(env, monkeypatch):
    catalog = env["catalog"]
    dag = _dag("faulty")
    assert _run(dag)[0].state == "success"
    import duckdb

    with duckdb.connect(str(env["warehouse"])) as con:
        con.execute("DROP TABLE finance.budgets")
        con.execute("DROP VIEW marketing.v_campaign_performance")
    monkeypatch.setenv("OMINGEST_TEST_FAIL_SCHEMAS", "finance")
    dr, summary = _run(dag)
    assert dr.state == "failed"
    assert summary["status"] == "failed"
    assert len(summary["failed_units"]) == 1 and summary["schemas"]["finance"]["failed"] == 1
    (failed_unit,) = summary["failed_units"]
    assert "finance" in summary["unit_errors"][failed_unit]  # the error, for the run's "What changed" page
    assert catalog.get_run(dr.run_id).summary["unit_errors"] == summary["unit_errors"]
    assert catalog.get("demo.warehouse.finance.budgets")["deleted"] is False  # failed unit: kept
    assert catalog.get("demo.warehouse.marketing.v_campaign_performance")["deleted"] is True
    assert catalog.get_run(dr.run_id).status == "failed"

    monkeypatch.delenv("OMINGEST_TEST_FAIL_SCHEMAS")  # the fault is fixed: re-running converges
    dr, summary = _run(dag)
    assert dr.state == "success"
    assert catalog.get("demo.warehouse.finance.budgets")["deleted"] is True


def test_mass_deletion_is_refused_until_confirmed(env):
    catalog = env["catalog"]
    dag = _dag("threshold")
    assert _run(dag)[0].state == "success"
    import duckdb

    with duckdb.connect(str(env["warehouse"])) as con:  # a whole schema vanishes: 11 of 34 tables
        names = con.execute("select table_name from duckdb_tables() where schema_name='sales' union all "
                            "select view_name from duckdb_views() where schema_name='sales'").fetchall()
        con.execute("DROP SCHEMA sales CASCADE")
    live_before = _live_tables(catalog)
    dr, summary = _run(dag)
    assert dr.state == "failed"
    assert _live_tables(catalog) == live_before  # nothing deleted
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag.dag_id,
                             TaskInstance.run_id == dr.run_id, TaskInstance.task_id == "delete")).one()
        assert ti.state == "failed"

    dr, summary = _run(dag, confirm_delete=True)
    assert dr.state == "success"
    assert summary["totals"]["deleted"] == len(names)


def test_dry_run_writes_nothing(env):
    catalog = env["catalog"]
    dag = _dag("dry_run")
    dr, summary = _run(dag, dry_run=True)
    assert dr.state == "success" and summary["dry_run"] is True
    assert summary["totals"]["created"] == 34
    assert catalog.list_tables("demo") == []


def read_watermark(dag_id):
    """Read the watermark Variable the tasks wrote (from the test process, through the ORM)."""
    from airflow.models.variable import Variable

    from airflow_provider_omingest.watermark_store import watermark_variable

    raw = Variable.get(watermark_variable(dag_id), default_var=None)
    return None if raw is None else datetime.fromisoformat(json.loads(raw)["last_value"])


def _fingerprints(catalog):
    return {t["fqn"]: catalog.get(t["fqn"])["fingerprint"] for t in catalog.list_tables("demo")}


def test_incremental_run_fetches_only_changes_and_matches_a_full_run(env, tmp_path):
    catalog = env["catalog"]
    dag = _dag("incremental")
    dr, first = _run(dag)
    assert dr.state == "success" and first["mode"] == "full" and first["tables_fetched"] == 34
    assert "no successful run" in first["mode_reason"]

    mutate_demo_warehouse(env["warehouse"])
    dr, second = _run(dag)
    assert dr.state == "success"
    assert second["mode"] == "incremental" and second["change_method"] == "in-database digest"
    assert second["since"] is not None and second["last_value"] == first["source_clock"]
    assert second["tables_fetched"] == 3  # invoices, customers, email_sends (tmp_currency_rates: gone)
    t = second["totals"]
    assert (t.get("created"), t.get("updated"), t.get("deleted")) == (1, 2, 1)

    # The catalog is what a full run would produce.
    full_catalog = SqlCatalog(f"sqlite:///{tmp_path / 'full.db'}")
    from airflow_provider_omingest.config import IngestionSettings
    from airflow_provider_omingest.engine.runner import run_ingestion
    from airflow_provider_omingest.models.run import RunRequest
    from airflow_provider_omingest.sources.sql.source import SqlAlchemySource

    run_ingestion(lambda: SqlAlchemySource(f"duckdb:///{env['warehouse']}"), full_catalog,
                  IngestionSettings(service="demo"), RunRequest(run_id="full", requested_mode="full"))

    def live(c):
        return {f: fp for f, fp in _fingerprints(c).items() if not c.get(f)["deleted"]}

    assert live(catalog) == live(full_catalog)

    dr, third = _run(dag)  # nothing changed: nothing fetched, nothing written
    assert third["mode"] == "incremental" and third["tables_fetched"] == 0 and third["units"] == 0


def test_failed_incremental_run_then_success_misses_nothing(env, monkeypatch):
    catalog = env["catalog"]
    dag = _dag("failed_incremental")
    dr, first = _run(dag)
    assert dr.state == "success"
    watermark = read_watermark(dag.dag_id)
    assert watermark == datetime.fromisoformat(first["source_clock"])

    mutate_demo_warehouse(env["warehouse"])
    monkeypatch.setenv("OMINGEST_TEST_FAIL_SCHEMAS", "finance")
    dr, failed = _run(dag)
    assert dr.state == "failed" and failed["mode"] == "incremental"
    assert read_watermark(dag.dag_id) == watermark  # a failed run never advances it
    invoices_before = catalog.get("demo.warehouse.finance.invoices")["fingerprint"]

    monkeypatch.delenv("OMINGEST_TEST_FAIL_SCHEMAS")
    dr, ok = _run(dag)
    assert dr.state == "success" and ok["mode"] == "incremental"
    assert catalog.get("demo.warehouse.finance.invoices")["fingerprint"] != invoices_before
    assert read_watermark(dag.dag_id) > watermark


def test_manual_full_run_resyncs_everything(env):
    dag = _dag("incremental")
    _run(dag)
    dr, summary = _run(dag, mode="full")
    assert summary["mode"] == "full" and summary["tables_fetched"] == 34
    assert summary["mode_reason"] == "a full run was requested"


@pytest.mark.parametrize("name, conn, expected", [
    ("missing_connection", None, "no_such_connection"),
    ("missing_driver", {"conn_type": "mssql", "host": "db"}, "not a SQL database connection"),
])
def test_configuration_errors_fail_at_once_without_retries(env, monkeypatch, capfd, name, conn, expected):
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    if conn:
        monkeypatch.setenv("AIRFLOW_CONN_WH_UNKNOWN_TYPE", json.dumps(conn))
    dag = _dag(name)
    dr = dag.test()
    assert dr.state == "failed"
    with create_session() as session:
        plan = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag.dag_id,
                               TaskInstance.run_id == dr.run_id, TaskInstance.task_id == "plan")).one()
        assert plan.state == "failed" and plan.try_number == 1  # not up_for_retry: retries=2 were not used
    out = capfd.readouterr()
    assert "AirflowFailException: Planning failed: " in out.out + out.err and expected in out.out + out.err
