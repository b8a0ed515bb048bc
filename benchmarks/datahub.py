"""DataHub's ingestion as a peer: its own virtualenv, a recipe, and what its file sink wrote.

DataHub (``acryl-datahub[postgres]``, pinned by :data:`DATAHUB_VERSION`) is installed into a
virtualenv of its own, ``<repo>/.omingest/peers/datahub-<version>-py<X.Y>`` (ignored by git;
``--peer-dir`` picks another parent), built once with uv (or venv + pip when uv is missing) and
reused while its ``build.json`` is there. It never enters the project's environment: it pins
SQLAlchemy and pydantic versions of its own.

A run is DataHub's documented programmatic pipeline (``Pipeline.create(recipe).run()``, as in
its ``examples/library/programatic_pipeline.py``): the ``postgres`` source with profiling off,
the ``file`` sink, telemetry off (``DATAHUB_TELEMETRY_ENABLED=false``). The ``datahub ingest``
command would do the same and then spend up to 3 s asking PyPI for a newer release.

The file sink writes one JSON array of records (DataHub's docs: ``metadata-ingestion/sink_docs/file.md``
of github.com/datahub-project/datahub): MetadataChangeProposals, ``{"entityType", "entityUrn", "changeType", "aspectName", "aspect":
{"json": {...}}}`` (``docs/advanced/mcp-mcl.md`` there), and MetadataChangeEvents,
``{"proposedSnapshot": {"com.linkedin.pegasus2avro.metadata.snapshot.DatasetSnapshot": {"urn",
"aspects": [{"com.linkedin.pegasus2avro.schema.SchemaMetadata": {...}}, ...]}}}``. Both are read:
the postgres source of this release sends a table's ``schemaMetadata`` inside an MCE and its
``subTypes`` (``Table``/``View``) as an MCP, while DataHub's golden file
``metadata-ingestion/tests/integration/postgres/postgres_mces_with_db_golden.json`` has both as MCPs.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.compare import Relation

__all__ = [
    "DATAHUB_VERSION", "datahub_env", "ensure_venv", "install_commands", "parse_file_sink",
    "pipeline_command", "recipe", "venv_home",
]

DATAHUB_VERSION = "1.7.0.17"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_PARENT = REPO / ".omingest" / "peers"

#: Runs a recipe (a JSON file) with DataHub's Python API and fails when the pipeline reported a failure.
PIPELINE_SCRIPT = (
    "import json, sys\n"
    "from datahub.ingestion.run.pipeline import Pipeline\n"
    "pipeline = Pipeline.create(json.load(open(sys.argv[1])))\n"
    "pipeline.run()\n"
    "pipeline.pretty_print_summary()\n"
    "pipeline.raise_from_status()\n"
)

_SCHEMA_METADATA = ("com.linkedin.pegasus2avro.schema.SchemaMetadata", "com.linkedin.schema.SchemaMetadata")
_DATASET_SNAPSHOT = ("com.linkedin.pegasus2avro.metadata.snapshot.DatasetSnapshot",
                     "com.linkedin.metadata.snapshot.DatasetSnapshot")
_SUBTYPES = ("com.linkedin.pegasus2avro.common.SubTypes", "com.linkedin.common.SubTypes")
# urn:li:dataset:(urn:li:dataPlatform:postgres,<database>.<schema>.<table>,PROD)
_DATASET_URN = re.compile(r"^urn:li:dataset:\(urn:li:dataPlatform:(?P<platform>[^,]+),(?P<name>.+),(?P<env>[^,]+)\)$")


def venv_home(parent: Path | None = None, version: str = DATAHUB_VERSION) -> Path:
    """Folder of the DataHub virtualenv for this version and this Python's major.minor."""
    parent = parent or DEFAULT_PARENT
    return parent / f"datahub-{version}-py{sys.version_info.major}.{sys.version_info.minor}"


def install_commands(home: Path, *, version: str = DATAHUB_VERSION, base_python: str = sys.executable,
                     uv: str | None = None) -> list[list[str]]:
    """The commands that build the virtualenv ``home`` with ``acryl-datahub[postgres]==version``.

    With uv: ``uv venv`` + ``uv pip install``; without: ``python -m venv`` + that venv's pip.
    """
    python = str(home / "bin" / "python")
    requirement = f"acryl-datahub[postgres]=={version}"
    if uv:
        return [[uv, "venv", "--quiet", "--python", base_python, str(home)],
                [uv, "pip", "install", "--quiet", "--python", python, requirement]]
    return [[base_python, "-m", "venv", str(home)],
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement]]


def ensure_venv(parent: Path | None = None, version: str = DATAHUB_VERSION) -> tuple[Path, dict[str, Any]]:
    """Return the DataHub virtualenv's python (building it the first time) and its build record.

    :raises RuntimeError: with the installer's output when a build step fails.
    """
    home = venv_home(parent, version)
    python, record = home / "bin" / "python", home / "build.json"
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f".{home.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time
        if record.is_file() and python.is_file():
            return python, json.loads(record.read_text())
        shutil.rmtree(home, ignore_errors=True)
        started = time.monotonic()
        uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
        for command in install_commands(home, version=version, uv=uv):
            _run(command)
        _run([str(python), "-c", "from datahub.ingestion.run.pipeline import Pipeline"])
        installed = subprocess.run([str(python), "-c", "import datahub; print(datahub.__version__)"],
                                   capture_output=True, text=True, check=True).stdout.strip()
        built = {"version": installed, "requirement": f"acryl-datahub[postgres]=={version}",
                 "installer": "uv" if uv else "pip", "install_seconds": round(time.monotonic() - started, 1)}
        record.write_text(json.dumps(built))
        return python, built


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:6])} … failed ({done.returncode}):\n{done.stdout[-3000:]}"
                           f"\n{done.stderr[-3000:]}")


def recipe(*, host: str, port: int, database: str, username: str, out_file: Path) -> dict[str, Any]:
    """A recipe for DataHub's ``postgres`` source into the ``file`` sink, profiling off.

    Everything else is the source's default (views and their lineage included, one database,
    ``information_schema``/``pg_catalog`` left out), as a user of DataHub gets it.
    """
    return {
        "source": {"type": "postgres", "config": {
            "host_port": f"{host}:{port}", "database": database, "username": username,
            "profiling": {"enabled": False},
        }},
        "sink": {"type": "file", "config": {"filename": str(out_file)}},
    }


def pipeline_command(python: Path, recipe_path: Path) -> list[str]:
    return [str(python), "-c", PIPELINE_SCRIPT, str(recipe_path)]


def datahub_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a DataHub run: telemetry off, nothing of the project's virtualenv."""
    env = {k: v for k, v in (base if base is not None else os.environ).items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["DATAHUB_TELEMETRY_ENABLED"] = "false"
    return env


def _aspects(records: Iterable[dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield (entity urn, aspect name, aspect value) from MCPs and from MCE dataset snapshots."""
    for r in records:
        if "proposedSnapshot" in r:
            snapshot = r["proposedSnapshot"]
            for key in _DATASET_SNAPSHOT:
                if key in snapshot:
                    urn = snapshot[key]["urn"]
                    for aspect in snapshot[key].get("aspects", []):
                        for name, value in aspect.items():
                            if name in _SCHEMA_METADATA:
                                yield urn, "schemaMetadata", value
                            elif name in _SUBTYPES:
                                yield urn, "subTypes", value
        elif r.get("entityType") == "dataset" and "aspect" in r:
            aspect = r["aspect"]
            value = aspect.get("json")
            if value is None and aspect.get("contentType") == "application/json":
                value = json.loads(aspect["value"])
            if value is not None:
                yield r["entityUrn"], r.get("aspectName", ""), value


def parse_file_sink(path: Path | str) -> dict[tuple[str, str, str], Relation]:
    """Return the datasets a DataHub file-sink output describes: (database, schema, name) → relation.

    A dataset is a view when its ``subTypes`` name ``View`` (or ``Materialized View``); its
    columns are the ``fieldPath`` of its ``schemaMetadata`` fields, in order.

    :raises ValueError: naming a dataset that has a ``subTypes`` but no ``schemaMetadata``, or a
        dataset name that is not ``database.schema.table``.
    """
    records = json.loads(Path(path).read_text())
    columns: dict[str, tuple[str, ...]] = {}
    kinds: dict[str, str] = {}
    for urn, aspect, value in _aspects(records):
        if aspect == "schemaMetadata":
            columns[urn] = tuple(f["fieldPath"] for f in value.get("fields", []))
        elif aspect == "subTypes":
            names = {n.lower() for n in value.get("typeNames", [])}
            kinds[urn] = "view" if names & {"view", "materialized view"} else "table"
    missing = sorted(set(kinds) - set(columns))
    if missing:
        raise ValueError(f"{path}: {len(missing)} dataset(s) without schemaMetadata, e.g. {missing[0]}")
    out: dict[tuple[str, str, str], Relation] = {}
    for urn, cols in columns.items():
        m = _DATASET_URN.match(urn)
        parts = m.group("name").split(".") if m else []
        if len(parts) != 3:
            raise ValueError(f"{path}: dataset urn {urn!r} does not name database.schema.table")
        out[(parts[0], parts[1], parts[2])] = Relation(kinds.get(urn, "table"), cols)
    return out
