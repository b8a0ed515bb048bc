"""Profile the engine alone with pyinstrument: ``python -m benchmarks.profile --shape 20x500x20``.

Builds the warehouse, then profiles a full run, a no-change full run and an incremental run
after a change (engine alone, in this process), and writes a text profile of each to
``--out`` (default ``benchmarks/results/profiles``). ``py-spy record -o x.svg -- python -m
benchmarks.profile ...`` works too (with ``--no-pyinstrument``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.run import parse_shape
from benchmarks.warehouse import generate, mutate

#: Where a run's time goes: (label, function names); a frame counts in the first bucket whose
#: name it has, and frames inside it are not counted again.
BUCKETS = (
    ("extract: source statements and rows", ("read_relations", "list_relations")),
    ("extract: building the models", ("build_tables",)),
    ("compare: fingerprints and writes (reconcile)", ("reconcile",)),
    ("catalog write (SqlCatalog.apply)", ("apply",)),
    ("catalog read (read_scope)", ("read_scope",)),
)


def profile_summary(session: Any) -> dict[str, Any]:
    """Return a profile's wall and CPU time and the seconds (and share) of each :data:`BUCKETS` entry."""
    seconds = dict.fromkeys((label for label, _ in BUCKETS), 0.0)

    def walk(frame: Any) -> None:
        for label, names in BUCKETS:
            if frame.function in names:
                seconds[label] += frame.time
                return
        for child in frame.children:
            walk(child)

    root = session.root_frame()
    if root is not None:
        walk(root)
    duration = session.duration or 1.0
    return {"wall_s": round(session.duration, 3), "cpu_s": round(session.cpu_time, 3),
            "buckets": {k: {"s": round(v, 3), "share": round(v / duration, 3)} for k, v in seconds.items()}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    p.add_argument("--shape", type=parse_shape, default=parse_shape("20x500x20"))
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "profiles")
    p.add_argument("--no-pyinstrument", action="store_true")
    p.add_argument("--scenarios", default="full,nochange,incremental")
    p.add_argument("--catalog", choices=("sqlite", "postgres"), default="sqlite",
                   help="the catalog's database: a SQLite file (default) or a database on the same server")
    args = p.parse_args(argv)
    from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
    from airflow_provider_omingest.config import IngestionSettings
    from airflow_provider_omingest.engine.runner import run_ingestion
    from airflow_provider_omingest.engine.summary import MemoryWatermarks
    from airflow_provider_omingest.models.run import RunRequest
    from airflow_provider_omingest.sources.sql.source import SqlAlchemySource
    from tests.support.postgres_server import PostgresServer

    args.out.mkdir(parents=True, exist_ok=True)
    with PostgresServer() as server, tempfile.TemporaryDirectory() as tmp:
        url = server.create_database("wh")
        dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname=wh"
        generate(dsn, args.shape)
        catalog_url = server.create_database("catalog") if args.catalog == "postgres" else f"sqlite:///{tmp}/catalog.db"
        catalog = SqlCatalog(catalog_url)
        suffix = "" if args.catalog == "sqlite" else f"-{args.catalog}"
        settings = IngestionSettings(service="bench", threads=args.threads)
        last = None
        for name in args.scenarios.split(","):
            if name == "incremental":
                mutate(dsn, 1.0)
            mode = "auto" if name == "incremental" else "full"
            profiler = None
            if not args.no_pyinstrument:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.002, async_mode="disabled")
                profiler.start()
            started = time.perf_counter()
            watermark = last.source_clock if last and name == "incremental" else None
            summary = run_ingestion(lambda: SqlAlchemySource(url), catalog, settings,
                                    RunRequest(run_id=f"profile__{name}", requested_mode=mode),
                                    watermarks=MemoryWatermarks(watermark))
            seconds = time.perf_counter() - started
            last = summary
            print(f"{name}: {seconds:.2f}s fetched={summary.tables_fetched} totals={summary.totals}", flush=True)
            if profiler:
                profiler.stop()
                path = args.out / f"{args.shape.label()}-{name}{suffix}.txt"
                path.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
                summary_path = path.with_suffix(".json")
                summary_path.write_text(json.dumps({
                    "shape": args.shape.label(), "scenario": name, "threads": args.threads, "catalog": args.catalog,
                    "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "load": os.getloadavg()[0], **profile_summary(profiler.last_session),
                }, indent=2))
                print(f"  profile: {path} (summary {summary_path.name})")
        catalog.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
