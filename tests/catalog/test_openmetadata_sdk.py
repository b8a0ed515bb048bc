"""OpenMetadata's own Python SDK as the judge of the stand-in and of every body the catalog sends.

The SDK (``openmetadata-ingestion``, see :mod:`tests.support.openmetadata_sdk`) runs in its own
virtualenv, in a subprocess: it drives the stand-in, which runs as a separate process the way
anyone would start it (``python -m tests.openmetadata_standin``), and it validates the request
bodies recorded during a full → changed → deleted → restored lifecycle against its generated
models.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from airflow_provider_omingest.catalog.openmetadata import OpenMetadataCatalog
from airflow_provider_omingest.config import IngestionSettings
from airflow_provider_omingest.demo.warehouse import build_demo_warehouse, mutate_demo_warehouse
from airflow_provider_omingest.engine.runner import run_ingestion
from airflow_provider_omingest.models.entities import Column, ConstraintType, Table, TableConstraint
from airflow_provider_omingest.models.run import RunRequest
from airflow_provider_omingest.sources.sql.source import SqlAlchemySource
from tests.openmetadata_standin import OpenMetadataStandIn
from tests.support.openmetadata_sdk import sdk_python
from tests.support.openmetadata_spec import SPEC_ENV_VAR, spec_dir

from .catalog_contract import make_table, table_write

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("openmetadata_sdk_driver.py")
TOKEN = "sdk-test-jwt-token"


@pytest.fixture(scope="module")
def sdk() -> Path:
    started = time.monotonic()
    python, record = sdk_python()
    log.warning("OpenMetadata SDK %s virtualenv ready in %.1fs (built in %ss)", record["version"],
                time.monotonic() - started, record["install_seconds"])
    return python


def run_driver(python: Path, *args: str) -> dict:
    done = subprocess.run([str(python), str(DRIVER), *args], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"the SDK driver failed:\n{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def standalone_standin() -> Iterator[str]:
    """The stand-in as its own process; yields its URL."""
    env = {"PATH": "/usr/bin:/bin", SPEC_ENV_VAR: str(spec_dir())}
    process = subprocess.Popen([sys.executable, "-m", "tests.openmetadata_standin", "--port", "0", "--token", TOKEN],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the first line: "… ready on URL/api …"
        assert "ready" in line, f"the stand-in did not start: {line}{process.stdout.read() if process.poll() else ''}"
        yield line.split(" on ", 1)[1].split("/api", 1)[0]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_sdk_drives_the_standin(sdk: Path, standalone_standin: str, tmp_path: Path) -> None:
    """Client construction with version validation, create_or_update, get_by_name(fields=*),
    list_all_entities, get_by_id, patch_description, soft delete, include=all, restore, hard
    delete — each with its effect checked; and the SDK reads the tables omingest wrote."""
    written = [table_write("sales", rich_table()), table_write("sales", make_table("plain"))]
    with OpenMetadataCatalog(standalone_standin, TOKEN, runs_url=f"sqlite:///{tmp_path}/runs.db") as catalog:
        catalog.apply(written, "r1")

    result = run_driver(sdk, "drive", standalone_standin, TOKEN, "svc.db.sales.customers", "svc.db.sales.plain")

    assert result["ok"] and len(result["checks"]) >= 18, result
    log.warning("SDK drive: %d checks in %.1fs", len(result["checks"]), result["seconds"])


def test_every_body_sent_in_a_lifecycle_validates_against_the_sdk_models(sdk: Path, tmp_path: Path) -> None:
    """Full → changed → deleted → restored over the demo warehouse, plus foreign keys and tags."""
    standin = OpenMetadataStandIn(spec_dir(), token=TOKEN).start()
    try:
        warehouse = build_demo_warehouse(tmp_path / "demo.duckdb")
        settings = IngestionSettings(service="demo", threads=2, tables_per_unit=10)

        def source() -> SqlAlchemySource:
            return SqlAlchemySource(f"duckdb:///{warehouse}")

        def run(run_id: str) -> None:
            with OpenMetadataCatalog(standin.url, TOKEN, runs_url=f"sqlite:///{tmp_path}/runs.db") as catalog:
                assert run_ingestion(source, catalog, settings, RunRequest(run_id=run_id)).status == "success"

        run("full")
        mutate_demo_warehouse(warehouse)  # changed tables, a new one, a dropped one
        run("changed")
        with duckdb.connect(str(warehouse)) as conn:  # the dropped table comes back, changed
            conn.execute("create table staging.tmp_currency_rates (currency varchar, rate decimal(12, 6))")
        run("restored")
        with OpenMetadataCatalog(standin.url, TOKEN, runs_url=f"sqlite:///{tmp_path}/runs.db") as catalog:
            catalog.apply([table_write("sales", rich_table())], "tags-and-keys")
            catalog.apply([table_write("sales", rich_table(description="changed", tags=("PII.Sensitive",)))],
                          "tags-and-keys-changed")
        records = [{"method": r.method, "path": r.path, "body": r.body, "before": r.before}
                   for r in standin.requests if r.method in ("PUT", "PATCH") and r.status < 300]
    finally:
        standin.stop()
    kinds = Counter((r["method"], r["path"].rsplit("/", 1)[0] if r["method"] == "PATCH" else r["path"]) for r in records)
    for needed in [("PUT", "/api/v1/tables"), ("PATCH", "/api/v1/tables"), ("PUT", "/api/v1/tables/restore"),
                   ("PUT", "/api/v1/databaseSchemas"), ("PUT", "/api/v1/databases"),
                   ("PUT", "/api/v1/services/databaseServices"), ("PUT", "/api/v1/classifications"),
                   ("PUT", "/api/v1/tags"), ("PUT", "/api/v1/lineage")]:
        assert kinds[needed], f"the lifecycle sent no {needed}: {kinds}"
    bodies = tmp_path / "bodies.json"
    bodies.write_text(json.dumps(records))

    result = run_driver(sdk, "validate", str(bodies))

    assert result["ok"] and result["validated"] == len(records), result
    log.warning("SDK validated %d bodies: %s", result["validated"], result["by_model"])


def rich_table(description: str = "One row per customer", tags: tuple[str, ...] = ("Tier.Tier1", "PII.Sensitive")
               ) -> Table:
    """A table with nested columns, tags, a self-referencing foreign key and a foreign key."""
    return Table(
        name="customers",
        description=description,
        columns=(
            Column(name="id", data_type="INT", data_type_display="integer", nullable=False, ordinal_position=1),
            Column(name="referrer_id", data_type="INT", data_type_display="integer", ordinal_position=2),
            Column(name="plain_id", data_type="INT", data_type_display="integer", ordinal_position=3,
                   tags=("PII.Sensitive",)),
            Column(name="address", data_type="STRUCT", data_type_display="struct<street:varchar(64)>",
                   ordinal_position=4, children=(Column(name="street", data_type="VARCHAR",
                                                        data_type_display="varchar(64)", data_length=64),)),
            Column(name="labels", data_type="ARRAY", data_type_display="varchar[]", ordinal_position=5),
        ),
        constraints=(
            TableConstraint(constraint_type=ConstraintType.PRIMARY_KEY, columns=("id",)),
            TableConstraint(constraint_type=ConstraintType.FOREIGN_KEY, columns=("referrer_id",),
                            referred_table="db.sales.customers", referred_columns=("id",)),
            TableConstraint(constraint_type=ConstraintType.FOREIGN_KEY, columns=("plain_id",),
                            referred_table="db.sales.plain", referred_columns=("id",)),
        ),
        tags=tags,
        row_count=3,
    )
