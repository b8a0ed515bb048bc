"""Whole-process figures: the ``omingest run`` CLI as a user starts it, and import CPU.

The engine figures leave out what a process pays before its first statement (interpreter,
imports, engine setup). Here each run is a fresh ``python -m airflow_provider_omingest.cli run``:
wall time from spawn to exit, the child's CPU (user + system) and peak RSS from ``wait4``, and
the source statements (``pg_stat_statements``). Import CPU is measured in fresh interpreters,
for the CLI and for what a task adds to what ``airflow.sdk`` has already imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

__all__ = ["import_cpu", "run_cli", "run_cli_sequence"]

REPO = Path(__file__).resolve().parent.parent

#: The modules a unit task imports when it runs (the operator, its hooks, a SQL source, the SQL catalog).
TASK_MODULES = (
    "airflow_provider_omingest.operators.unit",
    "airflow_provider_omingest.hooks.source",
    "airflow_provider_omingest.hooks.catalog",
    "airflow_provider_omingest.sources.sql.source",
    "airflow_provider_omingest.catalog.sql_catalog",
    "airflow_provider_omingest.engine.stages",
    "psycopg",
)
#: What the CLI imports for a PostgreSQL source and a SQLite catalog.
CLI_MODULES = (
    "airflow_provider_omingest.cli",
    "airflow_provider_omingest.engine.runner",
    "airflow_provider_omingest.sources.sql.source",
    "airflow_provider_omingest.catalog.sql_catalog",
    "psycopg",
)

_IMPORT_PROBE = """
import sys, time
for m in sys.argv[1].split(",") if sys.argv[1] else ():
    __import__(m)
t = time.process_time()
for m in sys.argv[2].split(","):
    __import__(m)
print(time.process_time() - t)
"""


def import_cpu(modules: tuple[str, ...], *, after: tuple[str, ...] = (), repeat: int = 5) -> float:
    """Return the median CPU seconds of importing ``modules`` in a fresh interpreter, ``after`` being imported."""
    samples = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE, ",".join(after), ",".join(modules)],
                             cwd=REPO, capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return round(median(samples), 3)


def run_cli(source_url: str, catalog_url: str, service: str, mode: str, threads: int) -> dict[str, Any]:
    """Run ``omingest run`` as a fresh process; return its wall time, exit code and output tails."""
    argv = [sys.executable, "-m", "airflow_provider_omingest.cli", "run", "--source", source_url,
            "--catalog", catalog_url, "--service", service, "--mode", mode, "--threads", str(threads)]
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    return {"wall_s": round(time.perf_counter() - started, 3), "exit_code": proc.returncode,
            "stdout_tail": proc.stdout[-600:], "stderr_tail": proc.stderr[-600:]}


def run_cli_sequence(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the CLI scenarios of ``spec`` (full, incremental after a change), each in a fresh process.

    Runs in its own worker process (see ``benchmarks.worker``): CPU and peak RSS come from the
    difference of ``RUSAGE_CHILDREN`` before and after each child, so no other child may run meanwhile.
    """
    import resource

    from benchmarks.warehouse import mutate
    from benchmarks.worker import SourceStatements

    statements = SourceStatements(spec["admin_dsn"], spec["database"])
    records = []
    for step in spec["steps"]:
        changes = None
        if step.get("mutate"):
            m = step["mutate"]
            changes = mutate(spec["warehouse_dsn"], m["percent"], seed=m["seed"], tag=m["tag"])
        statements.reset()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = run_cli(spec["source_url"], spec["catalog_url"], "bench", step["mode"], spec["threads"])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        stm = statements.read()
        records.append({
            "step": "run", "scenario": step["name"], "mode": step["mode"], "status":
            "success" if result["exit_code"] == 0 else f"exit {result['exit_code']}",
            "wall_s": result["wall_s"],
            "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 3),
            # ru_maxrss of the children is the largest child so far (KiB on Linux): fine for one growing series.
            "peak_rss_mib": round(after.ru_maxrss / 1024, 1),
            "source_statements": stm["statements"], "tables_fetched": None, "cli_said": _first_line(result["stdout_tail"]),
            "changes": {k: len(v) for k, v in (changes or {}).items()},
        })
        if result["exit_code"] != 0:
            print(result["stderr_tail"], file=sys.stderr)
    return records


def _first_line(stdout: str) -> str:
    """Return the CLI's first summary line (``<mode> run (<reason>): <status>``)."""
    return next((line for line in stdout.splitlines() if " run (" in line), "")


def imports_record() -> dict[str, Any]:
    """Return the import CPU figures (CLI alone; a task's modules after ``airflow.sdk``)."""
    return {
        "layer": "imports",
        "cli_import_cpu_s": import_cpu(CLI_MODULES),
        "airflow_sdk_import_cpu_s": import_cpu(("airflow.sdk",), repeat=3),
        "task_import_cpu_after_sdk_s": import_cpu(TASK_MODULES, after=("airflow.sdk",), repeat=3),
    }


if __name__ == "__main__":
    print(json.dumps(imports_record(), indent=2))
