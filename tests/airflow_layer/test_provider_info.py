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


def _declared(conn_type: str) -> set[str]:
    types = {ct["connection-type"]: ct for ct in get_provider_info()["connection-types"]}
    return set(types[conn_type].get("conn-fields", {}))


def _connection(conn_type: str, **fields):
    from airflow.sdk import Connection

    return Connection(conn_id=f"t_{conn_type}", conn_type=conn_type, **fields)


def test_every_extra_the_sql_source_reads_is_declared(tmp_path, monkeypatch):
    import duckdb

    from airflow_provider_omingest.hooks.connection_urls import PG_EXTRA_OPTIONS
    from airflow_provider_omingest.hooks.source import OmingestDuckDBHook, OmingestSourceHook

    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    for hook_class, conn in ((OmingestDuckDBHook, _connection("duckdb", host=str(path))),
                             (OmingestSourceHook, _connection("omingest_sqlalchemy", extra=json.dumps(
                                 {"sqlalchemy_url": f"duckdb:///{path}"})))):
        hook = hook_class(conn.conn_id)
        monkeypatch.setattr(type(hook), "connection", property(lambda self, c=conn: c), raising=False)
        hook.__dict__.pop("extras", None)
        hook.get_source().close()
        undeclared = hook.extras.read - _declared(hook_class.conn_type) - set(PG_EXTRA_OPTIONS)
        assert not undeclared, f"{hook_class.conn_type} reads undeclared extras: {undeclared}"


def test_every_extra_the_catalogs_read_is_declared(tmp_path, monkeypatch):
    from airflow_provider_omingest.hooks.catalog import OmingestCatalogHook, OmingestOpenMetadataHook

    cases = [
        (OmingestOpenMetadataHook, _connection("openmetadata", host="http://127.0.0.1:1", password="jwt")),
        (OmingestCatalogHook, _connection("omingest_catalog", extra=json.dumps(
            {"sqlalchemy_url": f"sqlite:///{tmp_path / 'c.db'}"}))),
    ]
    for hook_class, conn in cases:
        hook = hook_class(conn.conn_id)
        monkeypatch.setattr(type(hook), "connection", property(lambda self, c=conn: c), raising=False)
        hook.__dict__.pop("extras", None)
        hook.get_catalog().close()
        undeclared = hook.extras.read - _declared(hook_class.conn_type)
        assert not undeclared, f"{hook_class.conn_type} reads undeclared extras: {undeclared}"


def test_secrets_in_extras_are_masked_in_the_form():
    for ct in get_provider_info()["connection-types"]:
        for name, field in ct.get("conn-fields", {}).items():
            if name in ("sqlalchemy_url", "runs_url"):
                assert field["schema"].get("format") == "password", (ct["connection-type"], name)


def test_the_omingest_config_options_are_declared():
    options = get_provider_info()["config"]["omingest"]["options"]
    assert set(options) >= {"snapshot_path", "snapshot_conn_id", "missing_pools"}
    assert options["missing_pools"]["default"] == "fail"
