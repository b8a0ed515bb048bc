#!/usr/bin/env bash
# Start Airflow locally with the demo DAG, to look at it in the UI:
#
#   bash scripts/airflow.sh            # then open http://127.0.0.1:8080 (user admin, password printed)
#   bash scripts/airflow.sh --no-runs  # start without the two demo runs (the DAG stays paused)
#   bash scripts/airflow.sh --reset    # forget the previous state first
#
# Runs `airflow standalone` (api-server, scheduler, dag-processor, triggerer; SQLite + LocalExecutor)
# from the repository's .venv, with:
#   AIRFLOW_HOME   .omingest-demo/airflow-ui (its own metadata DB, logs, the demo warehouse and catalog)
#   DAGs           this repository's dags/ (example DAGs off: LOAD_EXAMPLES=False)
#   connections    omingest_demo_warehouse (DuckDB file) and omingest_demo_catalog (SQLite file)
#   pools          created with `omingest pools` (the warehouse example DAGs name theirs)
# The first time, it makes two runs of the demo DAG, so the UI shows a run history: it unpauses
# the DAG, whose schedule (@daily, no catch-up) starts one scheduled run at once, a full one; then
# it changes a few tables in the warehouse and triggers a manual run, an incremental one.
# Ctrl-C stops Airflow: every process it started is stopped by PID.
#
# Environment (defaults in brackets):
#   OMINGEST_AIRFLOW_HOME             Airflow's home [.omingest-demo/airflow-ui]
#   OMINGEST_AIRFLOW_HOST             the api-server's address [127.0.0.1: this machine only]
#   OMINGEST_AIRFLOW_PORT             the api-server's port (UI and REST API) [8080]
#   OMINGEST_AIRFLOW_WORKER_LOG_PORT  the task log server's port [8793]
#   OMINGEST_AIRFLOW_TRIGGER_LOG_PORT the triggerer log server's port [8794]
#   PYTHON                            the Python that creates .venv [python3]
# Airflow binds its two log servers on every interface whatever the settings; they serve logs only
# to requests signed with this Airflow's secret key.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

seed_runs=1
for arg in "$@"; do
  case "$arg" in
    --no-runs) seed_runs=0 ;;
    --reset) reset=1 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

source scripts/_venv.sh
ensure_venv ".[duckdb]"

export AIRFLOW_HOME="${OMINGEST_AIRFLOW_HOME:-$REPO/.omingest-demo/airflow-ui}"
HOST="${OMINGEST_AIRFLOW_HOST:-127.0.0.1}"
PORT="${OMINGEST_AIRFLOW_PORT:-8080}"
WORKER_LOG_PORT="${OMINGEST_AIRFLOW_WORKER_LOG_PORT:-8793}"
TRIGGER_LOG_PORT="${OMINGEST_AIRFLOW_TRIGGER_LOG_PORT:-8794}"
if [ "${reset:-0}" = 1 ]; then rm -rf "$AIRFLOW_HOME"; fi
mkdir -p "$AIRFLOW_HOME/demo"
WAREHOUSE="$AIRFLOW_HOME/demo/warehouse.duckdb"
CATALOG="$AIRFLOW_HOME/demo/catalog.db"

# Only this script's settings: nothing inherited from another Airflow.
for var in $(env | grep -o '^AIRFLOW__[A-Z0-9_]*\|^AIRFLOW_CONN_[A-Z0-9_]*' || true); do unset "$var"; done
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags"
export AIRFLOW__API__HOST="$HOST"
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$WORKER_LOG_PORT"
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$TRIGGER_LOG_PORT"
case "$HOST" in 0.0.0.0|::|"") LOCAL_HOST=127.0.0.1 ;; *) LOCAL_HOST="$HOST" ;; esac
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://$LOCAL_HOST:$PORT/execution/"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export AIRFLOW_CONN_OMINGEST_DEMO_WAREHOUSE="{\"conn_type\": \"duckdb\", \"host\": \"$WAREHOUSE\"}"
export AIRFLOW_CONN_OMINGEST_DEMO_CATALOG="{\"conn_type\": \"sqlite\", \"host\": \"$CATALOG\"}"
PY="$REPO/.venv/bin/python"
export PATH="$REPO/.venv/bin:$PATH"

if [ ! -f "$WAREHOUSE" ]; then
  "$PY" -c "import sys; from airflow_provider_omingest.demo.warehouse import build_demo_warehouse as b; b(sys.argv[1])" "$WAREHOUSE"
  echo "Built the demo warehouse: $WAREHOUSE"
fi
echo "Preparing Airflow's database in $AIRFLOW_HOME ..."
airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
omingest pools --dags-folder "$REPO/dags"

# --- start, and stop by PID on exit -------------------------------------------------------------
descendants() {  # every process below PID $1, deepest first
  local child
  for child in $(pgrep -P "$1" || true); do descendants "$child"; echo "$child"; done
}
AIRFLOW_PID=""
stop_airflow() {
  [ -n "$AIRFLOW_PID" ] || return 0
  local pids alive="" i p
  pids="$(descendants "$AIRFLOW_PID") $AIRFLOW_PID"
  echo "Stopping Airflow (pids $(echo $pids)) ..."
  kill -TERM $pids 2>/dev/null || true
  for i in $(seq 40); do
    alive=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.5
  done
  if [ -n "$alive" ]; then kill -KILL $alive 2>/dev/null || true; fi
  AIRFLOW_PID=""
}
trap stop_airflow EXIT
trap 'exit 130' INT TERM

airflow standalone >"$AIRFLOW_HOME/standalone.log" 2>&1 &
AIRFLOW_PID=$!
echo "Starting Airflow (pid $AIRFLOW_PID, log $AIRFLOW_HOME/standalone.log) ..."

"$PY" - "$LOCAL_HOST" "$PORT" "$seed_runs" "$WAREHOUSE" <<'PY'
"""Wait until Airflow is up; the first time, make two runs of the demo DAG (scheduled full, manual incremental)."""
import json, os, sys, time
from pathlib import Path

import httpx

host, port, seed, warehouse = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
base, home, dag = f"http://{host}:{port}", Path(os.environ["AIRFLOW_HOME"]), "omingest_demo"
password_file = home / "simple_auth_manager_passwords.json.generated"


def until(what, check, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception:
            pass
        time.sleep(1)
    sys.exit(f"error: timed out after {timeout} s waiting for {what}; see {home / 'standalone.log'}")


until("the api-server", lambda: httpx.get(f"{base}/api/v2/monitor/health", timeout=5).status_code == 200, 180)
password = until("the admin password", lambda: json.loads(password_file.read_text()).get("admin"), 60)
token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password}).json()["access_token"]
api = httpx.Client(base_url=f"{base}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30)
until(f"DAG {dag} to be parsed", lambda: api.get(f"/dags/{dag}").status_code == 200, 120)
if seed and not api.get(f"/dags/{dag}/dagRuns", params={"limit": 1}).json()["total_entries"]:
    def report(title, run_id):
        def finished():
            state = api.get(f"/dags/{dag}/dagRuns/{run_id}").json()["state"]
            return state if state in ("success", "failed") else None

        state = until(f"run {run_id}", finished, 300)
        summary = api.get(f"/dags/{dag}/dagRuns/{run_id}/taskInstances/summary/xcomEntries/summary").json()
        value = summary["value"] if isinstance(summary["value"], dict) else json.loads(summary["value"])
        print(f"{title}: {state}, {value['mode']} run, totals {value['totals']}", flush=True)

    # Unpaused, the @daily DAG (no catch-up) gets its scheduled run for the latest day at once.
    api.patch(f"/dags/{dag}", json={"is_paused": False}).raise_for_status()
    runs = until("the scheduled run", lambda: api.get(f"/dags/{dag}/dagRuns").json()["dag_runs"], 120)
    print(f"Run 1: scheduled run {runs[0]['dag_run_id']} ...", flush=True)
    report("Run 1", runs[0]["dag_run_id"])
    from airflow_provider_omingest.demo.warehouse import mutate_demo_warehouse

    for change in mutate_demo_warehouse(warehouse):
        print(f"  warehouse change: {change}")
    run_id = api.post(f"/dags/{dag}/dagRuns", json={"logical_date": None, "conf": {}}).json()["dag_run_id"]
    print(f"Run 2: triggered {run_id} ...", flush=True)
    report("Run 2", run_id)
print(f"""
Airflow is running: {base}/dags/{dag}
  user admin, password {password}  (from {password_file})
  AIRFLOW_HOME {home}
Press Ctrl-C to stop.""", flush=True)
PY

wait "$AIRFLOW_PID"
