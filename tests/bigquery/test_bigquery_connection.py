"""The ``google_cloud_platform`` connection -> BigQuery source, as the official provider stores it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Connection
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.credentials import AnonymousCredentials
from google.oauth2 import service_account

from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.hooks.bigquery_connection import source_from_connection
from airflow_provider_omingest.hooks.source import SOURCE_BUILDERS
from airflow_provider_omingest.models.units import WorkUnit
from tests.bigquery.standin import BigQueryStandin, StandinTable, field_

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def key_info() -> dict[str, Any]:
    """A service account key as Google issues it (a throwaway RSA key)."""
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account", "project_id": "key-project", "private_key_id": "abc123",
        "private_key": pem, "client_email": "omingest@key-project.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token",
    }


def conn(extra: dict[str, Any], conn_id: str = "gcp") -> Connection:
    return Connection(conn_id=conn_id, conn_type="google_cloud_platform", extra=json.dumps(extra))


def test_builder_is_registered() -> None:
    assert SOURCE_BUILDERS["google_cloud_platform"].split(":") == [
        "airflow_provider_omingest.hooks.bigquery_connection", "source_from_connection"]


def test_keyfile_dict_plain_and_legacy_prefixed(key_info: dict[str, Any]) -> None:
    plain = source_from_connection(conn({"keyfile_dict": json.dumps(key_info), "project": "billing"}))
    legacy = source_from_connection(conn({
        "extra__google_cloud_platform__keyfile_dict": json.dumps(key_info),
        "extra__google_cloud_platform__project": "billing",
        "extra__google_cloud_platform__scope": "https://www.googleapis.com/auth/bigquery.readonly",
    }))
    for source in (plain, legacy):
        assert isinstance(source._credentials, service_account.Credentials)
        assert source._credentials.service_account_email == key_info["client_email"]
        assert (source.projects, source.billing_project) == (["billing"], "billing")
    assert legacy._credentials._scopes == ["https://www.googleapis.com/auth/bigquery.readonly"]


def test_key_path_gives_the_key_project(key_info: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key_info))
    source = source_from_connection(conn({"key_path": str(path), "projects": "proj-a, proj-b",
                                          "location": "EU", "retry_deadline": "30", "statement_timeout": "90"}))
    assert source.projects == ["proj-a", "proj-b"]
    assert source.billing_project == "key-project"
    assert (source.location, source.retry_deadline, source.statement_timeout) == ("EU", 30.0, 90.0)
    assert isinstance(source._credentials, service_account.Credentials)


def test_no_key_means_application_default_credentials(key_info: dict[str, Any], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "adc.json"
    path.write_text(json.dumps(key_info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    source = source_from_connection(conn({}))
    assert source._credentials is None
    try:
        assert source.list_databases() == ["key-project"], "project from the default credentials"
        assert isinstance(source.client._credentials, service_account.Credentials)
    finally:
        source.close()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param({"key_path": "/a.json", "keyfile_dict": "{}"}, "mutually exclusive", id="two-keys"),
        pytest.param({"key_secret_name": "projects/p/secrets/k"}, "Secret Manager", id="secret-manager"),
        pytest.param({"keyfile_dict": '{"type": "service_account", "private_key": "TOPSECRET"}'},
                     "could not load credentials", id="bad-key"),
        pytest.param({"is_anonymous": True, "key_path": "/a.json"}, "cannot be combined", id="anonymous-and-key"),
        pytest.param({"is_anonymous": True, "projects": "{bad"}, None, id="projects-string-is-split"),
        pytest.param({"is_anonymous": True, "retry_deadline": "soon"}, "seconds", id="bad-deadline"),
        pytest.param({"is_anonymous": True, "statement_timeout": "soon"}, "extra statement_timeout",
                     id="bad-statement-timeout"),
    ],
)
def test_bad_extras_name_the_extra_and_hide_secrets(extra: dict[str, Any], message: str | None) -> None:
    if message is None:
        assert source_from_connection(conn(extra)).projects == ["{bad"]
        return
    with pytest.raises(ConfigError, match=message) as info:
        source_from_connection(conn(extra))
    assert "gcp" in str(info.value)
    assert "TOPSECRET" not in str(info.value) and "TOPSECRET" not in repr(info.value.value)


def test_anonymous_connection_reads_the_standin(standin: BigQueryStandin) -> None:
    standin.create_dataset("proj-a", "sales", description="Sales")
    standin.create_table("proj-a", "sales", StandinTable("orders", [field_("id", "INTEGER")]))
    source = source_from_connection(conn({"project": "proj-a", "is_anonymous": "true",
                                          "api_endpoint": standin.url, "retry_deadline": 2}))
    try:
        assert isinstance(source._credentials, AnonymousCredentials)
        assert source.list_schemas("proj-a") == ["sales"]
        (snapshot,) = source.extract(WorkUnit(unit_id="u", database="proj-a", schemas=("sales",)), Filters())
        assert [t.name for t in snapshot.tables] == ["orders"]
        assert source.logging_api_endpoint == standin.url
    finally:
        source.close()


def test_dag_file_parses_without_google_clients() -> None:
    code = (
        "import sys, importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('d', {str(ROOT / 'dags' / 'omingest_bigquery.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "assert m.dag.dag_id == 'omingest_bigquery', m.dag.dag_id\n"
        "loaded = [n for n in sys.modules if n.startswith(('google.cloud', 'google.auth'))]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
