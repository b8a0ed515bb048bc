#!/usr/bin/env bash
# Set up .venv and run the demo: build the embedded DuckDB warehouse, run the demo DAG
# (full), change a few tables, run it again, and print what each run found.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ".[duckdb]"
exec .venv/bin/omingest demo "$@"
