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

from tests.e2e.celery_topology import (
    AIRFLOW_SERVICES,
    BACKING_SERVICES,
    COMPOSE_ONLY,
    E2E_ONLY,
    SNAPSHOT_CONN_ID,
    WORKERS,
    CeleryTopology,
    shared_settings,
)

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yaml"
DOCKERFILE = REPO / "docker" / "Dockerfile"
INIT_SCRIPT = REPO / "docker" / "omingest-init.sh"

#: The addresses of the topology's services, as the compose file names them.
COMPOSE_ADDRESSES = {
    "metadata_db": "postgresql+psycopg2://airflow:airflow@postgres/airflow",
    "broker": "redis://:@redis:6379/0",
    "api_server": "http://airflow-apiserver:8080",
    "fernet_key": "${AIRFLOW__CORE__FERNET_KEY:-}",
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


def _airflow_settings(service: dict) -> dict[str, str]:
    return {k: str(v) for k, v in service["environment"].items() if k.startswith("AIRFLOW__")}


def test_the_services_are_those_the_e2e_runs(services):
    started = {name for name, svc in services.items() if not svc.get("profiles")}  # `docker compose up`
    assert started == set(AIRFLOW_SERVICES) | set(BACKING_SERVICES) | {"airflow-init"}
    for name, command in AIRFLOW_SERVICES.items():
        assert _command(services[name]) == command, name
    assert len(WORKERS) == 2
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["s3"]["image"].startswith("motoserver/moto:5.")


def test_every_airflow_service_has_the_e2e_settings(services):
    """Shared settings equal, with the service names in the addresses; the rest listed with its reason."""
    expected = shared_settings(**COMPOSE_ADDRESSES)
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        got = _airflow_settings(services[name])
        assert {k: got.get(k) for k in expected} == expected, name
        assert set(got) - set(expected) == set(COMPOSE_ONLY), name
    assert not set(E2E_ONLY) & set(expected) and not set(COMPOSE_ONLY) & set(expected)


def test_the_e2e_processes_have_the_shared_settings_and_only_the_listed_others(tmp_path):
    topology = CeleryTopology(root=tmp_path, dag_files={}, metadata_db="postgresql+psycopg://db",
                              connections={}, broker="redis://127.0.0.1:1/0")
    expected = shared_settings(metadata_db="postgresql+psycopg://db", broker="redis://127.0.0.1:1/0",
                               api_server=topology.base_url, fernet_key=topology.fernet_key)
    for service in AIRFLOW_SERVICES:
        got = topology.process_settings(service)
        assert {k: got.get(k) for k in expected} == expected, service
        assert set(got) - set(expected) <= set(E2E_ONLY), sorted(set(got) - set(expected) - set(E2E_ONLY))
    assert not list(tmp_path.iterdir()), "building the settings started nothing and wrote nothing"


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
    default = services[WORKERS[0]]["build"]["args"]["OMINGEST_EXTRAS"]
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
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql+psycopg2://airflow:airflow@postgres/airflow"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        # Snapshots go through the bucket, reached with the connection airflow-init creates.
        assert env["AIRFLOW__OMINGEST__SNAPSHOT_PATH"].startswith("s3://")
        assert env["AIRFLOW__OMINGEST__SNAPSHOT_CONN_ID"] == SNAPSHOT_CONN_ID
    pg = services["postgres"]["environment"]
    assert (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]) == ("airflow", "airflow", "airflow")
    # The execution API URL names the api-server service and the port it listens on.
    assert "8080:8080" in services["airflow-apiserver"]["ports"]


def test_healthchecks_and_start_up_order(services):
    for name in [*AIRFLOW_SERVICES, *BACKING_SERVICES]:
        assert services[name]["healthcheck"]["test"], name
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        for backing in BACKING_SERVICES:
            assert deps[backing]["condition"] == "service_healthy", (name, backing)
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    for worker in WORKERS:
        # Celery workers talk to the execution API: they wait for a healthy api-server.
        assert services[worker]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
        assert services[worker]["environment"]["DUMB_INIT_SETSID"] == "0"
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
        # The demo warehouse (a DuckDB file) is read from there; snapshots no longer go through it.
        assert "omingest-data:/opt/airflow/omingest" in services[name]["volumes"], name
    for worker in WORKERS:
        # Nothing else shared between the workers: their logs stay their own, as in the e2e.
        assert {v.split(":")[0] for v in services[worker]["volumes"]} == {"./dags", "airflow-config", "omingest-data"}
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
    # The snapshot connection reaches the s3 service; the bucket of the snapshot path is created.
    assert re.search(rf"^add_connection {SNAPSHOT_CONN_ID} --conn-type aws ", script, re.MULTILINE)
    assert "${OMINGEST_S3_ENDPOINT:-http://s3:5000}" in script and "5000" in str(services["s3"]["expose"])
    assert 'os.environ["AIRFLOW__OMINGEST__SNAPSHOT_PATH"]' in script and "hook.create_bucket(bucket)" in script


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
