"""A virtualenv with OpenMetadata's own Python SDK (``openmetadata-ingestion``), built once and reused.

The package cannot go into the test environment: it pins versions that conflict with
Airflow's, and its dependency ``dbt-core-experimental-parser`` downloads a binary at build time
(which fails without internet beyond the package index). So it is installed with ``--no-deps``
into its own virtualenv, with the packages its client (``metadata.ingestion.ometa``) and
generated models (``metadata.generated.schema``) import. ``import metadata`` loads the
profiler registry and the secrets managers (AWS, Azure, GCP, Kubernetes), hence their clients.

The virtualenv lives in ``<repo>/.omingest/openmetadata-sdk-<version>-py<X.Y>`` (ignored by
git; ``OMINGEST_OM_SDK_DIR`` overrides the parent folder): a fresh clone builds it once, later
runs reuse it. The build time is kept in ``build.json`` beside it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["SDK_PACKAGES", "SDK_VERSION", "sdk_python"]

#: The SDK release the test checks against (its major.minor must match the stand-in's version).
SDK_VERSION = os.environ.get("OMINGEST_OM_SDK_VERSION", "1.13.6.3")
#: What its client and models import, with the SDK's own version specifiers where it has them.
SDK_PACKAGES = (
    "pydantic>=2.12.5,<3", "pydantic-settings>=2.14.2,<3", "email-validator>=2.0", "PyYAML~=6.0",
    "requests>=2.23", "jsonpatch>=1.24,<2.0", "chardet==4.0.0", "sqlalchemy>=2.0.0,<3", "sqlparse",
    "antlr4-python3-runtime==4.9.2", "python-dateutil>=2.8.1", "cached-property==1.5.2", "cachetools",
    "collate-sqllineage==2.1.7", "tenacity>=8.0,<10", "pytz", "tabulate==0.9.0", "python-dotenv>=0.19.0",
    "boto3~=1.41.5", "azure-keyvault-secrets", "azure-identity~=1.12", "google-crc32c",
    "google-cloud-secret-manager==2.24.0", "kubernetes>=21.0.0,<36", "rich", "dsnparse", "toml", "attrs",
)
#: Imported by ``metadata/__init__`` (data diff), but its own dependencies include dbt-core: no deps.
SDK_NO_DEPS = ("collate-data-diff>=0.11.17",)
_REPO = Path(__file__).resolve().parents[2]


def sdk_python() -> tuple[Path, dict[str, float | str]]:
    """Return the SDK virtualenv's python (building it if needed) and its build record.

    :raises RuntimeError: with the installer's output when the build fails.
    """
    parent = Path(os.environ.get("OMINGEST_OM_SDK_DIR") or _REPO / ".omingest")
    home = parent / f"openmetadata-sdk-{SDK_VERSION}-py{sys.version_info.major}.{sys.version_info.minor}"
    python = home / "bin" / "python"
    record = home / "build.json"
    parent.mkdir(parents=True, exist_ok=True)
    with open(parent / ".openmetadata-sdk.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time, however many test processes
        if record.is_file() and python.is_file():
            return python, json.loads(record.read_text())
        shutil.rmtree(home, ignore_errors=True)
        started = time.monotonic()
        uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
        if uv is None:
            raise RuntimeError("uv is needed to build the OpenMetadata SDK virtualenv (it is in .venv/bin)")
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(home)])
        install = [uv, "pip", "install", "--quiet", "--python", str(python)]
        _run([*install, "--no-deps", f"openmetadata-ingestion=={SDK_VERSION}", *SDK_NO_DEPS])
        _run([*install, *SDK_PACKAGES])
        _run([str(python), "-c", "from metadata.ingestion.ometa.ometa_api import OpenMetadata"])
        built = {"version": SDK_VERSION, "install_seconds": round(time.monotonic() - started, 1)}
        record.write_text(json.dumps(built))
        return python, built


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:6])} … failed ({done.returncode}):\n{done.stdout[-3000:]}"
                           f"\n{done.stderr[-3000:]}")
