# Shared by scripts/demo.sh and scripts/test.sh: create .venv and install the project into it.
# Usage: ensure_venv ".[extras]"
ensure_venv() {
  local python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "error: Python 3.10 or newer is needed (tried '$python'; set PYTHON=/path/to/python3)." >&2
    exit 2
  fi
  if [ ! -x .venv/bin/python ]; then
    echo "Creating the virtual environment .venv ..."
    "$python" -m venv .venv
  fi
  if [ ! -x .venv/bin/uv ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip uv
  fi
  echo "Installing airflow-provider-omingest$1 into .venv ..."
  # Bytecode compiled at install: every Airflow process of the tests (and of scripts/airflow.sh)
  # would otherwise compile its imports again when PYTHONDONTWRITEBYTECODE is set.
  VIRTUAL_ENV="$PWD/.venv" .venv/bin/uv pip install --quiet --compile-bytecode -e "$1"
}
