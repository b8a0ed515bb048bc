"""The compose topology, run for real without Docker: CeleryExecutor, two workers, snapshots on S3.

PostgreSQL holds Airflow's metadata (and the warehouse, and the catalogs), ``redis-server`` is
the Celery broker, ``moto_server`` the S3 store the snapshots go to through an ``aws``
connection; api-server, scheduler, dag-processor and two Celery workers run with the settings of
:mod:`tests.e2e.celery_topology` (which docker-compose.yaml is checked against). Each worker has
its own folder, ``AIRFLOW_HOME``, DAG folder and logs: a snapshot written by an extract on one
worker reaches the update on the other only through the bucket.

1. two DAGs sharing one pool of 2 slots (each with ``threads=2``, the workers with 8 slots):
   never more than 2 extracts run at once across both, the mapped extracts run on both
   workers, and each successful run leaves nothing in the bucket;
2. a worker SIGKILLed while an extract of it waits on the warehouse: that unit is failed by the
   scheduler's heartbeat check, retried on the other worker, and the run converges to the same
   catalog as the clean runs.
"""

from __future__ import annotations

import json
import textwrap
import time
from datetime import datetime

import psutil
import psycopg
import pytest

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from benchmarks.warehouse import WarehouseShape, generate, schema_name, table_name
from tests.e2e.airflow_procs import max_overlap, task_logs, wait_for_run, wait_until
from tests.e2e.celery_topology import (
    SNAPSHOT_BUCKET,
    SNAPSHOT_CONN_ID,
    WORKERS,
    CeleryTopology,
    worker_name,
)
from tests.support.redis_server import RedisServer
from tests.support.s3_server import S3Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(480)]

POOL, POOL_SLOTS, THREADS = "omingest_celery", 2, 2
SHAPE = WarehouseShape(schemas=3, tables=10, columns=4)  # relation 9 of each schema is a view
SERVICE = "wh"
EXTRACT, UPDATE = "unit.extract", "unit.update"
#: dag id -> catalog connection id (each DAG its own catalog database).
DAGS = {"omingest_celery_a": "celery_catalog_a", "omingest_celery_b": "celery_catalog_b",
        "omingest_celery_kill": "celery_catalog_kill"}
#: The killed run waits on a lock the test holds on this view (the extract reads its definition).
LOCKED_SCHEMA, LOCKED_VIEW = schema_name(1), table_name(9)

DAG_FILE = f'''
"""Ingestions of one PostgreSQL warehouse into three catalogs, their extracts sharing pool {POOL}."""
from datetime import timedelta

from airflow_provider_omingest import build_ingestion_dag

for dag_id, catalog, source in {[(d, c, "celery_warehouse_patient" if d.endswith("kill") else "celery_warehouse")
                                  for d, c in DAGS.items()]!r}:
    globals()[dag_id] = build_ingestion_dag(
        dag_id, source_conn_id=source, catalog_conn_id=catalog, service="{SERVICE}", pool="{POOL}",
        threads={THREADS}, tables_per_unit=10, min_tables_per_unit=1, retries=1, retry_delay=timedelta(seconds=1),
    )
'''


class Stack:
    def __init__(self, topology: CeleryTopology, s3: S3Server, warehouse_dsn: str, catalogs: dict[str, str]):
        self.topology, self.s3, self.warehouse_dsn, self.catalogs = topology, s3, warehouse_dsn, catalogs
        self.api = topology.api
        self.runs: dict[str, str] = {}
        self.failed_phase: str | None = None

    def trigger(self, dag_id: str) -> str:
        self.api.patch(f"/dags/{dag_id}", {"is_paused": False})
        run = self.api.post(f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": {}})
        return run["dag_run_id"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 150) -> dict:
        return wait_for_run(self.api, dag_id, run_id, timeout, check_alive=self.topology.check_alive,
                            diagnostics=lambda: self.diagnostics(dag_id), states=lambda: self.states(dag_id, run_id))

    def tis(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})[
            "task_instances"]

    def states(self, dag_id: str, run_id: str) -> str:
        return "\n".join(f"  {t['task_id']}[{t['map_index']}] try {t['try_number']} on {t['hostname']}: {t['state']}"
                         for t in self.tis(dag_id, run_id))

    def diagnostics(self, dag_id: str) -> str:
        logs = "\n".join(f"=== task logs on {w}\n{task_logs(self.topology.home(w), dag_id)}" for w in WORKERS)
        return f"{self.topology.diagnostics()}\n{logs}"

    def extract_outputs(self, dag_id: str, run_id: str) -> list[dict]:
        """The XCom each extract returned (through the REST API, as the UI shows it)."""
        out = []
        for t in self.tis(dag_id, run_id):
            if t["task_id"] == EXTRACT:
                value = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{EXTRACT}/xcomEntries/"
                                     "return_value", params={"map_index": t["map_index"]})["value"]
                out.append(json.loads(value) if isinstance(value, str) else value)
        return out

    def catalog(self, dag_id: str) -> dict[str, tuple[str, list]]:
        """The live tables of a DAG's catalog: fqn -> (fingerprint, columns)."""
        with SqlCatalog(self.catalogs[dag_id]) as catalog:
            out = {}
            for t in catalog.list_tables(SERVICE):
                if not t["deleted"]:
                    body = catalog.get(t["fqn"])
                    out[t["fqn"]] = (body["fingerprint"], [(c["name"], c["data_type"]) for c in body["columns"]])
            return out


@pytest.fixture(scope="module")
def stack(pg_server, tmp_path_factory):
    """Redis, moto, the warehouse and three catalogs; then the Airflow processes of the topology."""
    started = time.monotonic()
    root = tmp_path_factory.mktemp("celery")
    metadata_db = pg_server.create_database("airflow_celery")
    warehouse_url = pg_server.create_database("celery_warehouse")
    warehouse_dsn = f"host=127.0.0.1 port={pg_server.port} user=postgres dbname=celery_warehouse"
    generate(warehouse_dsn, SHAPE)
    catalogs = {dag_id: pg_server.create_database(f"{conn}_db") for dag_id, conn in DAGS.items()}
    redis, s3 = RedisServer().start(), S3Server().start()
    s3.create_bucket(SNAPSHOT_BUCKET)

    def pg(dbname: str, **extra) -> dict:
        return {"conn_type": "postgres", "host": "127.0.0.1", "port": pg_server.port, "login": "postgres",
                "schema": dbname, **({"extra": extra} if extra else {})}

    connections = {
        SNAPSHOT_CONN_ID: s3.aws_connection(),
        "celery_warehouse": pg("celery_warehouse"),
        # Waits for the lock the test holds (long enough for the worker to be killed meanwhile).
        "celery_warehouse_patient": pg("celery_warehouse", lock_timeout=240),
        **{conn: pg(f"{conn}_db") for conn in DAGS.values()},
    }
    topology = CeleryTopology(root=root, dag_files={"omingest_celery_dags.py": textwrap.dedent(DAG_FILE)},
                              metadata_db=metadata_db, connections=connections, broker=redis.url)
    try:
        topology.start()
        topology.wait_for_dags(list(DAGS))
        topology.wait_for_workers()
        topology.timings["start-up until workers ready"] = time.monotonic() - started
        assert warehouse_url
        yield Stack(topology, s3, warehouse_dsn, catalogs)
    finally:
        leftovers = topology.stop()
        redis.stop()
        s3.stop()
        print("\nCelery e2e timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in topology.timings.items()))
        assert not leftovers, f"processes still running after stop: {leftovers}"


@pytest.fixture
def phase(stack, request):
    """Skip a phase when an earlier one failed (they share one Airflow)."""
    if stack.failed_phase:
        pytest.skip(f"an earlier phase failed: {stack.failed_phase}")
    started = time.monotonic()
    yield
    stack.topology.timings[request.node.name] = time.monotonic() - started
    if getattr(request.node, "omingest_call_failed", False):  # set by tests/e2e/conftest.py
        stack.failed_phase = request.node.name


def _record_latencies(stack: Stack, dag_id: str) -> None:
    """Note where a task's time goes under Celery: queued -> running -> finished, medians over the run."""
    tis = [t for t in stack.tis(dag_id, stack.runs[dag_id]) if t["queued_when"] and t["end_date"]]
    waits = sorted(_ts(t["start_date"]) - _ts(t["queued_when"]) for t in tis)
    runs = sorted(_ts(t["end_date"]) - _ts(t["start_date"]) for t in tis)
    stack.topology.timings[f"{dag_id}: median queued->running"] = waits[len(waits) // 2]
    stack.topology.timings[f"{dag_id}: median running->finished"] = runs[len(runs) // 2]


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_the_topology_runs_every_process_with_its_own_home(stack, phase):
    topo = stack.topology
    assert not stack.api.get("/importErrors")["import_errors"]
    homes = {topo.home(w) for w in WORKERS} | {topo.control_home}
    assert len(homes) == 3
    for w in WORKERS:
        proc = psutil.Process(topo.groups[w].procs[w].pid)
        assert proc.cwd() == str(topo.root / w)
        # (the environment as given: setproctitle overwrites what /proc shows of it)
        assert topo.groups[w].env["AIRFLOW_HOME"] == str(topo.home(w))
        assert topo.groups[w].env["AIRFLOW__CORE__DAGS_FOLDER"] == str(topo.home(w) / "dags")


def test_two_dags_share_one_pool_and_extracts_run_on_both_workers_with_snapshots_on_s3(stack, phase):
    stack.api.post("/pools", {"name": POOL, "slots": POOL_SLOTS, "description": "omingest celery e2e"})
    a, b = "omingest_celery_a", "omingest_celery_b"
    stack.runs[a], stack.runs[b] = stack.trigger(a), stack.trigger(b)
    for dag_id in (a, b):
        stack.wait_run(dag_id, stack.runs[dag_id])
        _record_latencies(stack, dag_id)

    extracts = {d: [t for t in stack.tis(d, stack.runs[d]) if t["task_id"] == EXTRACT] for d in (a, b)}
    updates = {d: {t["map_index"]: t for t in stack.tis(d, stack.runs[d]) if t["task_id"] == UPDATE} for d in (a, b)}
    every = extracts[a] + extracts[b]
    assert len(extracts[a]) >= 3 and len(extracts[b]) >= 3
    assert all(t["pool"] == POOL and t["state"] == "success" for t in every)
    # Mapped extracts ran on both workers (the name each worker reports as its host).
    hosts = {t["hostname"] for t in every}
    assert hosts == {worker_name(w) for w in WORKERS}, hosts
    # The pool caps concurrent extracts across both DAGs: 2, while the DAGs would run 4 (threads 2 each)
    # and the workers take 8; and the two DAGs' extracts did compete (their extract phases overlap).
    intervals = [(_ts(t["start_date"]), _ts(t["end_date"])) for t in every]
    overlap = max_overlap(intervals)
    stack.topology.timings["extract max overlap (both DAGs)"] = overlap
    assert overlap <= POOL_SLOTS, f"{overlap} extracts ran at once with a pool of {POOL_SLOTS}: {intervals}"
    assert overlap == POOL_SLOTS, f"extracts never used both slots: {intervals}"
    phases = {d: (min(_ts(t["start_date"]) for t in extracts[d]), max(_ts(t["end_date"]) for t in extracts[d]))
              for d in (a, b)}
    assert max(phases[a][0], phases[b][0]) < min(phases[a][1], phases[b][1]), phases
    # Extract on one worker, update on the other: the snapshot went through the bucket.
    crossed = [(d, t["map_index"]) for d in (a, b) for t in extracts[d]
               if updates[d][t["map_index"]]["hostname"] != t["hostname"]]
    assert crossed, "every unit's update ran on the worker of its extract"

    for dag_id in (a, b):
        outputs = stack.extract_outputs(dag_id, stack.runs[dag_id])
        assert outputs and all(o["snapshot"].startswith(f"s3://{SNAPSHOT_CONN_ID}@{SNAPSHOT_BUCKET}/snapshots/")
                               for o in outputs), outputs
        # A successful run removes its snapshots from the bucket.
        assert stack.s3.keys(SNAPSHOT_BUCKET, f"snapshots/{dag_id}/") == []
    # ... and nothing went through a worker's disk.
    for w in WORKERS:
        assert not list(stack.topology.home(w).rglob("*.json.gz")), w

    expected = SHAPE.relations + 2  # + the two pg_stat_statements views in public
    assert len(stack.catalog(a)) == expected
    assert stack.catalog(a) == stack.catalog(b)


def test_a_worker_killed_mid_extract_the_unit_is_retried_on_the_other_and_the_run_converges(stack, phase):
    dag_id = "omingest_celery_kill"
    lock = psycopg.connect(stack.warehouse_dsn)
    try:
        lock.execute(f'LOCK TABLE "{LOCKED_SCHEMA}"."{LOCKED_VIEW}" IN ACCESS EXCLUSIVE MODE')
        run_id = stack.runs[dag_id] = stack.trigger(dag_id)

        def waiting_backend():
            """The client port of the warehouse session waiting on the test's lock."""
            stack.topology.check_alive()
            with psycopg.connect(stack.warehouse_dsn, autocommit=True) as c:
                row = c.execute("select client_port from pg_stat_activity where datname = current_database() "
                                "and wait_event_type = 'Lock' and pid <> %s", (lock.info.backend_pid,)).fetchone()
            return row[0] if row else None

        port = wait_until("an extract to wait on the locked view", waiting_backend, 120,
                          lambda: stack.diagnostics(dag_id))
        pid = next(c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port and c.pid)
        victim = stack.topology.worker_of_pid(pid)
        assert victim in WORKERS, f"pid {pid} waiting on the lock belongs to no worker"
        blocked = [t for t in stack.tis(dag_id, run_id) if t["task_id"] == EXTRACT and t["state"] == "running"
                   and t["hostname"] == worker_name(victim)]
        assert blocked, stack.states(dag_id, run_id)
        stack.topology.kill_worker(victim)
        killed_at = time.monotonic()
    finally:
        lock.rollback()
        lock.close()

    stack.wait_run(dag_id, run_id, timeout=180)
    stack.topology.timings["killed worker: run done after"] = time.monotonic() - killed_at
    survivor = worker_name(next(w for w in WORKERS if w != victim))
    retried = [t for t in stack.tis(dag_id, run_id) if t["task_id"] == EXTRACT and t["try_number"] > 1]
    assert retried, stack.states(dag_id, run_id)
    for t in retried:
        tries = stack.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{EXTRACT}/{t['map_index']}/tries")[
            "task_instances"]
        first, last = tries[0], tries[-1]
        assert first["hostname"] == worker_name(victim) and first["state"] == "failed", first
        assert last["hostname"] == survivor and last["state"] == "success", last
    # The run converged to the catalog of the clean runs, and left nothing in the bucket.
    assert stack.catalog(dag_id) == stack.catalog("omingest_celery_a")
    assert stack.s3.keys(SNAPSHOT_BUCKET, f"snapshots/{dag_id}/") == []
