"""The Celery topology of docker-compose.yaml, as one definition: what the e2e starts and the compose file says.

docker-compose.yaml runs PostgreSQL (metadata database), Redis (Celery broker), an S3-compatible
store (snapshots), the api-server, the scheduler, the dag-processor and two Celery workers. The
end-to-end test ``tests/e2e/test_celery.py`` runs the same processes on this machine, without
Docker: ``redis-server`` and ``moto_server`` on loopback ports, every Airflow process with the
same ``AIRFLOW__*`` settings, and each worker in its own folder with its own ``AIRFLOW_HOME``,
DAG folder and logs, so that nothing passes from one worker to the other through a local disk.
``tests/test_docker_compose.py`` compares the compose file with this module:

- :data:`AIRFLOW_SERVICES`: the Airflow services and their commands;
- :data:`BACKING_SERVICES`: the other services;
- :func:`shared_settings`: the ``AIRFLOW__*`` settings of every Airflow process, with the
  addresses of the services filled in (compose: service names; the e2e: loopback ports);
- :data:`E2E_ONLY` and :data:`COMPOSE_ONLY`: the settings only one side has, each with the reason.

:class:`CeleryTopology` starts it all (also used by ``python -m benchmarks --scheduler``).
Nothing here imports Airflow: the processes get their configuration from the environment.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tests.e2e.airflow_procs import (
    BIN,
    AirflowApi,
    ProcessGroup,
    admin_password,
    airflow_env,
    free_port,
    health_ok,
    wait_until,
)

__all__ = [
    "AIRFLOW_SERVICES",
    "BACKING_SERVICES",
    "COMPOSE_ONLY",
    "E2E_ONLY",
    "SNAPSHOT_BUCKET",
    "SNAPSHOT_CONN_ID",
    "CeleryTopology",
    "shared_settings",
]

#: Airflow services (docker-compose service name -> ``airflow`` sub-command).
AIRFLOW_SERVICES: dict[str, str] = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker-1": "celery worker",
    "airflow-worker-2": "celery worker",
}
WORKERS = [name for name, command in AIRFLOW_SERVICES.items() if command == "celery worker"]

#: The other services: what each one is, in compose and in the e2e.
BACKING_SERVICES: dict[str, str] = {
    "postgres": "metadata database: PostgreSQL (the e2e: the suite's server, a database of its own)",
    "redis": "Celery broker: Redis (the e2e: Debian's redis-server on a loopback port)",
    "s3": "snapshot storage: moto's S3 server (the e2e: moto_server on a loopback port)",
}

SNAPSHOT_BUCKET = "omingest-snapshots"
SNAPSHOT_CONN_ID = "omingest_snapshots"

#: ``AIRFLOW__*`` settings of every Airflow process; ``{name}`` is filled by :func:`shared_settings`.
_SHARED: dict[str, str] = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
    "AIRFLOW__CORE__FERNET_KEY": "{fernet_key}",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "{api_server}/execution/",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "{metadata_db}",
    "AIRFLOW__CELERY__BROKER_URL": "{broker}",
    "AIRFLOW__CELERY__RESULT_BACKEND": "db+{metadata_db}",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    # Snapshots go to object storage through an `aws` connection: extract and update may run on
    # different workers, which share no disk.
    "AIRFLOW__OMINGEST__SNAPSHOT_PATH": f"s3://{SNAPSHOT_BUCKET}/snapshots",
    "AIRFLOW__OMINGEST__SNAPSHOT_CONN_ID": SNAPSHOT_CONN_ID,
}

#: Settings only the e2e has, and why.
E2E_ONLY: dict[str, str] = {
    "AIRFLOW__CORE__DAGS_FOLDER": "each process has its own copy of the DAG files (compose: the image's default, "
                                  "/opt/airflow/dags, mounted read-only)",
    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "the workers share one host: each reports its own name (compose: each "
                                        "container has its own hostname)",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "the workers share one host: each serves its logs on a free port "
                                                "(compose: 8793 in each container)",
    "AIRFLOW__API__HOST": "loopback only (compose: the container's interfaces)",
    "AIRFLOW__API__PORT": "a free port (compose: 8080)",
    "AIRFLOW__API__WORKERS": "one api-server worker on a 2-core test machine",
    "AIRFLOW__API__SECRET_KEY": "generated per test (compose: generated once into airflow.cfg by airflow-init)",
    "AIRFLOW__API_AUTH__JWT_SECRET": "generated per test (compose: generated once into airflow.cfg by airflow-init)",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "the e2e logs in with Airflow's simple auth manager",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": "psycopg 3 serves the async engine too (the image has asyncpg)",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "timing: the DAG files are written just before the test",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "timing: a killed worker's task is failed (and retried) "
                                                           "after seconds, not the default 5 minutes",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "timing: as above",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "timing: a task a killed worker had taken but not started is "
                                               "queued again after seconds, not the default 10 minutes",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "timing: as above",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO logs for the test's diagnostics",
}

#: Settings only docker-compose.yaml has, and why.
COMPOSE_ONLY: dict[str, str] = {
    "AIRFLOW__CORE__AUTH_MANAGER": "users log in with FAB users created by airflow-init (the image ships the FAB "
                                   "provider)",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "the scheduler's health server, for the container healthcheck",
}

#: Per-run timing values of the e2e (see :data:`E2E_ONLY`).
E2E_TIMING: dict[str, str] = {
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "40",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "5",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
}


def shared_settings(*, metadata_db: str, broker: str, api_server: str, fernet_key: str) -> dict[str, str]:
    """Return the ``AIRFLOW__*`` settings every Airflow process of the topology shares.

    :param metadata_db: SQLAlchemy URL of the metadata database.
    :param broker: Celery broker URL (Redis).
    :param api_server: base URL of the api-server, as the workers reach it.
    :param fernet_key: the key connections and variables are encrypted with.
    """
    values = {"metadata_db": metadata_db, "broker": broker, "api_server": api_server.rstrip("/"),
              "fernet_key": fernet_key}
    return {k: v.format(**values) for k, v in _SHARED.items()}


def local_settings(*, metadata_db: str, api_server: str, fernet_key: str) -> dict[str, str]:
    """Return the same settings for LocalExecutor (one machine: no broker, snapshots on local disk)."""
    settings = shared_settings(metadata_db=metadata_db, broker="", api_server=api_server, fernet_key=fernet_key)
    for key in ("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY", "AIRFLOW__OMINGEST__SNAPSHOT_PATH",
                "AIRFLOW__OMINGEST__SNAPSHOT_CONN_ID"):
        del settings[key]
    settings["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
    return settings


def worker_name(service: str) -> str:
    """Return the name a worker reports as its host (``airflow-worker-1`` -> ``worker-1``)."""
    return service.removeprefix("airflow-")


@dataclass
class CeleryTopology:
    """Start the topology on this machine; stop every process by PID.

    :param root: a folder of its own: ``control/`` (api-server, scheduler, dag-processor) and one
        folder per worker, each with its ``AIRFLOW_HOME``, DAG folder and logs.
    :param dag_files: file name -> content, written into every process' own DAG folder.
    :param metadata_db: SQLAlchemy URL of an empty PostgreSQL database.
    :param connections: conn id -> connection (JSON fields), given as ``AIRFLOW_CONN_*``.
    :param broker: Redis URL (CeleryExecutor); None: LocalExecutor, no workers.
    :param extra_settings: more ``AIRFLOW__*`` settings for every process.
    """

    root: Path
    dag_files: dict[str, str]
    metadata_db: str
    connections: dict[str, dict[str, Any]]
    broker: str | None = None
    extra_settings: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api: AirflowApi | None = None
        self.groups: dict[str, ProcessGroup] = {}
        from cryptography.fernet import Fernet

        self.fernet_key = Fernet.generate_key().decode()
        self.secrets = {"AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32)}

    @property
    def celery(self) -> bool:
        return self.broker is not None

    @property
    def control_home(self) -> Path:
        return self.root / "control" / "airflow"

    def home(self, service: str) -> Path:
        """The ``AIRFLOW_HOME`` of a worker (or of the control plane)."""
        return self.root / service / "airflow" if service in WORKERS else self.control_home

    def settings(self) -> dict[str, str]:
        """The settings of every process: shared, then the e2e's own (:data:`E2E_ONLY`)."""
        if self.celery:
            base = shared_settings(metadata_db=self.metadata_db, broker=self.broker, api_server=self.base_url,
                                   fernet_key=self.fernet_key)
        else:
            base = local_settings(metadata_db=self.metadata_db, api_server=self.base_url, fernet_key=self.fernet_key)
        return {
            **base,
            **E2E_TIMING,
            **self.secrets,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            # psycopg 3 serves both the sync and the async engine (no asyncpg needed).
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.metadata_db,
            **self.extra_settings,
        }

    def process_settings(self, service: str) -> dict[str, str]:
        """The ``AIRFLOW__*`` settings of one process: :meth:`settings` plus its own folders and ports."""
        own = {"AIRFLOW__CORE__DAGS_FOLDER": str(self.home(service) / "dags")}
        if service in WORKERS:
            own["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
            own["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = "tests.e2e.worker_hostname.hostname"
        return {**self.settings(), **own}

    def _env(self, service: str) -> dict[str, str]:
        home = self.home(service)
        settings = self.process_settings(service)
        dags = Path(settings["AIRFLOW__CORE__DAGS_FOLDER"])
        dags.mkdir(parents=True, exist_ok=True)
        for name, text in self.dag_files.items():
            (dags / name).write_text(text)
        conns = {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(c) for conn_id, c in self.connections.items()}
        env = airflow_env(home, **settings, **conns)
        if service in WORKERS:
            env["OMINGEST_E2E_WORKER_NAME"] = worker_name(service)
            env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])  # for the hostname callable only
        return env

    def group(self, service: str) -> ProcessGroup:
        name = service if service in WORKERS else "control"
        if name not in self.groups:
            cwd = self.root / name
            cwd.mkdir(parents=True, exist_ok=True)
            # Each worker runs in its own working directory: nothing relative lands in a shared folder.
            self.groups[name] = ProcessGroup(cwd / "process-logs", self._env(service), cwd=cwd)
        return self.groups[name]

    def start(self, timeout: float = 180) -> CeleryTopology:
        """Migrate the metadata database, start every process, wait for a healthy api-server; return self."""
        started = time.monotonic()
        control = self.group("airflow-apiserver")
        control.run("db-migrate", [str(BIN / "airflow"), "db", "migrate"], timeout=300)
        self.timings["db migrate"] = time.monotonic() - started
        for service, command in AIRFLOW_SERVICES.items():
            if service in WORKERS and not self.celery:
                continue
            args = [str(BIN / "airflow"), *command.split()]
            if service in WORKERS:
                args += ["--celery-hostname", f"{worker_name(service)}@%h"]
            self.group(service).start(service, args)

        def healthy():
            self.check_alive()
            return health_ok(self.base_url) and admin_password(self.control_home)

        password = wait_until("the api-server to be healthy", healthy, timeout, self.diagnostics)
        self.api = AirflowApi(self.base_url, "admin", password)
        self.timings["start-up until healthy"] = time.monotonic() - started
        return self

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 120) -> None:
        """Wait until the dag-processor has parsed every DAG of ``dag_ids``."""
        def parsed():
            self.check_alive()
            return all(self.api.request("GET", f"/dags/{d}", expect=(200, 404)).get("dag_id") for d in dag_ids)

        wait_until(f"the dag-processor to parse {dag_ids}", parsed, timeout, self.diagnostics)

    def wait_for_workers(self, timeout: float = 120) -> None:
        """Wait until every Celery worker has said it is ready (in its own log)."""
        def ready():
            self.check_alive()
            return all("ready." in self.groups[w].tail(w, 400) for w in WORKERS)

        if self.celery:
            wait_until("the Celery workers to be ready", ready, timeout, self.diagnostics)

    def check_alive(self) -> None:
        for name, group in self.groups.items():
            if name not in getattr(self, "killed", set()):
                group.check_alive()

    def kill_worker(self, service: str) -> list[int]:
        """SIGKILL a worker and every process below it at once (a machine lost); return their PIDs."""
        proc = self.groups[service].procs[service]
        parent = psutil.Process(proc.pid)
        victims = [parent, *parent.children(recursive=True)]
        for p in victims:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(victims, timeout=10)
        proc.wait(timeout=10)
        self.killed = getattr(self, "killed", set()) | {service}
        return [p.pid for p in victims]

    def worker_of_pid(self, pid: int) -> str | None:
        """Return the worker whose process tree holds ``pid`` (None: no worker's)."""
        for service in WORKERS:
            group = self.groups.get(service)
            if not group or service in getattr(self, "killed", set()):
                continue
            try:
                tree = psutil.Process(group.procs[service].pid).children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            if pid in {p.pid for p in tree}:
                return service
        return None

    def diagnostics(self) -> str:
        parts = []
        for group in self.groups.values():
            parts += [f"=== {name} (last lines)\n{group.tail(name, 40)}" for name in group.procs]
        return "\n".join(parts)

    def stop(self) -> list[int]:
        """Stop every process by PID (workers first); return the PIDs still running (should be none)."""
        if self.api:
            self.api.close()
        for name in [*WORKERS, "control"]:
            if name in self.groups:
                self.groups[name].stop()
        return [pid for g in self.groups.values() for pid in g.leftovers()]

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
