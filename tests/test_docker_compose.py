"""docker-compose.yaml is coherent with the project (no Docker engine needed: the YAML is parsed).

Checks the services of Airflow's official 3.x layout (api-server, scheduler, dag-processor,
triggerer, Celery worker, init; PostgreSQL, Redis), the settings that must agree between them,
healthchecks and start-up order, volumes, the image (built with this package installed), and
that airflow-init creates every connection and pool the example DAGs in dags/ use.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yaml"
DOCKERFILE = REPO / "docker" / "Dockerfile"
INIT_SCRIPT = REPO / "docker" / "omingest-init.sh"

AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _command(service: dict) -> str:
    cmd = service.get("command", "")
    return " ".join(cmd) if isinstance(cmd, list) else cmd


def _example_dags() -> list[dict]:
    """The build_ingestion_dag(...) keyword arguments of every example DAG, read without importing it."""
    found = []
    for path in sorted((REPO / "dags").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "build_ingestion_dag":
                kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords
                          if k.arg in ("source_conn_id", "catalog_conn_id", "pool", "threads")}
                kwargs.setdefault("catalog_conn_id", "omingest_catalog")
                kwargs.setdefault("pool", "default_pool")
                found.append({"file": path.name, "dag_id": ast.literal_eval(node.args[0]), **kwargs})
    assert found, "no example DAG found in dags/"
    return found


def test_services_and_commands(services):
    assert set(AIRFLOW_SERVICES) | {"postgres", "redis", "airflow-init"} <= set(services)
    for name, command in AIRFLOW_SERVICES.items():
        assert _command(services[name]) == command, name
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_every_airflow_service_runs_the_image_built_with_the_provider(services):
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        svc = services[name]
        assert svc["build"]["dockerfile"] == "docker/Dockerfile", name
        assert (REPO / svc["build"]["context"] / svc["build"]["dockerfile"]).exists()
        assert svc["build"]["args"]["AIRFLOW_IMAGE"] == "apache/airflow:3.3.2"
        assert "3.3" in svc["image"]
    assert len({services[n]["image"] for n in AIRFLOW_SERVICES}) == 1


def test_dockerfile_installs_this_package(services):
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG AIRFLOW_IMAGE=apache/airflow:3\.3\.2$", text, re.MULTILINE)
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\}$", text, re.MULTILINE)
    # Copies the package sources and pip-installs them, with Airflow pinned to the image's version.
    assert re.search(r"^COPY .*\bpyproject\.toml\b.* /opt/omingest/src/$", text, re.MULTILINE)
    assert re.search(r"^COPY .*airflow_provider_omingest /opt/omingest/src/airflow_provider_omingest$", text, re.MULTILINE)
    assert '"apache-airflow==${AIRFLOW_VERSION}" "/opt/omingest/src[${OMINGEST_EXTRAS}]"' in text
    assert "pip check" in text
    # The extras named at build time exist in pyproject.toml.
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    default = services["airflow-worker"]["build"]["args"]["OMINGEST_EXTRAS"]
    for extra in re.sub(r"^\$\{OMINGEST_EXTRAS:-(.*)\}$", r"\1", default).split(","):
        assert extra in extras, extra
    # Everything COPY'd exists in the build context (the repository root).
    for src in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", text, re.MULTILINE):
        for part in src.split():
            assert (REPO / part).exists(), part
    assert INIT_SCRIPT.name in text


def test_executor_database_broker_and_execution_api_agree(services):
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://airflow:airflow@postgres/airflow"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:6379" in env[
            "AIRFLOW__CELERY__BROKER_URL"]
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://airflow:airflow@postgres/airflow"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__OMINGEST__SNAPSHOT_PATH"].startswith("file:///opt/airflow/omingest/")
    pg = services["postgres"]["environment"]
    assert (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]) == ("airflow", "airflow", "airflow")
    # The execution API URL names the api-server service and the port it listens on.
    assert "8080:8080" in services["airflow-apiserver"]["ports"]


def test_healthchecks_and_start_up_order(services):
    for name in [*AIRFLOW_SERVICES, "postgres", "redis"]:
        assert services[name]["healthcheck"]["test"], name
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    # Celery workers talk to the execution API: they wait for a healthy api-server.
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert services["airflow-worker"]["environment"]["DUMB_INIT_SETSID"] == "0"
    assert "/api/v2/version" in " ".join(services["airflow-apiserver"]["healthcheck"]["test"])


def test_volumes_mount_the_dags_and_existing_paths(compose, services):
    named = set(compose["volumes"])
    for name in [*AIRFLOW_SERVICES, "airflow-init", "postgres"]:
        for volume in services[name].get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name}: {source} does not exist in the repository"
            else:
                assert source in named, f"{name}: volume {source} is not declared"
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        assert "./dags:/opt/airflow/dags:ro" in services[name]["volumes"], name
        # Workers share the snapshot path and the demo warehouse.
        assert "omingest-data:/opt/airflow/omingest" in services[name]["volumes"], name
    assert "./docker/postgres:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]
    sql = "\n".join(p.read_text() for p in (REPO / "docker" / "postgres").glob("*.sql"))
    assert re.search(r"CREATE DATABASE omingest\b", sql)


def test_init_migrates_creates_the_admin_and_runs_the_omingest_setup(services):
    init = services["airflow-init"]
    env = init["environment"]
    assert env["_AIRFLOW_DB_MIGRATE"] == "true" and env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    assert env["_AIRFLOW_WWW_USER_USERNAME"] and env["_AIRFLOW_WWW_USER_PASSWORD"]
    assert init["user"] == "0:0"
    command = _command(init)
    assert "/entrypoint airflow config list" in command
    assert "exec /entrypoint bash /opt/omingest/omingest-init.sh" in command
    script = INIT_SCRIPT.read_text()
    assert "omingest pools --dags-folder /opt/airflow/dags" in script
    assert "build_demo_warehouse" in script


def test_init_creates_every_connection_and_pool_the_example_dags_use(services):
    script = INIT_SCRIPT.read_text()
    created = set(re.findall(r"^\s*add_connection(?:_from)? (\w+)", script, re.MULTILINE))
    created |= {c for loop in re.findall(r"^for conn_id in ([\w ]+); do", script, re.MULTILINE) for c in loop.split()}
    env = services["airflow-init"]["environment"]
    for var in re.findall(r"\$\{(OMINGEST_\w+_CONN):-\}", script):
        assert var in env, f"{var} is read by the init script but not passed to airflow-init"
    for dag in _example_dags():
        for conn_id in (dag["source_conn_id"], dag["catalog_conn_id"]):
            assert conn_id in created, f"{dag['file']}: connection {conn_id} is not created by airflow-init"
    # Pools: `omingest pools` creates every pool a DAG names; the others use Airflow's default_pool.
    named = {d["pool"] for d in _example_dags()} - {"default_pool"}
    assert named, "the example warehouse DAGs name their pools"
    docs = (REPO / "docs" / "airflow.md").read_text()
    for pool in named:
        assert pool in docs, f"pool {pool} is not documented in docs/airflow.md"


def test_demo_connections_point_at_the_shared_volume_and_the_catalog_database():
    script = INIT_SCRIPT.read_text()
    assert re.search(r'add_connection omingest_demo_warehouse --conn-type duckdb --conn-host "\$DATA/demo/warehouse\.duckdb"',
                     script)
    assert "DATA=/opt/airflow/omingest" in script
    assert 'CATALOG_DB="${OMINGEST_CATALOG_DB:-omingest}"' in script
    assert 'CATALOG_HOST="${OMINGEST_CATALOG_HOST:-postgres}"' in script
