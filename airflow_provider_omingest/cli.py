"""The omingest command: the demo, and the engine without Airflow.

  omingest demo      build the embedded demo warehouse and run the demo DAG on it twice
  omingest run       ingest a source into a catalog in this process (no Airflow)
  omingest catalog   list what a catalog holds for a service
  omingest pools     create the Airflow pools that the ingestion DAGs use

Errors are one line on standard error (exit code 2 for bad input, 1 for a failed run);
--traceback shows the whole trace.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]

DEMO_DAG_ID = "omingest_demo"


def _parser() -> argparse.ArgumentParser:
    from airflow_provider_omingest import __version__

    parser = argparse.ArgumentParser(prog="omingest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--traceback", action="store_true", help="On an error, show the whole traceback.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="Run the demo DAG on the embedded warehouse, twice.",
                          description="Build a small DuckDB warehouse, run the demo DAG on it (full), change "
                                      "a few tables, run it again (incremental) and print what each run found.")
    demo.add_argument("--workdir", default=".omingest-demo", help="Where the demo keeps its files "
                                                                  "(default: %(default)s).")
    demo.add_argument("--dags-folder", default="dags", help="Folder holding omingest_demo.py (default: %(default)s).")

    run = sub.add_parser("run", help="Ingest a source into a catalog in this process (no Airflow).",
                         description="Ingest a source into a catalog in this process, a thread per slot. The "
                                     "watermark is the catalog's last successful run of the service, so "
                                     "--mode auto runs incrementally after a first successful run.")
    run.add_argument("--source", required=True, metavar="URL", help="SQLAlchemy URL of the source, e.g. "
                                                                    "postgresql+psycopg://user@host/db.")
    run.add_argument("--catalog", required=True, metavar="URL", help="SQLAlchemy URL of the catalog, e.g. "
                                                                     "sqlite:///catalog.db.")
    run.add_argument("--service", required=True, help="Service name: the first part of every name in the catalog.")
    run.add_argument("--mode", default="auto", choices=["auto", "full", "incremental"],
                     help="auto: incremental when possible (default); full: re-sync everything; incremental: "
                          "fail if impossible.")
    run.add_argument("--threads", type=int, default=4, help="Work units extracted at once (default: %(default)s).")
    run.add_argument("--safety-margin", metavar="DURATION", help="Subtracted from the watermark, e.g. 90m, 3h "
                                                                 "(default: the source's).")
    run.add_argument("--max-delete-fraction", type=float, metavar="F",
                     help="Fail-safe: refuse to delete more than this share of the tables in scope (default 0.2).")
    for level in ("database", "schema", "table"):
        run.add_argument(f"--include-{level}", action="append", default=[], metavar="REGEX",
                         help=f"Ingest only {level}s matching this regular expression (repeatable).")
        run.add_argument(f"--exclude-{level}", action="append", default=[], metavar="REGEX",
                         help=f"Leave out {level}s matching this regular expression (repeatable).")
    run.add_argument("--dry-run", action="store_true", help="Compute everything, write nothing.")
    run.add_argument("--confirm-delete", action="store_true",
                     help="Allow deletions above the fail-safe threshold for this run.")

    cat = sub.add_parser("catalog", help="List the tables a catalog holds for a service.",
                         description="List the tables a catalog holds for a service, with their versions.")
    cat.add_argument("--catalog", required=True, metavar="URL", help="SQLAlchemy URL of the catalog.")
    cat.add_argument("--service", required=True, help="The service to list.")
    cat.add_argument("--deleted", action="store_true", help="Include soft-deleted tables.")

    pools = sub.add_parser("pools", help="Create the Airflow pools used by the ingestion DAGs (missing ones only).",
                           description="Create every Airflow pool that an omingest DAG names and that does not "
                                       "exist yet (an admin command: it needs Airflow's metadata database).")
    pools.add_argument("--dags-folder", default=None, help="Folder of DAG files (default: Airflow's dags_folder).")
    pools.add_argument("--slots", type=int, default=None,
                       help="Slots of each new pool (default: the largest `threads` among the DAGs using it).")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    commands = {"demo": _demo, "run": _run, "catalog": _catalog, "pools": _pools}
    try:
        return commands[args.command](args)
    except Exception as e:
        if args.traceback:
            raise
        return _report(e)


def _report(error: Exception) -> int:
    """Print ``error`` as one line; return 2 for bad input, 1 otherwise."""
    from airflow_provider_omingest.exceptions import DeletionRefused, OmingestError

    text = " ".join(str(error).split()) or type(error).__name__
    print(f"omingest: error: {text}", file=sys.stderr)
    if isinstance(error, DeletionRefused):
        return 1
    if isinstance(error, OmingestError) and not error.retryable:
        return 2
    print("omingest: run with --traceback for details", file=sys.stderr)
    return 1


def _pools(args: argparse.Namespace) -> int:
    """Create every pool an omingest extract task uses that does not exist yet (an admin command)."""
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.pool import Pool

    from airflow_provider_omingest.pools import pools_wanted

    folder = args.dags_folder or conf.get("core", "dags_folder")
    bag = DagBag(dag_folder=folder)
    for path, error in bag.import_errors.items():
        print(f"warning: {path} did not import: {error.strip().splitlines()[-1]}", file=sys.stderr)
    wanted = pools_wanted(bag.dags.values())
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
    from airflow_provider_omingest.config import ingestion_settings
    from airflow_provider_omingest.engine.runner import run_ingestion
    from airflow_provider_omingest.models.run import RunRequest
    from airflow_provider_omingest.sources.sql.source import SqlAlchemySource

    values: dict[str, Any] = {"service": args.service, "threads": args.threads, "filters": _filters(args)}
    if args.safety_margin is not None:
        values["safety_margin"] = args.safety_margin
    if args.max_delete_fraction is not None:
        values["max_delete_fraction"] = args.max_delete_fraction
    settings = ingestion_settings(values)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    request = RunRequest(run_id=f"cli__{os.urandom(6).hex()}", requested_mode=args.mode, dry_run=args.dry_run,
                         confirm_delete=args.confirm_delete)
    with SqlCatalog(args.catalog) as catalog:
        summary = run_ingestion(lambda: SqlAlchemySource(args.source), catalog, settings, request)
    print(f"{summary.mode} run ({summary.mode_reason}): {summary.status}")
    print(summary.table())
    if summary.failure:
        print(f"omingest: run failed: {summary.failure}", file=sys.stderr)
    return 0 if summary.status == "success" else 1


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    for level in ("database", "schema", "table"):
        include, exclude = getattr(args, f"include_{level}"), getattr(args, f"exclude_{level}")
        if include or exclude:
            filters[level] = {"include": include, "exclude": exclude}
    return filters


def _catalog(args: argparse.Namespace) -> int:
    from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog

    catalog = SqlCatalog.open_existing(args.catalog)
    with catalog:
        services = catalog.list_services()
        if args.service not in services:
            from airflow_provider_omingest.exceptions import ConfigError

            raise ConfigError("--service", args.service, f"the catalog {catalog.safe_url} holds no such service; "
                              f"it holds: {', '.join(services) or 'none'}")
        for t in catalog.list_tables(args.service, include_deleted=args.deleted):
            flag = "  (deleted)" if t["deleted"] else ""
            print(f"{t['fqn']}  v{t['version']}{flag}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir).resolve()
    dags = Path(args.dags_folder).resolve()
    if not (dags / "omingest_demo.py").exists():
        print(f"omingest: error: {dags / 'omingest_demo.py'} not found; run from the repository root or pass "
              "--dags-folder", file=sys.stderr)
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
    try:
        code = main()
    except SystemExit as e:  # argparse: --help, --version, usage errors
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    # DuckDB 2's bindings report objects still alive at interpreter shutdown (Airflow keeps
    # module-level references); everything is written and closed by now, so skip finalisation.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console_main()
