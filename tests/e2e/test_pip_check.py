"""The provider with its warehouse extras installs beside Airflow 3.3 without dependency conflicts.

The test environment holds apache-airflow 3.3 and airflow-provider-omingest[test], which pulls in
every warehouse extra ([snowflake], [redshift], [bigquery], ...): `pip check` over it must be clean.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import distribution, requires
from pathlib import Path

import pytest


def _check_command() -> list[str]:
    uv = Path(sys.executable).parent / "uv"
    if uv.exists() or shutil.which("uv"):
        return [str(uv if uv.exists() else shutil.which("uv")), "pip", "check", "--python", sys.executable]
    return [sys.executable, "-m", "pip", "check"]


def test_the_environment_holds_airflow_33_and_the_provider_with_the_snowflake_extra():
    assert distribution("apache-airflow").version.startswith("3.3.")
    assert distribution("airflow-provider-omingest")
    from packaging.requirements import Requirement

    reqs = [Requirement(r) for r in requires("airflow-provider-omingest") or []]
    snowflake = [r for r in reqs if r.marker and r.marker.evaluate({"extra": "snowflake"})
                 and not r.marker.evaluate({"extra": ""})]
    assert snowflake, "the snowflake extra is declared"
    for req in snowflake:
        installed = distribution(req.name).version
        assert req.specifier.contains(installed, prereleases=True), f"{req.name} {installed} does not satisfy {req}"


def test_pip_check_is_clean():
    cmd = _check_command()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    text = out.stdout + out.stderr
    if out.returncode != 0 and "No module named pip" in text:
        pytest.skip("neither uv nor pip is available in this environment")
    assert out.returncode == 0, f"`{' '.join(cmd)}` found conflicts:\n{text}"
    print(f"\n{' '.join(cmd)}: {text.strip()}")
