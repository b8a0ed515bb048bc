#!/usr/bin/env bash
# Run by the airflow-init service of docker-compose.yaml, after the image's entrypoint has migrated
# the metadata database and created the admin user (_AIRFLOW_DB_MIGRATE, _AIRFLOW_WWW_USER_CREATE).
# Idempotent: existing connections and pools are left as they are.
set -euo pipefail

DATA=/opt/airflow/omingest
CATALOG_HOST="${OMINGEST_CATALOG_HOST:-postgres}"
CATALOG_DB="${OMINGEST_CATALOG_DB:-omingest}"
CATALOG_USER="${OMINGEST_CATALOG_USER:-airflow}"
CATALOG_PASSWORD="${OMINGEST_CATALOG_PASSWORD:-airflow}"

add_connection() {  # add_connection CONN_ID airflow-connections-add-arguments...
  local conn_id="$1"; shift
  if airflow connections get "$conn_id" >/dev/null 2>&1; then
    echo "connection $conn_id: exists"
  else
    airflow connections add "$conn_id" "$@" >/dev/null
    echo "connection $conn_id: created"
  fi
}

add_connection_from() {  # add_connection_from CONN_ID "$VALUE" (a URI or a JSON object; empty: skipped)
  local conn_id="$1" value="$2"
  if [ -z "$value" ]; then
    echo "connection $conn_id: not configured (set it in .env, see docs/airflow.md, or create it in the UI)"
  elif [ "${value:0:1}" = "{" ]; then
    add_connection "$conn_id" --conn-json "$value"
  else
    add_connection "$conn_id" --conn-uri "$value"
  fi
}

# 1. The demo warehouse (DuckDB file on the shared omingest-data volume, read-only for workers).
mkdir -p "$DATA/demo"
if [ ! -f "$DATA/demo/warehouse.duckdb" ]; then
  python -c "from airflow_provider_omingest.demo.warehouse import build_demo_warehouse as b; b('$DATA/demo/warehouse.duckdb')"
  echo "demo warehouse: built at $DATA/demo/warehouse.duckdb"
fi

# 2. Connections of the example DAGs in dags/.
add_connection omingest_demo_warehouse --conn-type duckdb --conn-host "$DATA/demo/warehouse.duckdb"
for conn_id in omingest_demo_catalog omingest_catalog; do
  add_connection "$conn_id" --conn-type postgres --conn-host "$CATALOG_HOST" --conn-port 5432 \
    --conn-login "$CATALOG_USER" --conn-password "$CATALOG_PASSWORD" --conn-schema "$CATALOG_DB"
done
add_connection_from snowflake_default "${OMINGEST_SNOWFLAKE_CONN:-}"
add_connection_from redshift_default "${OMINGEST_REDSHIFT_CONN:-}"
add_connection_from omingest_bigquery "${OMINGEST_BIGQUERY_CONN:-}"
add_connection_from openmetadata "${OMINGEST_OPENMETADATA_CONN:-}"

# 3. Snapshot storage: the connection every worker reaches it through, and the bucket of
#    AIRFLOW__OMINGEST__SNAPSHOT_PATH (s3://BUCKET/prefix) if it does not exist yet.
add_connection omingest_snapshots --conn-type aws --conn-login "${OMINGEST_S3_ACCESS_KEY:-omingest}" \
  --conn-password "${OMINGEST_S3_SECRET_KEY:-omingest}" \
  --conn-extra "{\"endpoint_url\": \"${OMINGEST_S3_ENDPOINT:-http://s3:5000}\", \"region_name\": \"us-east-1\"}"
python - <<'PY'
import os
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

bucket = os.environ["AIRFLOW__OMINGEST__SNAPSHOT_PATH"].removeprefix("s3://").split("/", 1)[0]
hook = S3Hook(aws_conn_id=os.environ["AIRFLOW__OMINGEST__SNAPSHOT_CONN_ID"])
if hook.check_for_bucket(bucket):
    print(f"bucket {bucket}: exists")
else:
    hook.create_bucket(bucket)
    print(f"bucket {bucket}: created")
PY

# 4. The pools the DAGs name (a missing pool blocks their extract tasks forever, silently).
omingest pools --dags-folder /opt/airflow/dags

# Workers run as AIRFLOW_UID: they read the demo warehouse.
chown -R "${AIRFLOW_UID:-50000}:0" "$DATA"
