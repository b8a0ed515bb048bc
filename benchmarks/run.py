"""Run the benchmark matrix: ``.venv/bin/python -m benchmarks [options]`` from the repository root.

Starts a throwaway PostgreSQL server, builds a synthetic warehouse per size, and measures the
engine alone (``run_ingestion``) and the Airflow DAG (``dag.test()``) through a loopback proxy
that adds a delay per round trip. Each measured sequence runs in a fresh worker process
(:mod:`benchmarks.worker`). Writes ``benchmarks/results/results-<time>.json`` and regenerates
``benchmarks/RESULTS.md`` and ``benchmarks/results/time_vs_tables.png`` from every results file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.proxy import DelayProxy
from benchmarks.warehouse import WarehouseShape, generate

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def default_shape(tables: int, columns: int) -> WarehouseShape:
    """Relations per size: 10 schemas up to 5,000 tables, then one schema per 500 tables, at most 100."""
    schemas = min(tables, max(10, min(100, tables // 500)))
    return WarehouseShape(schemas=schemas, tables=tables // schemas, columns=columns)


def parse_shape(text: str) -> WarehouseShape:
    s, t, c = (int(x) for x in text.lower().split("x"))
    return WarehouseShape(schemas=s, tables=t, columns=c)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def machine_info(server_version: str | None = None) -> dict[str, Any]:
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    versions = {}
    for pkg in ("airflow-provider-omingest", "apache-airflow", "sqlalchemy", "pydantic", "psycopg", "matplotlib"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cores": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem / 2**30, 1),
        "python": platform.python_version(), "platform": platform.platform(),
        "postgresql": server_version, "packages": versions,
    }


def run_worker(spec: dict[str, Any], workdir: Path, timeout: float | None = None) -> list[dict[str, Any]]:
    """Run one worker process on ``spec``; return its records."""
    n = len(list(workdir.glob("spec-*.json")))
    spec_path, out_path = workdir / f"spec-{n}.json", workdir / f"out-{n}.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.worker", str(spec_path), str(out_path)], cwd=REPO,
                          env=env, check=False, timeout=timeout)
    if proc.returncode != 0:  # keep going: the other measurements are still worth having
        print(f"  !! worker {spec['kind']} failed with exit code {proc.returncode} (see its output above)", flush=True)
        return []
    return json.loads(out_path.read_text())


class Bench:
    """State of one benchmark session: the server, the work folder, the records."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        from tests.support.postgres_server import PostgresServer

        self.args = args
        self.workdir = workdir
        self.server = PostgresServer().start()
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:  # reset/read from here
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        self.records: list[dict[str, Any]] = []
        self._n = 0

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.server.port} user=postgres dbname={database}"

    def server_version(self) -> str:
        import psycopg

        with psycopg.connect(self.dsn("postgres")) as conn:
            return conn.execute("show server_version").fetchone()[0]

    def catalog(self) -> tuple[str, dict[str, Any]]:
        """Return a fresh catalog: (SQLAlchemy URL, Airflow connection)."""
        self._n += 1
        if self.args.catalog == "postgres":
            name = f"catalog_{self._n}"
            url = self.server.create_database(name)
            return url, {"conn_type": "postgres", "host": "127.0.0.1", "port": self.server.port,
                         "login": "postgres", "schema": name}
        path = self.workdir / f"catalog-{self._n}.db"
        return f"sqlite:///{path}", {"conn_type": "sqlite", "host": str(path)}

    def base_spec(self, shape: WarehouseShape, database: str, proxy: DelayProxy, threads: int) -> dict[str, Any]:
        return {
            "shape": {"schemas": shape.schemas, "tables": shape.tables, "columns": shape.columns},
            "database": database, "warehouse_dsn": self.dsn(database), "admin_dsn": self.dsn("postgres"),
            "source_url": f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{database}",
            "source_conn": {"conn_type": "postgres", "host": "127.0.0.1", "port": proxy.port,
                            "login": "postgres", "schema": database},
            "threads": threads, "tables_per_unit": self.args.tables_per_unit,
        }

    def add(self, records: list[dict[str, Any]], **common: Any) -> None:
        for r in records:
            if r.get("step") == "run":
                self.records.append({**common, **r})
                print(_line(self.records[-1]), flush=True)
            else:
                print(f"  mutate {r['percent']}%: {r['changes']} in {r['seconds']}s", flush=True)

    def sequence(self, pct: float, tag: str) -> list[dict[str, Any]]:
        # The short runs are repeated (the median is kept): a few tenths of a second are noisy.
        repeat = self.args.repeat
        return [
            {"step": "run", "name": "full", "mode": "full"},
            {"step": "run", "name": "no-change (full)", "mode": "full"},
            {"step": "run", "name": "no-change (incremental)", "mode": "auto", "watermark": True, "repeat": repeat},
            {"step": "run", "name": f"incremental after {pct:g}% change", "mode": "auto", "watermark": True,
             "repeat": repeat, "mutate": {"percent": pct, "seed": 7, "tag": tag}},
        ]

    def size(self, shape: WarehouseShape) -> None:
        a = self.args
        database = f"wh_{shape.label()}"
        self.server.create_database(database)
        started = time.perf_counter()
        generate(self.dsn(database), shape)
        print(f"== {shape.label()} ({shape.relations} relations): generated in "
              f"{time.perf_counter() - started:.1f}s", flush=True)
        common = {"shape": shape.label(), "schemas": shape.schemas, "tables": shape.relations,
                  "columns": shape.columns, "catalog": a.catalog,
                  "generate_s": round(time.perf_counter() - started, 1)}
        with DelayProxy(self.server.port, a.delay_ms / 1000) as proxy:
            if "engine" in a.layers:
                url, _ = self.catalog()
                spec = {**self.base_spec(shape, database, proxy, a.threads), "kind": "engine",
                        "catalog_url": url, "steps": self.sequence(a.change_percent, "e")}
                self.add(run_worker(spec, self.workdir), **common, layer="engine", threads=a.threads, delay_ms=a.delay_ms)
            if "dag" in a.layers and shape.relations in a.dag_sizes:
                url, conn = self.catalog()
                spec = {**self.base_spec(shape, database, proxy, a.threads), "kind": "dag",
                        "catalog_url": url, "catalog_conn": conn,
                        "airflow_home": str(self.workdir / f"airflow-{self._n}"),
                        "steps": self.sequence(a.change_percent, "d")[:1 if a.dag_full_only else None]}
                self.add(run_worker(spec, self.workdir), **common, layer="dag", threads=a.threads, delay_ms=a.delay_ms)
            if "cli" in a.layers:
                url, _ = self.catalog()
                spec = {**self.base_spec(shape, database, proxy, a.threads), "kind": "cli", "catalog_url": url,
                        "steps": [{"name": "full", "mode": "full"},
                                  {"name": f"incremental after {a.change_percent:g}% change", "mode": "auto",
                                   "mutate": {"percent": a.change_percent, "seed": 11, "tag": "c"}},
                                  {"name": "no-change (full)", "mode": "full"}]}
                self.add(run_worker(spec, self.workdir), **common, layer="cli", threads=a.threads, delay_ms=a.delay_ms)
            if shape.relations in a.task_sizes:
                url, _ = self.catalog()
                spec = {**self.base_spec(shape, database, proxy, a.threads), "kind": "engine_tasks",
                        "catalog_url": url}
                self.add(run_worker(spec, self.workdir), **common, layer="engine (process per task)",
                         threads=a.threads, delay_ms=a.delay_ms)
        if shape.relations == a.matrix_size and a.threads_matrix:
            # The same units for every thread count (the work is fixed, only the concurrency
            # changes): as many units as the largest thread count.
            per_unit = math.ceil(shape.relations / max(a.threads_matrix))
            for delay_ms in a.matrix_delay_ms:
                with DelayProxy(self.server.port, delay_ms / 1000) as proxy:
                    for threads in a.threads_matrix:
                        url, _ = self.catalog()
                        spec = {**self.base_spec(shape, database, proxy, threads), "kind": "engine",
                                "catalog_url": url, "tables_per_unit": per_unit, "min_tables_per_unit": 1,
                                "steps": [{"step": "run", "name": "full", "mode": "full"}]}
                        self.add(run_worker(spec, self.workdir), **common, layer="engine", threads=threads,
                                 delay_ms=delay_ms, matrix="threads")
        self._drop(database)

    def _drop(self, database: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _line(r: dict[str, Any]) -> str:
    extra = f" xcom={r['xcom_bytes']}B" if "xcom_bytes" in r else ""
    return (f"  {r['layer']:<9} {r['shape']:<14} t={r['threads']} d={r['delay_ms']}ms {r['scenario']:<32} "
            f"{r['wall_s']:8.2f}s src_stmts={r['source_statements']} fetched={r['tables_fetched']} "
            f"cat_stmts={r.get('catalog_statements', '-')} rss={r['peak_rss_mib']}MiB{extra} [{r['status']}]")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=_ints, default=[1000, 10000],
                   help="total relations (tables + views) per warehouse, comma-separated (default 1000,10000)")
    p.add_argument("--columns", type=int, default=20, help="columns per table (default 20)")
    p.add_argument("--shape", action="append", type=parse_shape, default=[],
                   help="explicit SCHEMASxTABLESxCOLUMNS (repeatable; replaces --sizes)")
    p.add_argument("--threads", type=int, default=4, help="threads of the size runs (default 4)")
    p.add_argument("--delay-ms", type=float, default=0.0, help="proxy delay per round trip of the size runs")
    p.add_argument("--change-percent", type=float, default=1.0, help="share changed before the incremental run")
    p.add_argument("--layers", type=lambda s: s.split(","), default=["engine", "dag"],
                   help="engine,dag,cli (default engine,dag; cli: each run a fresh `omingest run` process)")
    p.add_argument("--dag-sizes", type=_ints, default=[1000, 10000], help="sizes also run through the DAG")
    p.add_argument("--dag-full-only", action="store_true", help="DAG: one full run only (smoke test)")
    p.add_argument("--task-sizes", type=_ints, default=[],
                   help="sizes also run with a process per task (per-task peak RSS), e.g. 100000")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of the incremental scenarios; the median is reported (default 3)")
    p.add_argument("--threads-matrix", type=_ints, default=[1, 2, 4, 8], help="threads of the scaling runs")
    p.add_argument("--matrix-delay-ms", type=_floats, default=[5.0, 50.0],
                   help="proxy delays of the scaling runs, comma-separated (default 5,50)")
    p.add_argument("--matrix-size", type=int, default=1000, help="size of the scaling runs")
    p.add_argument("--tables-per-unit", type=int, default=1000, help="IngestionSettings.tables_per_unit")
    p.add_argument("--catalog", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--peer", choices=["datahub"], default=None,
                   help="instead of the layers: omingest's CLI and this peer side by side, each as a whole "
                        "process, --repeat times in alternating order (installs the peer into its own virtualenv)")
    p.add_argument("--peer-delay-ms", type=_floats, default=[0.0, 50.0],
                   help="proxy delays of the peer comparison, comma-separated (default 0,50)")
    p.add_argument("--peer-dir", type=Path, default=None,
                   help="parent folder of the peer's virtualenv (default .omingest/peers)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder of the results (JSON, PNG)")
    p.add_argument("--results-md", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md")
    p.add_argument("--no-report", action="store_true", help="write the JSON only")
    p.add_argument("--scheduler", metavar="local,celery",
                   help="instead: the DAG under a real scheduler per executor (see benchmarks/scheduler.py "
                        "and `python -m benchmarks --scheduler local --help`)")
    return p


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if any(a == "--scheduler" or a.startswith("--scheduler=") for a in raw):
        from benchmarks.scheduler import main as scheduler_main  # under a real scheduler

        return scheduler_main(raw)
    args = build_parser().parse_args(argv)
    shapes = args.shape or [default_shape(n, args.columns) for n in args.sizes]
    command = "python -m benchmarks " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="omingest-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            meta = {"command": command, "machine": machine_info(bench.server_version())}
            print(f"PostgreSQL {meta['machine']['postgresql']} on 127.0.0.1:{bench.server.port}; "
                  f"{meta['machine']['cores']} cores", flush=True)
            started = time.perf_counter()
            if args.peer:
                return _peer_main(args, bench, shapes, meta, started)
            for shape in shapes:
                bench.size(shape)
            if "cli" in args.layers:
                from benchmarks.process import imports_record

                meta["imports"] = imports_record()
                print(f"  imports: {meta['imports']}", flush=True)
            meta["total_s"] = round(time.perf_counter() - started, 1)
        finally:
            bench.server.stop()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"results-{stamp}.json"
    path.write_text(json.dumps({"meta": meta, "records": bench.records}, indent=1, default=str))
    print(f"wrote {path}")
    if not args.no_report:
        from benchmarks.report import write_report

        md, png = write_report(args.out, args.results_md)
        print(f"wrote {md} and {png}")
    return 0


def _peer_main(args: argparse.Namespace, bench: Bench, shapes: list[WarehouseShape], meta: dict[str, Any],
               started: float) -> int:
    """The side-by-side comparison with a peer; exit code 1 when the two extracted different relations."""
    from benchmarks.peer import PeerBench, peer_versions, write_results

    peer = PeerBench(bench, args.peer)
    meta["machine"]["packages"].update(peer_versions(peer.build))
    meta["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    for shape in shapes:
        peer.size(shape)
    meta["total_s"] = round(time.perf_counter() - started, 1)
    meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_results(args.out, meta, peer.records)
    print(f"wrote {path}")
    if not args.no_report:
        from benchmarks.report import write_report

        md, png = write_report(args.out, args.results_md)
        print(f"wrote {md} and {png}")
    if peer.failed_comparisons:
        print(f"!! {peer.failed_comparisons} comparison(s) found different relations (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
