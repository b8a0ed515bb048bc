"""``source_from_connection``: Airflow ``snowflake`` connection fields read like the official provider."""

from __future__ import annotations

import base64
import json
import sys

import pytest
from airflow.sdk import Connection

from airflow_provider_omingest.exceptions import ConfigError, MissingDependency
from airflow_provider_omingest.hooks.snowflake_connection import source_from_connection


def _conn(extra: dict, **kw) -> Connection:
    fields = {"conn_id": "sf", "conn_type": "snowflake", "login": "ingest", "password": "s3cret!", **kw}
    return Connection(**fields, extra=json.dumps(extra))


def _pem(passphrase: bytes | None = None) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def test_plain_extras_and_omingest_settings():
    source = source_from_connection(_conn(
        {"account": "org-acct", "warehouse": "WH", "database": "DB", "role": "META", "region": "eu-west-1",
         "insecure_mode": "true", "authenticator": "snowflake", "session_parameters": {"QUERY_TAG": "omingest"},
         "omingest_account_usage": "GOV.ACCOUNT_USAGE", "omingest_include_tags": "false",
         "omingest_exclude_databases": "SNOWFLAKE, SCRATCH", "omingest_include_lineage": "false"},
        schema="PUBLIC",
    ))
    kwargs = source.config.connect_kwargs()
    assert kwargs["account"] == "org-acct" and kwargs["user"] == "ingest" and kwargs["password"] == "s3cret!"
    assert (kwargs["warehouse"], kwargs["database"], kwargs["role"], kwargs["schema"]) == ("WH", "DB", "META", "PUBLIC")
    assert kwargs["insecure_mode"] is True
    assert kwargs["session_parameters"] == {"QUERY_TAG": "omingest", "STATEMENT_TIMEOUT_IN_SECONDS": 600}
    assert source.account_usage == "GOV.ACCOUNT_USAGE" and source.include_tags is False
    assert source.exclude_databases == {"SNOWFLAKE", "SCRATCH"}
    assert source.include_lineage is False
    assert source_from_connection(_conn({"account": "a"})).include_lineage is True


def test_legacy_prefixed_extras_and_conflicts():
    source = source_from_connection(_conn({"extra__snowflake__account": "legacy", "extra__snowflake__warehouse": "W"}))
    assert source.config.account == "legacy" and source.config.warehouse == "W"
    with pytest.warns(UserWarning, match="Conflicting"):
        source = source_from_connection(_conn({"account": "new", "extra__snowflake__account": "old"}))
    assert source.config.account == "new"


def test_secrets_stay_out_of_reprs_and_errors():
    source = source_from_connection(_conn({"account": "acct", "private_key_content": "not a key"}))
    assert "s3cret" not in repr(source) and "s3cret" not in repr(source.config)
    assert "not a key" not in repr(source.config)
    with pytest.raises(ConfigError) as err:
        source.config.connect_kwargs()
    assert "s3cret" not in str(err.value) and "not a key" not in str(err.value)


def test_missing_account_and_exclusive_keys():
    with pytest.raises(ConfigError, match="account"):
        source_from_connection(_conn({}))
    with pytest.raises(ConfigError, match="mutually exclusive"):
        source_from_connection(_conn({"account": "a", "private_key_file": "/k", "private_key_content": "x"}))
    with pytest.raises(ConfigError, match="omingest_include_tags"):
        source_from_connection(_conn({"account": "a", "omingest_include_tags": "maybe"}))
    with pytest.raises(ConfigError, match="account_usage"):
        source_from_connection(_conn({"account": "a", "omingest_account_usage": "X; drop table y"}))


@pytest.mark.parametrize("form", ["file", "pem", "base64"])
def test_key_pair_with_passphrase(tmp_path, form):
    pem = _pem(b"s3cret!")  # the connection password is the key's passphrase
    extra = {"account": "acct"}
    if form == "file":
        path = tmp_path / "rsa_key.p8"
        path.write_bytes(pem)
        extra["private_key_file"] = str(path)
    else:
        extra["private_key_content"] = pem.decode() if form == "pem" else base64.b64encode(pem).decode()
    kwargs = source_from_connection(_conn(extra)).config.connect_kwargs()
    assert "password" not in kwargs
    assert isinstance(kwargs["private_key"], bytes) and kwargs["private_key"][:1] == b"\x30"  # DER sequence


def test_key_pair_login_reaches_the_server(fakesnow_kwargs):
    """The connector accepts the DER key (JWT login); fakesnow does not check signatures."""
    extra = {"account": fakesnow_kwargs["account"], "private_key_content": _pem().decode(),
             "host": fakesnow_kwargs["host"], "port": str(fakesnow_kwargs["port"]), "protocol": "http",
             "session_parameters": fakesnow_kwargs["session_parameters"], "network_timeout": 5}
    with source_from_connection(_conn(extra, password="")) as source:
        assert source.now().tzinfo is not None


def test_missing_client_library(monkeypatch):
    source = source_from_connection(_conn({"account": "acct"}))
    monkeypatch.setitem(sys.modules, "snowflake.connector", None)
    with pytest.raises(MissingDependency) as err:
        source.list_databases()
    assert err.value.extra == "snowflake"


def test_builder_is_registered():
    from airflow_provider_omingest.hooks.source import SOURCE_BUILDERS

    module, func = SOURCE_BUILDERS["snowflake"].split(":")
    assert (module, func) == ("airflow_provider_omingest.hooks.snowflake_connection", "source_from_connection")
