"""Shared fixtures: an isolated Airflow home, a PostgreSQL server, fresh databases per test."""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Airflow reads its configuration at import time: isolate it before anything imports airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="omingest-test-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
_REPO = Path(__file__).resolve().parent.parent
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_REPO / "dags")
# Bundles: the example DAGs users get, the DAGs the tests run, and the README's examples
# (dag.test() needs DAGs that live in a bundle).
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps([
    {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
     "kwargs": {"path": str(_REPO / "dags")}},
    {"name": "test-dags", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
     "kwargs": {"path": str(_REPO / "tests" / "dag_files")}},
    {"name": "doc-examples", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
     "kwargs": {"path": str(_REPO / "docs" / "examples")}},
])
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)

from tests.support.postgres_server import PostgresServer

_counter = itertools.count()
_EXIT_STATUS = pytest.StashKey[int]()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server started for the test session (fails with the install hint if absent)."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database."""
    return pg_server.create_database(f"t{next(_counter)}")


@pytest.fixture(autouse=True)
def _dispose_shared_engines() -> Iterator[None]:
    """Close the source engines a test shared in this process (each test has its own databases)."""
    yield
    from airflow_provider_omingest.sources.sql.shared_engines import dispose_shared_engines

    dispose_shared_engines()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata database, created once per session in the isolated AIRFLOW_HOME."""
    from airflow.utils import db

    db.resetdb()
    return _AIRFLOW_HOME


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without interpreter finalisation once pytest has reported.

    DuckDB 2's bindings print pages of "leaked instance" reports when objects they own are
    still referenced at interpreter shutdown (module-level caches of Airflow and the drivers),
    burying pytest's summary line. Everything is reported and every server stopped by now.
    """
    status = config.stash.get(_EXIT_STATUS, None)
    if status is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
