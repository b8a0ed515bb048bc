"""scripts/airflow.sh: one command starts Airflow with the demo DAG and its run history; stop by PID."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.e2e.airflow_procs import (
    AirflowApi,
    admin_password,
    airflow_env,
    free_port,
    stop_process_tree,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]


def test_airflow_sh_starts_the_ui_with_the_demo_dag_and_two_runs(tmp_path):
    home, port, worker_logs, trigger_logs = tmp_path / "airflow-ui", free_port(), free_port(), free_port()
    env = airflow_env(home, OMINGEST_AIRFLOW_HOME=str(home), OMINGEST_AIRFLOW_PORT=str(port),
                      OMINGEST_AIRFLOW_WORKER_LOG_PORT=str(worker_logs),
                      OMINGEST_AIRFLOW_TRIGGER_LOG_PORT=str(trigger_logs))
    log_path = tmp_path / "airflow.sh.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["bash", str(REPO / "scripts" / "airflow.sh")], cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    tree: list[psutil.Process] = []
    try:
        def ready():
            if proc.poll() is not None:
                raise AssertionError(f"scripts/airflow.sh exited with {proc.returncode}:\n{log_path.read_text()}")
            return "Airflow is running" in log_path.read_text()

        wait_until("scripts/airflow.sh to report that Airflow is running", ready, 300,
                   lambda: log_path.read_text()[-5000:] + _tail(home / "standalone.log"))
        elapsed = time.monotonic() - started
        output = log_path.read_text()
        assert "Run 1: success, full run" in output and "Run 2: success, incremental run" in output, output

        api = AirflowApi(f"http://127.0.0.1:{port}", "admin", admin_password(home))
        dags = {d["dag_id"]: d for d in api.get("/dags", params={"limit": 100})["dags"]}
        assert "omingest_demo" in dags and dags["omingest_demo"]["is_paused"] is False
        assert not any(d.startswith("example_") for d in dags)  # LOAD_EXAMPLES off
        runs = api.get("/dags/omingest_demo/dagRuns", params={"limit": 100})["dag_runs"]
        # Exactly the two runs it documents: the scheduled one (full), then a manual one (incremental).
        assert sorted(r["run_type"] for r in runs) == ["manual", "scheduled"], runs
        assert all(r["state"] == "success" for r in runs), runs
        listening = _listening_ports()
        assert listening.get(port) == {"127.0.0.1"}, listening.get(port)  # loopback by default
        assert worker_logs in listening and trigger_logs in listening, (worker_logs, trigger_logs, listening)
        assert api.get("/pools/snowflake")["slots"] >= 1  # `omingest pools` ran
        api.close()
        print(f"\nscripts/airflow.sh: Airflow up with two demo runs after {elapsed:.0f} s")

        # Ctrl-C / SIGTERM to the script stops every process it started.
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        assert len(tree) > 3, tree
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        _, alive = psutil.wait_procs(tree, timeout=30)
        assert not alive, f"still running after the script stopped: {[p.pid for p in alive]}"
    finally:
        if proc.poll() is None:
            stop_process_tree(proc)
        for p in tree:  # whatever the script left behind
            if p.is_running():
                p.kill()


def _listening_ports() -> dict[int, set[str]]:
    """Return port -> addresses of the TCP sockets listening on this machine."""
    ports: dict[int, set[str]] = {}
    for c in psutil.net_connections(kind="tcp"):
        if c.status == psutil.CONN_LISTEN:
            ports.setdefault(c.laddr.port, set()).add(c.laddr.ip)
    return ports


def _tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"\n({path} not written)"
    return f"\n--- {path}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
