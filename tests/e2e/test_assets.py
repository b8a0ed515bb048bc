"""Assets under a real Airflow 3.3 (api-server, scheduler, dag-processor, LocalExecutor, PostgreSQL).

1. A manual full run changes the catalog: its summary task emits an event on
   ``omingest://assets``, and a downstream DAG scheduled on that Asset runs with the counts and
   names in the event's ``extra``.
2. An upstream event posted through ``POST /api/v2/assets/events`` (as a dbt run's DAG would
   emit it) names one schema: the Asset-scheduled ingestion runs, touches only that schema
   (the changes made meanwhile in other schemas stay out of the catalog, the dropped table
   elsewhere is kept) and leaves the watermark where it was; the downstream DAG runs again.

That a run which changed nothing emits no event is shown under ``dag.test()``
(tests/airflow_layer/test_assets.py), which goes through the same Task SDK outlet-event path.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from airflow_provider_omingest.demo.warehouse import build_demo_warehouse, mutate_demo_warehouse
from tests.e2e.airflow_procs import (
    BIN,
    AirflowApi,
    ProcessGroup,
    admin_password,
    free_port,
    health_ok,
    local_executor_env,
    task_logs,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

INGEST = "omingest_assets_ingest"
DOWNSTREAM = "omingest_assets_downstream"
SERVICE = "assets"
UPSTREAM_URI = "dbt://warehouse/models"

DAG_FILE = f'''
"""An ingestion that runs after the upstream Asset, and a DAG that runs after the ingestion."""
from airflow.sdk import DAG, Asset, task

from airflow_provider_omingest import build_ingestion_dag, service_asset

ingest = build_ingestion_dag(
    "{INGEST}", source_conn_id="e2e_warehouse", catalog_conn_id="e2e_catalog", service="{SERVICE}",
    schedule=[Asset("{UPSTREAM_URI}")], scope_from_asset_events=True, threads=2, tables_per_unit=20,
    retries=0,
)

with DAG("{DOWNSTREAM}", schedule=[service_asset("{SERVICE}")]) as downstream:
    @task
    def record(triggering_asset_events=None):
        """Return the extras of the omingest events that triggered this run."""
        return [e.extra for e in triggering_asset_events[service_asset("{SERVICE}")]]

    record()
'''


class Stack:
    def __init__(self, home: Path, procs: ProcessGroup, catalog_url: str, warehouse: Path):
        self.home, self.procs, self.catalog_url, self.warehouse = home, procs, catalog_url, warehouse
        self.api: AirflowApi | None = None
        self.timings: dict[str, float] = {}

    def diagnostics(self) -> str:
        parts = [f"=== {name}\n{self.procs.tail(name, 40)}" for name in self.procs.procs]
        parts += [f"=== task logs of {d}\n{task_logs(self.home, d)}" for d in (INGEST, DOWNSTREAM)]
        return "\n".join(parts)

    def runs(self, dag_id: str) -> list[dict]:
        return self.api.get(f"/dags/{dag_id}/dagRuns", params={"order_by": "run_after", "limit": 100})["dag_runs"]

    def wait_runs(self, dag_id: str, count: int, timeout: float = 120) -> list[dict]:
        """Wait until ``dag_id`` has ``count`` finished runs; fail unless they all succeeded."""
        def finished():
            self.procs.check_alive()
            runs = self.runs(dag_id)
            return runs if len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs) else None

        runs = wait_until(f"{count} finished runs of {dag_id}", finished, timeout, self.diagnostics)
        assert len(runs) == count, [r["dag_run_id"] for r in runs]
        assert all(r["state"] == "success" for r in runs), f"{[r['state'] for r in runs]}\n{self.diagnostics()}"
        return runs

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str) -> object:
        value = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}")["value"]
        return json.loads(value) if isinstance(value, str) else value

    def live_tables(self) -> set[str]:
        with SqlCatalog(self.catalog_url) as catalog:
            return {t["fqn"] for t in catalog.list_tables(SERVICE) if not t["deleted"]}

    def watermark(self) -> dict:
        return json.loads(self.api.get(f"/variables/omingest_watermark__{INGEST}")["value"])


@pytest.fixture(scope="module")
def stack(pg_server, tmp_path_factory):
    started = time.monotonic()
    root = tmp_path_factory.mktemp("e2e-assets")
    home, dags = root / "airflow", root / "airflow" / "dags"
    dags.mkdir(parents=True)
    (dags / "asset_dags.py").write_text(textwrap.dedent(DAG_FILE))
    warehouse = build_demo_warehouse(root / "warehouse.duckdb")
    metadata_url = pg_server.create_database("airflow_e2e_assets")
    catalog_url = pg_server.create_database("omingest_e2e_assets_catalog")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = local_executor_env(
        home, dags=dags, port=port, metadata_url=metadata_url, snapshots=root / "snapshots", parallelism=4,
        AIRFLOW_CONN_E2E_WAREHOUSE=json.dumps({"conn_type": "duckdb", "host": str(warehouse)}),
        AIRFLOW_CONN_E2E_CATALOG=json.dumps({
            "conn_type": "postgres", "host": "127.0.0.1", "port": pg_server.port, "login": "postgres",
            "schema": "omingest_e2e_assets_catalog"}),
    )
    procs = ProcessGroup(root / "process-logs", env)
    stack = Stack(home, procs, catalog_url, warehouse)
    try:
        procs.run("db-migrate", [str(BIN / "airflow"), "db", "migrate"], timeout=240)
        procs.start("api-server", [str(BIN / "airflow"), "api-server", "--port", str(port)])
        procs.start("scheduler", [str(BIN / "airflow"), "scheduler"])
        procs.start("dag-processor", [str(BIN / "airflow"), "dag-processor"])

        def healthy():
            procs.check_alive()
            return health_ok(base_url) and admin_password(home)

        stack.api = AirflowApi(base_url, "admin", wait_until("a healthy api-server", healthy, 120,
                                                             stack.diagnostics))

        def parsed():
            procs.check_alive()
            ids = {d["dag_id"] for d in stack.api.get("/dags")["dags"]}
            return {INGEST, DOWNSTREAM} <= ids

        wait_until("the DAGs to be parsed", parsed, 120, stack.diagnostics)
        errors = stack.api.get("/importErrors")["import_errors"]
        assert not errors, errors
        for dag_id in (INGEST, DOWNSTREAM):
            stack.api.patch(f"/dags/{dag_id}", {"is_paused": False})
        stack.timings["start-up"] = time.monotonic() - started
        yield stack
    finally:
        if stack.api:
            stack.api.close()
        procs.stop()
        assert not procs.leftovers(), f"processes still running after stop: {procs.leftovers()}"
        print("\nAsset e2e timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stack.timings.items()))


def _post_upstream_event(stack: Stack, extra: dict) -> None:
    assets = stack.api.get("/assets", params={"uri_pattern": UPSTREAM_URI})["assets"]
    (asset,) = [a for a in assets if a["uri"] == UPSTREAM_URI]
    stack.api.post("/assets/events", {"asset_id": asset["id"], "extra": extra})


def test_assets_chain_the_ingestion_between_upstream_and_downstream(stack):
    # 1. A manual full run changes the catalog: the downstream DAG runs because of our event.
    t0 = time.monotonic()
    run = stack.api.post(f"/dags/{INGEST}/dagRuns", {"logical_date": None, "conf": {}})
    (first,) = stack.wait_runs(INGEST, 1)
    assert first["dag_run_id"] == run["dag_run_id"]
    summary = stack.xcom(INGEST, first["dag_run_id"], "summary", "summary")
    assert summary["mode"] == "full" and summary["totals"]["created"] == 34 and summary["restricted_to"] is None
    watermark = stack.watermark()
    assert watermark["run_id"] == first["dag_run_id"]
    (down,) = stack.wait_runs(DOWNSTREAM, 1)
    assert down["run_type"] == "asset_triggered"
    (extra,) = stack.xcom(DOWNSTREAM, down["dag_run_id"], "record", "return_value")
    assert extra["counts"] == {"created": 34, "updated": 0, "deleted": 0}
    assert extra["run_id"] == first["dag_run_id"] and extra["service"] == SERVICE
    assert len(extra["tables"]["created"]) == 34 and extra["truncated"] is False
    stack.timings["manual run + downstream"] = time.monotonic() - t0

    # 2. Changes in four schemas; the upstream names one: only that schema is ingested.
    mutate_demo_warehouse(stack.warehouse)
    t0 = time.monotonic()
    _post_upstream_event(stack, {"schemas": ["warehouse.sales"]})
    runs = stack.wait_runs(INGEST, 2)
    scoped = runs[-1]
    assert scoped["run_type"] == "asset_triggered"
    summary = stack.xcom(INGEST, scoped["dag_run_id"], "summary", "summary")
    assert summary["restricted_to"] == ["warehouse.sales"], summary
    assert set(summary["schemas"]) == {"sales"}, summary["schemas"]
    t = summary["totals"]
    assert (t.get("created", 0), t.get("updated"), t.get("deleted", 0)) == (0, 1, 0), t
    live = stack.live_tables()
    assert "assets.warehouse.staging.tmp_currency_rates" in live       # dropped outside the scope: kept
    assert "assets.warehouse.marketing.email_sends" not in live        # created outside the scope: not yet
    assert stack.watermark() == watermark                              # a partial run never moves it
    downs = stack.wait_runs(DOWNSTREAM, 2)
    (extra,) = stack.xcom(DOWNSTREAM, downs[-1]["dag_run_id"], "record", "return_value")
    assert extra["counts"] == {"created": 0, "updated": 1, "deleted": 0}
    assert extra["tables"]["updated"] == ["assets.warehouse.sales.customers"]
    assert extra["restricted_to"] == ["warehouse.sales"] and extra["run_id"] == scoped["dag_run_id"]
    stack.timings["upstream event run + downstream"] = time.monotonic() - t0

