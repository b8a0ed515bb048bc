"""The provider registers with Airflow and its metadata is valid."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema

from airflow_provider_omingest.get_provider_info import get_provider_info


def test_provider_info_validates_against_airflow_schema():
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_entry_point_is_registered():
    eps = [ep for ep in entry_points(group="apache_airflow_provider") if ep.dist.name == "airflow-provider-omingest"]
    assert len(eps) == 1
    assert eps[0].load()()["package-name"] == "airflow-provider-omingest"


def test_every_listed_module_and_hook_imports():
    info = get_provider_info()
    for section in ("operators", "hooks"):
        for item in info[section]:
            for module in item["python-modules"]:
                importlib.import_module(module)
    for ct in info["connection-types"]:
        module, cls = ct["hook-class-name"].rsplit(".", 1)
        hook = getattr(importlib.import_module(module), cls)
        assert hook.conn_type == ct["connection-type"]


def test_airflow_providers_list_shows_it(airflow_db):
    out = subprocess.run([sys.executable, "-m", "airflow", "providers", "list", "-o", "json"],
                         capture_output=True, text=True, timeout=180, check=True)
    providers = {p["package_name"]: p for p in json.loads(out.stdout[out.stdout.index("["):])}
    assert providers["airflow-provider-omingest"]["version"] == "0.1.0"
