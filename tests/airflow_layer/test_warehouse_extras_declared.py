"""Every extra a warehouse builder reads is in its doc's extras tables, and the tables list nothing more.

The ``snowflake``, ``redshift`` and ``google_cloud_platform`` connection types belong to other
providers, so omingest declares the extras it reads in ``docs/<warehouse>.md``: the tables whose
first column is headed ``Extra``. A malformed extra fails without retries, naming the connection,
the extra, the value and the fix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.hooks import bigquery_connection, redshift_connection, snowflake_connection
from airflow_provider_omingest.hooks.base import Extras
from airflow_provider_omingest.hooks.source import OmingestSourceHook
from airflow_provider_omingest.operators.errors import fail_or_retry

DOCS = Path(__file__).resolve().parents[2] / "docs"

#: Representative connections per warehouse: together they take every branch that reads an extra.
CONNECTIONS: dict[str, tuple[Any, list[dict[str, Any]]]] = {
    "snowflake": (snowflake_connection, [
        {"login": "OMINGEST", "password": "passphrase", "extra": {
            "account": "myorg-myaccount", "warehouse": "METADATA_WH", "role": "OMINGEST",
            "private_key_file": "/secrets/omingest_rsa_key.p8", "session_parameters": {"QUERY_TAG": "omingest"}}},
    ]),
    "redshift": (redshift_connection, [
        {"host": "c1.abc.eu-west-1.redshift.amazonaws.com", "schema": "dev", "login": "omingest",
         "password": "pw", "extra": {"ssl": True, "all_databases": "true"}},
        {"host": "c1.abc.eu-west-1.redshift.amazonaws.com", "login": "omingest",
         "extra": {"iam": True, "region": "eu-west-1", "profile": "prod", "database": "dev"}},
    ]),
    "bigquery": (bigquery_connection, [
        {"extra": {"project": "billing", "projects": ["analytics-prod", "raw-prod"], "location": "EU"}},
    ]),
}

CONN_TYPES = {"snowflake": "snowflake", "redshift": "redshift", "bigquery": "google_cloud_platform"}


def documented_extras(doc: str) -> set[str]:
    """Return the names in the first column of every table of ``docs/<doc>.md`` headed ``Extra``."""
    names: set[str] = set()
    in_table = False
    for line in (DOCS / f"{doc}.md").read_text().splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        first = line.strip("|").split("|", 1)[0].strip()
        if first == "Extra":
            in_table = True
        elif in_table and not set(first) <= set("-: "):
            names.update(re.findall(r"`([a-z_]+)`", first))
    return names


def extras_read(warehouse: str) -> set[str]:
    module, connections = CONNECTIONS[warehouse]
    read: set[str] = set()
    for fields in connections:
        conn = Connection(conn_id=f"{warehouse}_wh", conn_type=CONN_TYPES[warehouse],
                          **{**fields, "extra": json.dumps(fields["extra"])})
        extras = Extras(conn)
        module.source_from_connection(conn, extras)
        read |= extras.read
    return read


@pytest.mark.parametrize("warehouse", sorted(CONNECTIONS))
def test_every_extra_read_is_documented_and_nothing_more(warehouse: str) -> None:
    read, documented = extras_read(warehouse), documented_extras(warehouse)
    assert len(documented) >= 10, f"docs/{warehouse}.md: no extras tables found"
    assert not read - documented, f"docs/{warehouse}.md does not list extras the builder reads: {read - documented}"
    assert not documented - read, f"docs/{warehouse}.md lists extras the builder never reads: {documented - read}"


@pytest.mark.parametrize(("conn", "extra", "value", "fix"), [
    pytest.param({"conn_type": "snowflake", "login": "u", "extra": {"account": "a", "session_parameters": "QUERY_TAG=x"}},
                 "session_parameters", "QUERY_TAG=x", "expected a JSON object", id="snowflake"),
    pytest.param({"conn_type": "redshift", "host": "h", "schema": "dev", "login": "u", "password": "pw",
                  "extra": {"trust_history_visibility": "maybe"}},
                 "trust_history_visibility", "maybe", "expected true or false", id="redshift"),
    pytest.param({"conn_type": "google_cloud_platform", "extra": {"project": "p", "is_anonymous": "anonymous"}},
                 "is_anonymous", "anonymous", "expected true or false", id="bigquery"),
])
def test_a_bad_extra_names_connection_extra_value_and_fix_and_is_not_retried(
        monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any], extra: str, value: str, fix: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_BAD", json.dumps(conn))
    with pytest.raises(ConfigError) as info:
        OmingestSourceHook("warehouse_bad").get_source()
    message = str(info.value)
    assert f"connection 'warehouse_bad' extra {extra}={value!r}" in message and fix in message, message
    with pytest.raises(AirflowFailException, match=re.escape(message)):
        fail_or_retry(info.value, "Planning failed")
