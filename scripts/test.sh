#!/usr/bin/env bash
# Set up .venv with the test extra and run the whole test suite (extra arguments go to pytest).
# The suite starts its own PostgreSQL server: it needs the PostgreSQL server binaries
# (Debian/Ubuntu: apt-get install postgresql).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ".[test]"
exec .venv/bin/python -m pytest "$@"
