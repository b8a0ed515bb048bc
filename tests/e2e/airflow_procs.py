"""Start real Airflow 3 processes for end-to-end tests, talk to them over REST, stop them by PID.

Shared by the scheduler test (api-server + scheduler + dag-processor on PostgreSQL) and the
``scripts/airflow.sh`` test (``airflow standalone``). Nothing here imports Airflow: the
processes get their whole configuration from the environment built by :func:`airflow_env`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil

T = TypeVar("T")

#: The virtualenv's bin folder (airflow, omingest).
BIN = Path(sys.executable).parent


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow_env(home: Path, **settings: str) -> dict[str, str]:
    """Return an environment for Airflow processes: this one without any AIRFLOW_* setting, plus ``settings``.

    The test session's own isolation variables (AIRFLOW_HOME, DAG bundles, SQLite URL, connections
    set by other tests) must not leak into the processes under test.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["AIRFLOW_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def local_executor_env(
    home: Path, *, dags: Path, port: int, metadata_url: str, snapshots: Path, parallelism: int,
    **settings: str,
) -> dict[str, str]:
    """Return :func:`airflow_env` for api-server + scheduler + dag-processor under the LocalExecutor.

    The metadata database is ``metadata_url`` (PostgreSQL; psycopg 3 serves both the sync and the
    async engine, no asyncpg needed); the api-server listens on 127.0.0.1:``port`` and serves the
    execution API; user admin/admin; fresh secrets. ``settings`` add to or override these.
    """
    from cryptography.fernet import Fernet

    return airflow_env(
        home,
        **{
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__OMINGEST__SNAPSHOT_PATH": f"file://{snapshots}",
            **settings,
        },
    )


def stop_process_tree(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """Stop ``proc`` and every process below it, by PID: SIGTERM, then SIGKILL after ``timeout``."""
    try:
        parent = psutil.Process(proc.pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    for p in procs:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    # Children started after the first look (e.g. a task process spawned while stopping).
    try:
        alive += [c for c in psutil.Process(proc.pid).children(recursive=True) if c not in alive]
    except psutil.NoSuchProcess:
        pass
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


class ProcessGroup:
    """Processes started by a test, each logging to a file; :meth:`stop` ends them all by PID."""

    def __init__(self, log_dir: Path, env: dict[str, str], cwd: Path | None = None) -> None:
        self.log_dir = log_dir
        self.env = env
        self.cwd = cwd
        self.procs: dict[str, subprocess.Popen] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def run(self, name: str, args: list[str], timeout: float) -> str:
        """Run a command to completion; return its output, or raise with it."""
        try:
            out = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
                                 cwd=self.cwd)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"`{' '.join(args)}` did not finish within {timeout:.0f} s:\n"
                                 f"{(e.stdout or '')[-3000:]}\n{(e.stderr or '')[-3000:]}") from None
        (self.log_dir / f"{name}.log").write_text(out.stdout + out.stderr)
        if out.returncode != 0:
            raise AssertionError(f"`{' '.join(args)}` exited with {out.returncode}:\n"
                                 f"{out.stdout[-3000:]}\n{out.stderr[-5000:]}")
        return out.stdout

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        """Start a long-running process in its own session (its own process group)."""
        log = open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115 - kept open for the process' life
        proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.cwd)
        log.close()
        self.procs[name] = proc
        return proc

    def check_alive(self) -> None:
        """Raise if a started process has exited."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} (pid {proc.pid}) exited with {proc.returncode}:\n"
                                     f"{self.tail(name, 60)}")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop every started process and its children, by PID, in reverse order of start."""
        for proc in reversed(list(self.procs.values())):
            stop_process_tree(proc)

    def leftovers(self) -> list[int]:
        """PIDs of started processes still running (should be empty after :meth:`stop`)."""
        return [p.pid for p in self.procs.values() if p.poll() is None]


def task_logs(airflow_home: Path, dag_id: str, run_id: str | None = None, max_files: int = 20) -> str:
    """Return the error and warning lines of the task logs of ``dag_id`` (one run, or all), newest first."""
    base = airflow_home / "logs" / f"dag_id={dag_id}"
    if run_id:
        base = base / f"run_id={run_id}"
    files = sorted(base.rglob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)[:max_files]
    out = []
    for f in files:
        lines = f.read_text(errors="replace").splitlines()
        bad = [line[:1500] for line in lines
               if any(f'"level":"{lvl}"' in line for lvl in ("error", "critical", "warning"))]
        out.append(f"--- {f.relative_to(airflow_home / 'logs')}: {len(lines)} lines"
                   + ("".join(f"\n{line}" for line in bad[-5:]) if bad else ", no warning or error"))
    return "\n".join(out) or f"(no task logs under {base})"


def wait_for_run(
    api: AirflowApi, dag_id: str, run_id: str, timeout: float, *, check_alive: Callable[[], None],
    diagnostics: Callable[[], str], states: Callable[[], str],
) -> dict[str, Any]:
    """Wait until a DAG run ends (the processes kept alive); fail with task states and logs unless it succeeded."""
    def finished() -> dict[str, Any] | None:
        check_alive()
        run = api.get(f"/dags/{dag_id}/dagRuns/{run_id}")
        return run if run["state"] in ("success", "failed") else None

    run = wait_until(f"{dag_id} run {run_id} to finish", finished, timeout, diagnostics)
    assert run["state"] == "success", f"{dag_id} run {run_id} {run['state']}:\n{states()}\n{diagnostics()}"
    return run


def wait_until(what: str, check: Callable[[], T | None], timeout: float,
               on_timeout: Callable[[], str] = lambda: "", interval: float = 1.0) -> T:
    """Poll ``check`` until it returns something truthy; on timeout fail naming ``what`` with diagnostics."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001 - a server still starting, a transient HTTP error
            last_error = e
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}"
                         f"{f' (last error: {last_error!r})' if last_error else ''}\n{on_timeout()}")


class AirflowApi:
    """The public REST API, authenticated like the UI: a JWT from ``POST /auth/token``."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        resp = httpx.post(f"{self.base_url}/auth/token", json={"username": username, "password": password},
                          timeout=30)
        assert resp.status_code in (200, 201), f"POST /auth/token: {resp.status_code} {resp.text}"
        self.client = httpx.Client(base_url=f"{self.base_url}/api/v2", timeout=30,
                                   headers={"Authorization": f"Bearer {resp.json()['access_token']}"})

    def request(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        resp = self.client.request(method, path, **kwargs)
        assert resp.status_code in expect, f"{method} {path}: {resp.status_code} {resp.text[:2000]}"
        return resp.json() if resp.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: dict[str, Any], expect: tuple[int, ...] = (200, 201)) -> Any:
        return self.request("POST", path, json=body, expect=expect)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("PATCH", path, json=body)

    def close(self) -> None:
        self.client.close()


def admin_password(airflow_home: Path, username: str = "admin") -> str | None:
    """Read the password the simple auth manager generated for ``username`` (None until written)."""
    path = airflow_home / "simple_auth_manager_passwords.json.generated"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text()).get(username)
    except ValueError:
        return None


def health_ok(base_url: str) -> bool:
    """True when the api-server answers ``/api/v2/monitor/health`` with a healthy metadata database."""
    resp = httpx.get(f"{base_url}/api/v2/monitor/health", timeout=5)
    return resp.status_code == 200 and resp.json().get("metadatabase", {}).get("status") == "healthy"


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Return the largest number of intervals open at the same instant (an end before a start at a tie)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    current = best = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best
