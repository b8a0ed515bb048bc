"""The ``omingest`` command: the demo, and the engine without Airflow.

``omingest demo``    build the embedded demo warehouse and run the demo DAG on it twice
``omingest run``     ingest a source into a catalog in this process (no Airflow)
``omingest catalog`` list what a catalog holds for a service
``omingest pools``   create the Airflow pools that the ingestion DAGs use
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path

__all__ = ["main"]

DEMO_DAG_ID = "omingest_demo"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = argparse.ArgumentParser(prog="omingest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="Run the demo DAG on the embedded warehouse, twice.")
    demo.add_argument("--workdir", default=".omingest-demo", help="Where the demo keeps its files.")
    demo.add_argument("--dags-folder", default="dags", help="Folder holding omingest_demo.py.")

    run = sub.add_parser("run", help="Ingest a source into a catalog in this process (no Airflow).")
    run.add_argument("--source", required=True, help="SQLAlchemy URL of the source.")
    run.add_argument("--catalog", required=True, help="SQLAlchemy URL of the catalog.")
    run.add_argument("--service", required=True)
    run.add_argument("--mode", default="auto", choices=["auto", "full", "incremental"])
    run.add_argument("--threads", type=int, default=4)
    run.add_argument("--dry-run", action="store_true")
    run.add_argument("--confirm-delete", action="store_true")

    cat = sub.add_parser("catalog", help="List the tables a catalog holds for a service.")
    cat.add_argument("--catalog", required=True, help="SQLAlchemy URL of the catalog.")
    cat.add_argument("--service", required=True)
    cat.add_argument("--deleted", action="store_true", help="Include soft-deleted tables.")

    pools = sub.add_parser("pools", help="Create the Airflow pools used by the ingestion DAGs (missing ones only).")
    pools.add_argument("--dags-folder", default=None, help="Folder of DAG files (default: Airflow's dags_folder).")
    pools.add_argument("--slots", type=int, default=None,
                       help="Slots of each new pool (default: the largest `threads` among the DAGs using it).")

    args = parser.parse_args(argv)
    return {"demo": _demo, "run": _run, "catalog": _catalog, "pools": _pools}[args.command](args)


def _pools(args: argparse.Namespace) -> int:
    """Create every pool an omingest extract task uses that does not exist yet (an admin command)."""
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.pool import Pool

    folder = args.dags_folder or conf.get("core", "dags_folder")
    bag = DagBag(dag_folder=folder)
    for path, error in bag.import_errors.items():
        print(f"warning: {path} did not import: {error.strip().splitlines()[-1]}", file=sys.stderr)
    wanted: dict[str, int] = {}
    for dag in bag.dags.values():
        for task in dag.tasks:
            if task.task_type == "OmingestExtractOperator" and task.pool != "default_pool":
                slots = task.max_active_tis_per_dagrun or 1
                wanted[task.pool] = max(wanted.get(task.pool, 0), slots)
    for name, slots in sorted(wanted.items()):
        if Pool.get_pool(name) is not None:
            print(f"pool {name}: exists")
            continue
        Pool.create_or_update_pool(name, args.slots or slots, "omingest: connections to one warehouse",
                                   include_deferred=False)
        print(f"pool {name}: created with {args.slots or slots} slots")
    if not wanted:
        print(f"No omingest DAG in {folder} names a pool of its own (they use default_pool).")
    return 0


def _run(args: argparse.Namespace) -> int:
    from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
    from airflow_provider_omingest.config import IngestionSettings
    from airflow_provider_omingest.engine.runner import run_ingestion
    from airflow_provider_omingest.sources.sql.source import SqlAlchemySource

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = IngestionSettings(service=args.service, threads=args.threads)
    with SqlCatalog(args.catalog) as catalog:
        summary = run_ingestion(lambda: SqlAlchemySource(args.source), catalog, settings,
                                requested_mode=args.mode, dry_run=args.dry_run,
                                confirm_delete=args.confirm_delete)
    print(f"{summary.mode} run ({summary.mode_reason}): {summary.status}")
    print(summary.table())
    return 0 if summary.status == "success" else 1


def _catalog(args: argparse.Namespace) -> int:
    from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog

    with SqlCatalog(args.catalog) as catalog:
        for t in catalog.list_tables(args.service, include_deleted=args.deleted):
            flag = "  (deleted)" if t["deleted"] else ""
            print(f"{t['fqn']}  v{t['version']}{flag}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir).resolve()
    dags = Path(args.dags_folder).resolve()
    if not (dags / "omingest_demo.py").exists():
        print(f"error: {dags / 'omingest_demo.py'} not found; run from the repository root or pass --dags-folder",
              file=sys.stderr)
        return 2
    warehouse, catalog_path = workdir / "warehouse.duckdb", workdir / "catalog.db"
    for path in (warehouse, catalog_path, workdir / "airflow", workdir / "snapshots"):  # only the demo's own
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    (workdir / "airflow").mkdir(parents=True)
    _demo_environment(workdir, dags, warehouse, catalog_path)

    from airflow_provider_omingest.demo.warehouse import build_demo_warehouse, mutate_demo_warehouse

    build_demo_warehouse(warehouse)
    print(f"Built the demo warehouse: {warehouse}")
    print("Preparing Airflow's database (first time only takes ~10 s)...")
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.resetdb()
    dag = DagBag(dag_folder=str(dags)).get_dag(DEMO_DAG_ID)

    ok = _demo_run(dag, "Run 1", catalog_path)
    print("\nChanging the warehouse:")
    for line in mutate_demo_warehouse(warehouse):
        print(f"  - {line}")
    ok = _demo_run(dag, "Run 2", catalog_path) and ok
    print(f"\nCatalog: sqlite:///{catalog_path}")
    print(f"  list it:  {_this_command()} catalog --catalog sqlite:///{catalog_path} --service demo")
    print(f"Airflow home of the demo: {workdir / 'airflow'} (task logs, run history)")
    return 0 if ok else 1


def _this_command() -> str:
    """Return how to call this command again from the current folder (e.g. ``.venv/bin/omingest``)."""
    path = Path(sys.argv[0])
    if path.name != "omingest" or "/" not in sys.argv[0]:
        return "omingest"  # found on PATH (or run as python -m)
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _demo_environment(workdir: Path, dags: Path, warehouse: Path, catalog_path: Path) -> None:
    """Point Airflow at the demo's own home before it is imported."""
    import warnings

    # Airflow imports FastAPI's test client, which warns about a future httpx; not the user's concern.
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
    home = workdir / "airflow"
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
        "AIRFLOW__OMINGEST__SNAPSHOT_PATH": f"file://{workdir}/snapshots",
        "AIRFLOW_CONN_OMINGEST_DEMO_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(warehouse)}),
        "AIRFLOW_CONN_OMINGEST_DEMO_CATALOG": json.dumps({"conn_type": "sqlite", "host": str(catalog_path)}),
    })


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _demo_run(dag, title: str, catalog_path: Path) -> bool:
    from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
    from airflow_provider_omingest.engine.stages import RunSummary

    print(f"\n{title}: running DAG {dag.dag_id} ...")
    dr = dag.test()
    with SqlCatalog(f"sqlite:///{catalog_path}") as catalog:
        record = catalog.get_run(dr.run_id)
    if record is None or not record.summary:
        print(f"{title} {dr.state}: no summary recorded (see the task logs)")
        return False
    summary = RunSummary.model_validate(record.summary)
    print(f"{title} {dr.state}: {summary.mode} run ({summary.mode_reason})")
    print(summary.table())
    return dr.state == "success"


def console_main() -> None:
    """Entry point of the ``omingest`` script."""
    code = main()
    # DuckDB 2's bindings report objects still alive at interpreter shutdown (Airflow keeps
    # module-level references); everything is written and closed by now, so skip finalisation.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console_main()
