"""The ingestion DAG under a real scheduler: ``python -m benchmarks --scheduler local,celery``.

Per executor, starts the topology of :mod:`tests.e2e.celery_topology` (api-server, scheduler,
dag-processor on a PostgreSQL metadata database; with ``celery`` also Redis, moto's S3 server
for the snapshots and two Celery workers; with ``local`` the LocalExecutor and snapshots on
local disk), and per size one DAG built with ``build_ingestion_dag`` over a synthetic warehouse
(:mod:`benchmarks.warehouse`), with its own PostgreSQL catalog. A run is triggered through the
REST API and measured:

- **wall**: the DAG run's ``end_date - start_date`` (the scheduler's own times);
- **engine alone**: ``run_ingestion`` on the same warehouse, same settings, a PostgreSQL
  catalog (:mod:`benchmarks.worker`, kind ``engine``);
- **where a task's time goes**, per task (plan, extract, update, delete, summary), from each
  task instance's times in the REST API: *scheduling* (upstream finished → ``queued_when``),
  *queue* (``queued_when`` → ``start_date``: a worker picks it up and starts the task process)
  and *run* (``start_date`` → ``end_date``: the task process, DAG file parse and the work).

Writes ``benchmarks/results/scheduler-<UTC time>.json`` and the "Under a real scheduler"
section of ``benchmarks/RESULTS.md`` (:func:`write_section`; the rest of the file is left as is).
Nothing here is a timed test: ``tests/benchmarks/test_scheduler_harness.py`` tests the parts
that need no scheduler.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

EXECUTORS = ("local", "celery")
SECTION_START = "<!-- scheduler section: written by benchmarks/scheduler.py -->"
SECTION_END = "<!-- end of scheduler section -->"
#: Task ids of the DAG built by build_ingestion_dag, in stage order, and what each waits for.
STAGES = ("plan", "unit.extract", "unit.update", "delete", "summary")
UPSTREAM = {"plan": "(run start)", "unit.extract": "plan", "unit.update": "unit.extract", "delete": "unit.update", "summary": "delete"}


def parse_executors(text: str) -> list[str]:
    """Parse ``local,celery`` into executor names, refusing unknown ones by name."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in EXECUTORS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"--scheduler {text!r}: expected a comma-separated list of "
                                         f"{', '.join(EXECUTORS)}")
    return names


def dag_id_for(tables: int) -> str:
    return f"omingest_bench_{tables}"


def dag_file(sizes: list[int], *, threads: int, tables_per_unit: int, pool: str) -> str:
    """Return the DAG file: one ingestion DAG per size, each with its warehouse and catalog connection."""
    body = f'''
    """Benchmark DAGs: one synthetic warehouse per size, each into its own catalog."""
    from airflow_provider_omingest import build_ingestion_dag

    for tables in {sorted(sizes)!r}:
        globals()[f"omingest_bench_{{tables}}"] = build_ingestion_dag(
            f"omingest_bench_{{tables}}", source_conn_id=f"bench_warehouse_{{tables}}",
            catalog_conn_id=f"bench_catalog_{{tables}}", service="bench", pool="{pool}",
            threads={threads}, tables_per_unit={tables_per_unit}, retries=0,
        )
    '''
    return textwrap.dedent(body)


def _ts(value: str | None) -> float | None:
    return None if not value else datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def breakdown(tis: list[dict[str, Any]], run_start: str | None = None) -> dict[str, dict[str, Any]]:
    """Return, per task id, the count and median/max seconds of scheduling, queue and run.

    Scheduling is measured from the moment the task could start: the end of the latest instance
    of its upstream task (for a mapped update: the extract of the same map index; for the first
    task: the DAG run's start, ``run_start``).

    :param tis: task instances as the REST API returns them (``task_id``, ``map_index``,
        ``queued_when``, ``start_date``, ``end_date``).
    """
    ends: dict[tuple[str, int], float] = {}
    if run_start:
        ends[("(run start)", -1)] = _ts(run_start)
    for t in tis:
        if t.get("end_date"):
            ends[(t["task_id"], t["map_index"])] = _ts(t["end_date"])
    out: dict[str, dict[str, Any]] = {}
    for task_id in STAGES:
        rows = [t for t in tis if t["task_id"] == task_id and t.get("start_date") and t.get("end_date")]
        if not rows:
            continue
        sched, queue, run = [], [], []
        for t in rows:
            queued, start, end = _ts(t.get("queued_when")), _ts(t["start_date"]), _ts(t["end_date"])
            up = UPSTREAM.get(task_id)
            if up is not None and queued is not None:
                same = ends.get((up, t["map_index"])) if task_id == "unit.update" else None
                ready = same if same is not None else max((v for (tid, _), v in ends.items() if tid == up),
                                                          default=None)
                if ready is not None:
                    sched.append(max(0.0, queued - ready))
            if queued is not None:
                queue.append(max(0.0, start - queued))
            run.append(end - start)
        out[task_id] = {"count": len(rows), **_stats("scheduling", sched), **_stats("queue", queue),
                        **_stats("run", run), "run_sum_s": round(sum(run), 2)}
    return out


def _stats(name: str, values: list[float]) -> dict[str, float | None]:
    if not values:
        return {f"{name}_median_s": None, f"{name}_max_s": None}
    return {f"{name}_median_s": round(statistics.median(values), 2), f"{name}_max_s": round(max(values), 2)}


def render_section(records: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """Return the "Under a real scheduler" section of RESULTS.md for ``records``."""
    lines = [SECTION_START, "## Under a real scheduler", "",
             f"Command: `{meta['command']}` ({meta['date']}, {meta['total_s']:.0f} s). "
             f"Machine: {meta['cores']} cores, shared: load average {meta['load_before']} before and "
             f"{meta['load_after']} after (1/5/15 min).",
             "",
             "Each executor runs the topology of `tests/e2e/celery_topology.py` (api-server, scheduler, "
             "dag-processor, PostgreSQL metadata database; `celery`: Redis, two Celery workers, snapshots on "
             "moto's S3 server; `local`: LocalExecutor, snapshots on local disk). Wall: the DAG run's "
             "`end_date - start_date`; engine alone: `run_ingestion` on the same warehouse and settings, "
             "PostgreSQL catalog, no delay. Full runs into an empty catalog.",
             "",
             "| tables | executor | units | DAG run wall s | engine alone s | overhead s | task instances | "
             "sum of task run s |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(records, key=lambda r: (r["tables"], r["executor"])):
        lines.append(f"| {r['tables']:,} | {r['executor']} | {r['units']} | {r['wall_s']:.1f} | "
                     f"{r['engine_s']:.1f} | {r['wall_s'] - r['engine_s']:.1f} | {r['task_instances']} | "
                     f"{r['task_run_sum_s']:.1f} |")
    lines += ["", "Where a task's time goes (median / max seconds per task instance): scheduling = upstream "
              "finished (for plan: the run started) → queued, queue = queued → running (a worker starts the task process), run = "
              "running → finished (task process: DAG file parse, connections, the work).", "",
              "| tables | executor | task | n | scheduling | queue | run |", "|---:|---|---|---:|---|---|---|"]
    for r in sorted(records, key=lambda r: (r["tables"], r["executor"])):
        for task_id, b in r["breakdown"].items():
            def cell(name: str) -> str:
                med, mx = b[f"{name}_median_s"], b[f"{name}_max_s"]
                return "–" if med is None else f"{med:.1f} / {mx:.1f}"

            lines.append(f"| {r['tables']:,} | {r['executor']} | {task_id} | {b['count']} | {cell('scheduling')} "
                         f"| {cell('queue')} | {cell('run')} |")
    lines += ["", SECTION_END]
    return "\n".join(lines)


def write_section(md_path: Path, section: str) -> None:
    """Put ``section`` into ``md_path``: replace the previous one, or append it."""
    text = md_path.read_text() if md_path.exists() else "# Benchmark results\n"
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        tail = rest.split(SECTION_END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    md_path.write_text(text)


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


class SchedulerBench:
    """The PostgreSQL server, the warehouses and the records of one ``--scheduler`` invocation."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        from benchmarks.run import Bench

        self.args, self.workdir = args, workdir
        ns = argparse.Namespace(catalog="postgres", tables_per_unit=args.tables_per_unit, delay_ms=0.0)
        self.bench = Bench(ns, workdir)  # the PostgreSQL server, catalogs, the engine worker's spec
        self.server = self.bench.server
        self.records: list[dict[str, Any]] = []
        self.engine_s: dict[int, float] = {}
        self.units: dict[int, int] = {}

    def prepare(self, tables: int) -> None:
        from benchmarks.run import default_shape, run_worker
        from benchmarks.warehouse import generate

        shape = default_shape(tables, self.args.columns)
        database = f"wh_{tables}"
        self.server.create_database(database)
        started = time.perf_counter()
        generate(self.bench.dsn(database), shape)
        print(f"== {tables} tables ({shape.label()}): generated in {time.perf_counter() - started:.1f}s", flush=True)
        url, _ = self.bench.catalog()
        # Straight to the server, as the DAG's connection goes (no delay proxy).
        direct = argparse.Namespace(port=self.server.port)
        spec = {**self.bench.base_spec(shape, database, direct, self.args.threads), "kind": "engine",
                "catalog_url": url, "steps": [{"step": "run", "name": "full", "mode": "full"}]}
        (record,) = run_worker(spec, self.workdir)
        self.engine_s[tables] = record["wall_s"]
        print(f"  engine alone: {record['wall_s']:.2f}s ({record.get('units', '?')} units)", flush=True)

    def run_executor(self, executor: str, sizes: list[int]) -> None:
        from tests.e2e.celery_topology import SNAPSHOT_BUCKET, SNAPSHOT_CONN_ID, CeleryTopology
        from tests.support.redis_server import RedisServer
        from tests.support.s3_server import S3Server

        pool = "omingest_bench"
        connections: dict[str, dict[str, Any]] = {}
        for tables in sizes:
            catalog_db = f"sched_catalog_{executor}_{tables}"
            self.server.create_database(catalog_db)
            connections[f"bench_warehouse_{tables}"] = {"conn_type": "postgres", "host": "127.0.0.1",
                                                        "port": self.server.port, "login": "postgres",
                                                        "schema": f"wh_{tables}"}
            connections[f"bench_catalog_{tables}"] = {"conn_type": "postgres", "host": "127.0.0.1",
                                                      "port": self.server.port, "login": "postgres",
                                                      "schema": catalog_db}
        redis = s3 = None
        if executor == "celery":
            redis, s3 = RedisServer().start(), S3Server().start()
            s3.create_bucket(SNAPSHOT_BUCKET)
            connections[SNAPSHOT_CONN_ID] = s3.aws_connection()
        topology = CeleryTopology(
            root=self.workdir / f"airflow-{executor}",
            dag_files={"omingest_bench_dags.py": dag_file(sizes, threads=self.args.threads,
                                                          tables_per_unit=self.args.tables_per_unit, pool=pool)},
            metadata_db=self.server.create_database(f"airflow_{executor}"), connections=connections,
            broker=redis.url if redis else None, extra_settings={"AIRFLOW__CORE__PARALLELISM": "32"})
        try:
            topology.start()
            topology.wait_for_dags([dag_id_for(t) for t in sizes], timeout=180)
            topology.wait_for_workers()
            print(f"-- {executor}: up in {topology.timings['start-up until healthy']:.0f}s", flush=True)
            api = topology.api
            api.post("/pools", {"name": pool, "slots": self.args.threads, "description": "benchmark"})
            for tables in sizes:
                self.records.append(self._measure(api, topology, executor, tables))
        finally:
            leftovers = topology.stop()
            for server in (redis, s3):
                if server is not None:
                    server.stop()
            if leftovers:
                print(f"  !! processes still running: {leftovers}", flush=True)

    def _measure(self, api: Any, topology: Any, executor: str, tables: int) -> dict[str, Any]:
        from tests.e2e.airflow_procs import wait_until

        dag_id = dag_id_for(tables)
        api.patch(f"/dags/{dag_id}", {"is_paused": False})
        run_id = api.post(f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": {"mode": "full"}})["dag_run_id"]

        def finished():
            topology.check_alive()
            run = api.get(f"/dags/{dag_id}/dagRuns/{run_id}")
            return run if run["state"] in ("success", "failed") else None

        run = wait_until(f"{dag_id} to finish", finished, self.args.run_timeout, topology.diagnostics)
        tis = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})["task_instances"]
        wall = _ts(run["end_date"]) - _ts(run["start_date"])
        record = {
            "executor": executor, "tables": tables, "status": run["state"], "wall_s": round(wall, 2),
            "engine_s": self.engine_s[tables], "threads": self.args.threads,
            "tables_per_unit": self.args.tables_per_unit,
            "units": sum(1 for t in tis if t["task_id"] == "unit.extract"), "task_instances": len(tis),
            "task_run_sum_s": round(sum((_ts(t["end_date"]) - _ts(t["start_date"])) for t in tis
                                        if t.get("start_date") and t.get("end_date")), 2),
            "hosts": sorted({t["hostname"] for t in tis if t.get("hostname")}),
            "breakdown": breakdown(tis, run["start_date"]), "load": _load(),
        }
        print(f"  {executor:<6} {tables:>6} tables: {run['state']} in {wall:.1f}s (engine {record['engine_s']:.1f}s, "
              f"{record['units']} units, hosts {record['hosts']})", flush=True)
        return record


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks --scheduler", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scheduler", type=parse_executors, required=True, help="local,celery (one or both)")
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",") if x.strip()], default=[1000, 10000],
                   help="total relations per warehouse (default 1000,10000)")
    p.add_argument("--columns", type=int, default=20, help="columns per table (default 20)")
    p.add_argument("--threads", type=int, default=4, help="threads = pool slots (default 4)")
    p.add_argument("--tables-per-unit", type=int, default=1000, help="IngestionSettings.tables_per_unit")
    p.add_argument("--run-timeout", type=float, default=1200, help="seconds a DAG run may take")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--results-md", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    meta: dict[str, Any] = {"command": "python -m benchmarks " + " ".join(shlex.quote(a) for a in argv),
                            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "cores": os.cpu_count(), "load_before": _load()}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="omingest-sched-bench-") as tmp:
        bench = SchedulerBench(args, Path(tmp))
        try:
            for tables in args.sizes:
                bench.prepare(tables)
            for executor in args.scheduler:
                bench.run_executor(executor, args.sizes)
        finally:
            bench.server.stop()
    meta["total_s"] = round(time.perf_counter() - started, 1)
    meta["load_after"] = _load()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"scheduler-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps({"meta": meta, "records": bench.records}, indent=1))
    write_section(args.results_md, render_section(bench.records, meta))
    print(f"wrote {path} and the scheduler section of {args.results_md}")
    return 0 if all(r["status"] == "success" for r in bench.records) else 1
