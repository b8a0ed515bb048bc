"""The ingestion DAG under a real Airflow 3.3: api-server, scheduler, dag-processor, LocalExecutor.

``dag.test()`` runs every task in one process, ignores pools and lets tasks use the ORM. Here the
tasks run as real workers (the Task SDK refuses ORM access), mapped extracts compete for a pool,
and everything is driven through the REST API the way the UI drives it:

1. ``omingest pools`` creates the pool the DAG names (it is absent before);
2. unpause, trigger a run: a full run fills the catalog, with mapped extracts running in
   parallel up to ``threads`` and never above the pool;
3. change the warehouse, trigger with ``conf={"mode": "auto"}``: an incremental run;
4. a backfill over past dates: each run re-scans changes since its data interval start minus
   the safety margin.

Metadata database: a PostgreSQL database on the suite's server. Catalog: another one.
Every process started here is stopped by PID, with its children, also when a test fails.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import time
from datetime import datetime, timedelta
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
    max_overlap,
    task_logs,
    wait_for_run,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "omingest_e2e"
POOL = "omingest_e2e"
POOL_SLOTS = 3
THREADS = 2
MARGIN = timedelta(hours=2)
SERVICE = "demo"

DAG_FILE = f'''
"""End-to-end test DAG: the demo warehouse into a PostgreSQL catalog, with a pool of its own."""
from datetime import datetime, timezone

from airflow_provider_omingest import build_ingestion_dag

dag = build_ingestion_dag(
    "{DAG_ID}",
    source_conn_id="e2e_warehouse",
    catalog_conn_id="e2e_catalog",
    service="{SERVICE}",
    threads={THREADS},
    pool="{POOL}",
    tables_per_unit=4,
    safety_margin="{int(MARGIN.total_seconds())}s",
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    retries=0,
    # No scheduled run while the test drives it: the schedule ends in the past (backfills still work).
    dag_kwargs={{"end_date": datetime(2024, 1, 31, tzinfo=timezone.utc)}},
)
'''


NO_POOL_DAG_ID = "omingest_e2e_missing_pool"
MISSING_POOL = "omingest_e2e_absent"
NO_POOL_DAG_FILE = f'''
"""End-to-end test DAG whose pool does not exist: the provider's listener fails its runs at once."""
from airflow_provider_omingest import build_ingestion_dag

dag = build_ingestion_dag("{NO_POOL_DAG_ID}", source_conn_id="e2e_warehouse", catalog_conn_id="e2e_catalog",
                          service="nopool", pool="{MISSING_POOL}", retries=0)
'''


class Stack:
    """The running Airflow and what the tests share."""

    def __init__(self, home: Path, procs: ProcessGroup, base_url: str, catalog_url: str, warehouse: Path):
        self.home, self.procs, self.base_url = home, procs, base_url
        self.catalog_url, self.warehouse = catalog_url, warehouse
        self.api: AirflowApi | None = None
        self.runs: dict[str, str] = {}  # phase -> run_id
        self.failed_phase: str | None = None
        self.timings: dict[str, float] = {}

    def diagnostics(self, run_id: str | None = None) -> str:
        parts = [f"=== {name} (last lines)\n{self.procs.tail(name, 50)}" for name in self.procs.procs]
        parts.append(f"=== task logs of {DAG_ID}{f' run {run_id}' if run_id else ''}\n"
                     f"{task_logs(self.home, DAG_ID, run_id)}")
        return "\n".join(parts)

    def wait_run(self, run_id: str, timeout: float = 180) -> dict:
        """Wait until the run finishes; fail with the logs unless it succeeded."""
        return wait_for_run(self.api, DAG_ID, run_id, timeout, check_alive=self.procs.check_alive,
                            diagnostics=lambda: self.diagnostics(run_id), states=lambda: self.task_states(run_id))

    def task_instances(self, run_id: str) -> list[dict]:
        return self.api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})[
            "task_instances"]

    def task_states(self, run_id: str) -> str:
        return "\n".join(f"  {t['task_id']}[{t['map_index']}]: {t['state']}" for t in self.task_instances(run_id))

    def summary(self, run_id: str) -> dict:
        entry = self.api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/summary/xcomEntries/summary")
        value = entry["value"]
        return json.loads(value) if isinstance(value, str) else value

    def live_tables(self) -> set[str]:
        with SqlCatalog(self.catalog_url) as catalog:
            return {t["fqn"] for t in catalog.list_tables(SERVICE) if not t["deleted"]}


@pytest.fixture(scope="module")
def stack(pg_server, tmp_path_factory):
    """Airflow 3.3 on PostgreSQL: migrate, then api-server, scheduler and dag-processor (LocalExecutor)."""
    started = time.monotonic()
    root = tmp_path_factory.mktemp("e2e")
    home, dags = root / "airflow", root / "airflow" / "dags"
    dags.mkdir(parents=True)
    for example in sorted((REPO / "dags").glob("*.py")):  # the example DAGs users get must parse too
        shutil.copy(example, dags / example.name)
    (dags / f"{DAG_ID}.py").write_text(textwrap.dedent(DAG_FILE))
    (dags / f"{NO_POOL_DAG_ID}.py").write_text(textwrap.dedent(NO_POOL_DAG_FILE))
    warehouse = build_demo_warehouse(root / "warehouse.duckdb")
    metadata_url = pg_server.create_database("airflow_e2e")
    catalog_url = pg_server.create_database("omingest_e2e_catalog")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = local_executor_env(
        home, dags=dags, port=port, metadata_url=metadata_url, snapshots=root / "snapshots", parallelism=8,
        AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT="120",
        AIRFLOW_CONN_E2E_WAREHOUSE=json.dumps({"conn_type": "duckdb", "host": str(warehouse)}),
        AIRFLOW_CONN_E2E_CATALOG=json.dumps({
            "conn_type": "postgres", "host": "127.0.0.1", "port": pg_server.port, "login": "postgres",
            "schema": "omingest_e2e_catalog"}),
    )
    procs = ProcessGroup(root / "process-logs", env)
    stack = Stack(home, procs, base_url, catalog_url, warehouse)
    try:
        t0 = time.monotonic()
        procs.run("db-migrate", [str(BIN / "airflow"), "db", "migrate"], timeout=240)
        stack.timings["db migrate"] = time.monotonic() - t0
        procs.start("api-server", [str(BIN / "airflow"), "api-server", "--port", str(port)])
        procs.start("scheduler", [str(BIN / "airflow"), "scheduler"])
        procs.start("dag-processor", [str(BIN / "airflow"), "dag-processor"])

        def healthy():
            procs.check_alive()
            return health_ok(base_url) and admin_password(home)

        password = wait_until("the api-server to be healthy", healthy, 120, stack.diagnostics)
        stack.api = AirflowApi(base_url, "admin", password)
        stack.timings["start-up until healthy"] = time.monotonic() - started

        def dag_parsed():
            procs.check_alive()
            return stack.api.request("GET", f"/dags/{DAG_ID}", expect=(200, 404)).get("dag_id")

        wait_until(f"the dag-processor to parse {DAG_ID}", dag_parsed, 120, stack.diagnostics)
        stack.timings["start-up until DAG parsed"] = time.monotonic() - started
        yield stack
    finally:
        if stack.api:
            stack.api.close()
        procs.stop()
        assert not procs.leftovers(), f"processes still running after stop: {procs.leftovers()}"
        print("\nE2E timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stack.timings.items()))



@pytest.fixture
def phase(stack, request):
    """Skip a phase when an earlier one failed (they share one Airflow and one run history)."""
    if stack.failed_phase:
        pytest.skip(f"an earlier phase failed: {stack.failed_phase}")
    started = time.monotonic()
    yield
    stack.timings[request.node.name] = time.monotonic() - started
    if getattr(request.node, "omingest_call_failed", False):  # set by tests/e2e/conftest.py
        stack.failed_phase = request.node.name


def test_example_dags_parse_without_errors(stack, phase):
    errors = stack.api.get("/importErrors")["import_errors"]
    assert not errors, "\n".join(f"{e['filename']}: {e['stack_trace']}" for e in errors)
    dag_ids = {d["dag_id"] for d in stack.api.get("/dags", params={"limit": 100})["dags"]}
    expected = {p.stem for p in (REPO / "dags").glob("omingest_*.py")} | {DAG_ID}
    assert expected <= dag_ids


def test_a_run_whose_pool_does_not_exist_fails_at_once_naming_the_pool(stack, phase):
    """Without the provider's listener the extracts would sit in "scheduled" forever, silently."""
    stack.api.request("GET", f"/pools/{MISSING_POOL}", expect=(404,))
    stack.api.patch(f"/dags/{NO_POOL_DAG_ID}", {"is_paused": False})
    t0 = time.monotonic()
    run = stack.api.post(f"/dags/{NO_POOL_DAG_ID}/dagRuns", {"logical_date": None, "conf": {}})

    def finished():
        stack.procs.check_alive()
        got = stack.api.get(f"/dags/{NO_POOL_DAG_ID}/dagRuns/{run['dag_run_id']}")
        return got if got["state"] in ("success", "failed") else None

    got = wait_until("the run without a pool to end", finished, 90, stack.diagnostics)
    stack.timings["missing pool: run failed after"] = time.monotonic() - t0
    assert got["state"] == "failed"
    assert MISSING_POOL in got["note"] and "omingest pools" in got["note"], got["note"]
    assert f"airflow pools set {MISSING_POOL} 4" in got["note"]
    tis = stack.api.get(f"/dags/{NO_POOL_DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"]
    assert all(t["state"] in (None, "removed", "upstream_failed") for t in tis), [(t["task_id"], t["state"])
                                                                                    for t in tis]
    assert f"uses pool(s) '{MISSING_POOL}'" in stack.procs.tail("scheduler", 400)
    stack.api.patch(f"/dags/{NO_POOL_DAG_ID}", {"is_paused": True})


def test_omingest_pools_creates_the_named_pool(stack, phase):
    # Before: the pool does not exist, and the scheduler would silently never run the extracts.
    stack.api.request("GET", f"/pools/{POOL}", expect=(404,))
    out = stack.procs.run("omingest-pools", [str(BIN / "omingest"), "pools", "--slots", str(POOL_SLOTS)],
                          timeout=120)
    assert f"pool {POOL}: created with {POOL_SLOTS} slots" in out, out
    pool = stack.api.get(f"/pools/{POOL}")
    assert pool["slots"] == POOL_SLOTS
    # The example warehouse DAGs name their pools too: one command creates them all.
    for name in ("snowflake", "redshift", "bigquery"):
        assert stack.api.get(f"/pools/{name}")["slots"] == POOL_SLOTS
    # Idempotent: a second call changes nothing.
    again = stack.procs.run("omingest-pools-again", [str(BIN / "omingest"), "pools"], timeout=120)
    assert f"pool {POOL}: exists" in again, again


def test_first_run_is_full_and_mapped_extracts_run_in_parallel_within_the_caps(stack, phase):
    assert stack.api.get(f"/dags/{DAG_ID}")["is_paused"] is True
    stack.api.patch(f"/dags/{DAG_ID}", {"is_paused": False})
    t0 = time.monotonic()
    run = stack.api.post(f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": {}})
    assert run["run_type"] == "manual" and run["logical_date"] is None
    stack.runs["full"] = run_id = run["dag_run_id"]
    stack.wait_run(run_id)
    stack.timings["run 1 (full) wall"] = time.monotonic() - t0

    summary = stack.summary(run_id)
    assert summary["status"] == "success" and summary["mode"] == "full", summary
    assert summary["totals"].get("created") == 34, summary["totals"]
    assert len(stack.live_tables()) == 34

    tis = stack.task_instances(run_id)
    extracts = [t for t in tis if t["task_id"] == "unit.extract"]
    assert len(extracts) == summary["units"] >= 4, [t["map_index"] for t in extracts]
    assert all(t["state"] == "success" and t["pool"] == POOL for t in extracts)
    assert all(t["state"] == "success" for t in tis), stack.task_states(run_id)
    intervals = [(_ts(t["start_date"]), _ts(t["end_date"])) for t in extracts]
    overlap = max_overlap(intervals)
    stack.timings["extract max overlap"] = overlap
    stack.timings["extract units"] = len(extracts)
    print(f"\n{len(extracts)} unit.extract instances, max running at once: {overlap} "
          f"(threads={THREADS}, pool slots={POOL_SLOTS})")
    assert overlap >= 2, f"mapped extracts never overlapped: {intervals}"
    assert overlap <= min(THREADS, POOL_SLOTS), f"{overlap} extracts ran at once: {intervals}"


def test_second_run_with_mode_auto_in_conf_is_incremental(stack, phase):
    changes = mutate_demo_warehouse(stack.warehouse)
    assert len(changes) == 4
    t0 = time.monotonic()
    run = stack.api.post(f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": {"mode": "auto"}})
    assert run["conf"] == {"mode": "auto"}
    stack.runs["incremental"] = run_id = run["dag_run_id"]
    stack.wait_run(run_id)
    stack.timings["run 2 (incremental) wall"] = time.monotonic() - t0

    summary = stack.summary(run_id)
    full = stack.summary(stack.runs["full"])
    assert summary["mode"] == "incremental", summary["mode_reason"]
    # A manual run has no logical date: it scans from the watermark the full run left, minus the margin.
    assert _dt(summary["last_value"]) == _dt(full["source_clock"])
    assert _dt(summary["since"]) == _dt(full["source_clock"]) - MARGIN
    t = summary["totals"]
    assert (t.get("created"), t.get("updated"), t.get("deleted")) == (1, 2, 1), t
    live = stack.live_tables()
    assert "demo.warehouse.marketing.email_sends" in live
    assert "demo.warehouse.staging.tmp_currency_rates" not in live
    assert len(live) == 34
    # The watermark the summary task wrote through the Task SDK, visible as a Variable.
    variable = stack.api.get(f"/variables/omingest_watermark__{DAG_ID}")
    assert json.loads(variable["value"])["run_id"] == run_id


def test_backfill_runs_rescan_from_their_data_interval_start_minus_the_margin(stack, phase):
    t0 = time.monotonic()
    backfill = stack.api.post("/backfills", {
        "dag_id": DAG_ID, "from_date": "2024-01-10T00:00:00Z", "to_date": "2024-01-11T00:00:00Z",
        "max_active_runs": 1, "reprocess_behavior": "none", "run_backwards": False, "dag_run_conf": {},
    })

    def backfill_runs():
        stack.procs.check_alive()
        runs = [r for r in stack.api.get(f"/dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
                if r["run_type"] == "backfill"]
        done = runs and all(r["state"] in ("success", "failed") for r in runs)
        finished = stack.api.get(f"/backfills/{backfill['id']}").get("completed_at")
        return runs if done and finished else None

    runs = wait_until(f"backfill {backfill['id']} to complete", backfill_runs, 240, stack.diagnostics)
    stack.timings["backfill wall"] = time.monotonic() - t0
    assert sorted(r["logical_date"][:10] for r in runs) == ["2024-01-10", "2024-01-11"], runs
    for r in runs:
        assert r["state"] == "success", f"{r['dag_run_id']}:\n{stack.task_states(r['dag_run_id'])}\n" \
                                        f"{stack.diagnostics(r['dag_run_id'])}"
        summary = stack.summary(r["dag_run_id"])
        start = _dt(r["data_interval_start"])
        assert summary["mode"] == "incremental", summary["mode_reason"]
        assert _dt(summary["since"]) == start - MARGIN, (summary["since"], r["data_interval_start"])
        assert "backfill" in summary["mode_reason"]
        assert summary["totals"].get("deleted", 0) == 0 and summary["status"] == "success"
    assert len(stack.live_tables()) == 34
    # Backfill runs never move the watermark backwards: it still holds run 2's source clock.
    incremental = stack.summary(stack.runs["incremental"])
    variable = json.loads(stack.api.get(f"/variables/omingest_watermark__{DAG_ID}")["value"])
    assert _dt(variable["last_value"]) >= _dt(incremental["source_clock"])


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ts(value: str) -> float:
    return _dt(value).timestamp()
