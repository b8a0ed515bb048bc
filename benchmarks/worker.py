"""Benchmark workers, each run in a fresh process: ``python -m benchmarks.worker SPEC.json OUT.json``.

Kinds (``spec["kind"]``):

- ``engine``: a sequence of steps against one catalog: ``run_ingestion`` with a
  ``SqlAlchemySource`` (through the delay proxy) and a ``SqlCatalog``, all in this process (a
  thread per slot), or ``mutate`` the warehouse between runs.
- ``engine_tasks``: one run with every stage in its own process, as Airflow runs tasks: plan,
  then each unit's extract + update (``threads`` processes at once), then delete + summary.
  Gives the peak RSS of each task.
- ``dag``: the same steps as ``engine`` through ``dag.test()`` of a DAG built with
  ``build_ingestion_dag`` in a bundle folder made here (see :mod:`benchmarks.dag_worker`).
- ``cli``: each step a fresh ``omingest run`` process, as a user runs it (see :mod:`benchmarks.process`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from benchmarks.measure import (
    CatalogStatementCounter,
    RssSampler,
    SourceStatements,
    current_rss_mib,
    max_rss_mib,
)
from benchmarks.warehouse import WarehouseShape, mutate

SERVICE = "bench"


def _settings(spec: dict[str, Any]):
    from airflow_provider_omingest.config import IngestionSettings

    return IngestionSettings(service=SERVICE, threads=spec["threads"],
                             tables_per_unit=spec.get("tables_per_unit", 1000),
                             min_tables_per_unit=spec.get("min_tables_per_unit", 100))


def _shape(spec: dict[str, Any]) -> WarehouseShape:
    return WarehouseShape(**spec["shape"])


def _mutate_step(spec: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    done = mutate(spec["warehouse_dsn"], step["percent"], seed=step.get("seed", 1), tag=step.get("tag", "m"))
    return {"step": "mutate", "percent": step["percent"], "changes": {k: len(v) for k, v in done.items()},
            "seconds": round(time.perf_counter() - started, 3)}


def run_steps(spec: dict[str, Any], run_once: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    """Run a spec's steps: mutations as they come, each run step ``repeat`` times (its median kept).

    A repeated step with ``mutate`` changes other tables before each repetition (its own seed
    and tag), so every repetition of an "incremental after a change" run has a fresh change to find.

    :param run_once: runs one repetition of a run step and returns its record (with ``wall_s``).
    """
    records: list[dict[str, Any]] = []
    for step in spec["steps"]:
        if step["step"] == "mutate":
            records.append(_mutate_step(spec, step))
            continue
        mutation = step.get("mutate")
        samples = []
        for i in range(step.get("repeat", 1)):
            if mutation is not None:
                records.append(_mutate_step(spec, {**mutation, "seed": mutation.get("seed", 1) + i,
                                                   "tag": f"{mutation.get('tag', 'm')}{i}"}))
            samples.append(run_once(step))
        records.append(_median_record(samples))
    return records


def _median_record(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the sample with the median wall time, with every sample's wall time attached."""
    ordered = sorted(samples, key=lambda r: r["wall_s"])
    record = dict(ordered[(len(ordered) - 1) // 2])
    if len(samples) > 1:
        record["wall_samples_s"] = [r["wall_s"] for r in samples]
    return record


def run_engine(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the steps of an ``engine`` spec; return one record per step."""
    from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
    from airflow_provider_omingest.engine.runner import run_ingestion
    from airflow_provider_omingest.engine.summary import MemoryWatermarks
    from airflow_provider_omingest.models.run import RunRequest
    from airflow_provider_omingest.sources.sql.source import SqlAlchemySource

    settings = _settings(spec)
    catalog = SqlCatalog(spec["catalog_url"])
    counter = CatalogStatementCounter(catalog.engine)  # creates the tables (not timed)
    statements = SourceStatements(spec["admin_dsn"], spec["database"])
    source_url = spec["source_url"]
    last_summary = None

    def run_once(step: dict[str, Any]) -> dict[str, Any]:
        nonlocal last_summary
        last_value = None
        if step.get("watermark") and last_summary is not None:
            last_value = last_summary.source_clock
        statements.reset()
        counter.reset()
        with RssSampler() as rss:
            started = time.perf_counter()
            summary = run_ingestion(lambda: SqlAlchemySource(source_url), catalog, settings,
                                    RunRequest(run_id=f"bench__{step['name']}__{time.monotonic_ns()}",
                                               requested_mode=step["mode"]),
                                    watermarks=MemoryWatermarks(last_value))
            seconds = time.perf_counter() - started
        stm = statements.read()
        last_summary = summary
        return {
            "step": "run", "scenario": step["name"], "mode": summary.mode, "status": summary.status,
            "wall_s": round(seconds, 3), "source_statements": stm["statements"],
            "source_distinct_statements": stm["distinct"], "tables_fetched": summary.tables_fetched,
            "catalog_statements": counter.count, "catalog_rows_written_or_bound": counter.rows,
            "peak_rss_mib": round(rss.peak, 1), "rss_before_mib": round(rss.start_rss, 1),
            "units": summary.units, "totals": summary.totals, "change_method": summary.change_method,
        }

    records = run_steps(spec, run_once)
    catalog.close()
    return records


# -- process per task -------------------------------------------------------------------------


def _task_plan(spec: dict[str, Any]) -> dict[str, Any]:
    from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
    from airflow_provider_omingest.engine.stages import plan_run, register_databases
    from airflow_provider_omingest.models.run import RunRequest
    from airflow_provider_omingest.sources.sql.source import SqlAlchemySource

    started = time.perf_counter()
    with SqlAlchemySource(spec["source_url"]) as source, SqlCatalog(spec["catalog_url"]) as catalog:
        plan = plan_run(source, catalog, _settings(spec), RunRequest(run_id=spec["run_id"], requested_mode="full"))
        register_databases(catalog, plan, spec["run_id"])
    return {"plan": plan.model_dump(mode="json"), "seconds": time.perf_counter() - started,
            "max_rss_mib": max_rss_mib()}


def _task_unit(spec: dict[str, Any], unit: dict[str, Any]) -> dict[str, Any]:
    from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
    from airflow_provider_omingest.engine.stages import extract_unit, update_unit
    from airflow_provider_omingest.models.units import WorkUnit
    from airflow_provider_omingest.sources.sql.source import SqlAlchemySource

    settings = _settings(spec)
    work_unit = WorkUnit.model_validate(unit)
    started = time.perf_counter()
    before = current_rss_mib()
    with SqlAlchemySource(spec["source_url"]) as source:
        snapshots = extract_unit(source, work_unit, settings)
    extracted = time.perf_counter()
    with SqlCatalog(spec["catalog_url"]) as catalog:
        result = update_unit(catalog, settings, work_unit, snapshots, run_id=spec["run_id"])
    return {"result": result.model_dump(mode="json"), "extract_s": extracted - started,
            "update_s": time.perf_counter() - extracted, "rss_after_imports_mib": before,
            "max_rss_mib": max_rss_mib(), "tables": result.fetched}


def run_engine_tasks(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """One full run, each stage in its own process; per-task peak RSS."""
    import multiprocessing

    from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
    from airflow_provider_omingest.engine.stages import RunPlan, delete_stage, summarize
    from airflow_provider_omingest.models.units import UnitResult

    spec = {**spec, "run_id": f"bench_tasks_{int(time.time())}"}
    ctx = multiprocessing.get_context("spawn")
    statements = SourceStatements(spec["admin_dsn"], spec["database"])
    statements.reset()
    started = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=ctx, max_tasks_per_child=1) as pool:
        planned = pool.submit(_task_plan, spec).result()
    plan = RunPlan.model_validate(planned["plan"])
    units: list[dict[str, Any]] = []
    with ProcessPoolExecutor(spec["threads"], mp_context=ctx, max_tasks_per_child=1) as pool:
        futures = [pool.submit(_task_unit, spec, u.model_dump(mode="json")) for u in plan.units]
        for fut in as_completed(futures):
            units.append(fut.result())
    with RssSampler() as rss, SqlCatalog(spec["catalog_url"]) as catalog:
        results = [UnitResult.model_validate(u["result"]) for u in units]
        deleted = delete_stage(catalog, _settings(spec), plan, results, run_id=spec["run_id"])
        summary = summarize(plan, results, deleted)
    seconds = time.perf_counter() - started
    stm = statements.read()
    unit_rss = [u["max_rss_mib"] for u in units]
    return [{
        "step": "run", "scenario": "full (process per task)", "mode": summary.mode, "status": summary.status,
        "wall_s": round(seconds, 3), "source_statements": stm["statements"],
        "source_distinct_statements": stm["distinct"], "tables_fetched": summary.tables_fetched,
        "units": summary.units, "totals": summary.totals,
        "plan_task_max_rss_mib": round(planned["max_rss_mib"], 1), "plan_s": round(planned["seconds"], 3),
        "unit_task_max_rss_mib": round(max(unit_rss, default=0), 1),
        "unit_task_rss_after_imports_mib": round(max((u["rss_after_imports_mib"] for u in units), default=0), 1),
        "largest_unit_tables": max((u["tables"] for u in units), default=0),
        "unit_extract_s_max": round(max((u["extract_s"] for u in units), default=0), 3),
        "unit_update_s_max": round(max((u["update_s"] for u in units), default=0), 3),
        "delete_summary_peak_rss_mib": round(rss.peak, 1),
        "peak_rss_mib": round(max([planned["max_rss_mib"], *unit_rss, rss.peak]), 1),
    }]


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    kind = spec["kind"]
    if kind == "engine":
        records = run_engine(spec)
    elif kind == "engine_tasks":
        records = run_engine_tasks(spec)
    elif kind == "dag":
        from benchmarks.dag_worker import run_dag

        records = run_dag(spec)
    elif kind == "cli":
        from benchmarks.process import run_cli_sequence

        records = run_cli_sequence(spec)
    else:
        raise SystemExit(f"unknown worker kind {kind}")
    for r in records:
        r["process_max_rss_mib"] = round(max_rss_mib(), 1)
    Path(argv[1]).write_text(json.dumps(records, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
