"""The wheel a user installs: built from this checkout, installed into a fresh virtualenv with Airflow 3.3.

Catches packaging mistakes the editable test install hides: a subpackage or data file left out of
the wheel, a missing entry point, a dependency pin that conflicts with Airflow's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"


def _run(*args: str, env: dict | None = None, timeout: float = 600) -> str:
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env,
                         check=False)
    assert out.returncode == 0, f"`{' '.join(map(str, args))}` exited with {out.returncode}:\n" \
                                f"{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out.stdout + out.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run(UV, "build", "--wheel", "--out-dir", dist, REPO)
    (built,) = dist.glob("airflow_provider_omingest-*.whl")
    return built


def test_the_wheel_holds_every_module_and_entry_point(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    package = REPO / "airflow_provider_omingest"
    expected = {str(p.relative_to(REPO)) for p in package.rglob("*.py")}
    assert expected <= names, f"left out of the wheel: {sorted(expected - names)}"
    assert not any(n.startswith(("tests/", "benchmarks/", "dags/")) for n in names)
    assert "[apache_airflow_provider]" in entry_points and "[airflow.plugins]" in entry_points
    assert "omingest = airflow_provider_omingest.cli:console_main" in entry_points


def test_the_wheel_installs_beside_airflow_33_into_a_fresh_virtualenv(wheel, tmp_path):
    venv = tmp_path / "venv"
    started = time.monotonic()
    _run(UV, "venv", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    _run(UV, "pip", "install", "--python", python, f"{wheel}[duckdb]", "apache-airflow>=3.3,<3.4")
    installed = time.monotonic() - started
    print(f"\nfresh virtualenv with the wheel and Airflow: {installed:.0f} s")
    _run(UV, "pip", "check", "--python", python)
    home = tmp_path / "airflow"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "HOME": str(tmp_path)}
    providers = _json_tail(_run(venv / "bin" / "airflow", "providers", "list", "-o", "json", env=env))
    assert any(p["package_name"] == "airflow-provider-omingest" for p in providers), providers
    assert "omingest" in _run(venv / "bin" / "omingest", "--version", env=env)
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "ingest.py").write_text((REPO / "docs" / "examples" / "ingest_warehouse.py").read_text())
    check = textwrap.dedent(f"""
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(dags)!r})
        assert not bag.import_errors, bag.import_errors
        dag = bag.get_dag("ingest_warehouse")
        print(sorted(dag.task_dict))
    """)
    _run(venv / "bin" / "airflow", "db", "migrate", env=env)
    out = _run(python, "-c", check, env=env)
    assert "'unit.extract'" in out and "'summary'" in out, out
    plugins = _run(venv / "bin" / "airflow", "plugins", "-o", "json", env=env)
    assert "airflow_provider_omingest.plugins.pool_check" in plugins, plugins
    assert "/omingest/runs/{DAG_ID}/{RUN_ID}" in plugins, plugins  # the UI pages' views
    pages = _run(python, "-c", "from airflow_provider_omingest.plugins import OmingestPlugin as P; "
                 "app = P.fastapi_apps[0]['app'].load(); "
                 "from airflow_provider_omingest.plugins.ui.app import _TEMPLATES; "
                 "print(sorted(_TEMPLATES.list_templates()))", env=env)
    assert "'run.html'" in pages and "'entity.html'" in pages, pages  # templates are in the wheel


def _json_tail(text: str) -> list[dict]:
    """Return the JSON list an Airflow command printed after its log lines."""
    return json.loads(text[text.index("["):text.rindex("]") + 1])
