"""The Redshift source end to end (run_ingestion into the SQLite catalog) and from an Airflow connection."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from airflow.sdk import Connection

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from airflow_provider_omingest.config import FilterPattern, Filters, IngestionSettings
from airflow_provider_omingest.engine.runner import run_ingestion
from airflow_provider_omingest.models.run import RunRequest
from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.hooks.redshift_connection import (
    redshift_connect_kwargs,
    source_from_connection,
)
from airflow_provider_omingest.sources.redshift.source import APPLICATION_NAME, RedshiftSource
from tests.redshift.conftest import RedshiftDatabase
from tests.redshift.test_redshift_source import SALES_DDL, SPECTRUM_DDL


def test_full_run_into_the_catalog(rs_db: RedshiftDatabase, tmp_path: Path) -> None:
    rs_db.sql(*SALES_DDL, *SPECTRUM_DDL, "CREATE SCHEMA ops", "CREATE TABLE ops.jobs (id int)")
    settings = IngestionSettings(
        service="rs", threads=2,
        filters=Filters(schema=FilterPattern(include=("^sales$", "^spectrum$", "^ops$"))),
    )
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    first = run_ingestion(rs_db.source, catalog, settings, RunRequest(run_id="full", requested_mode="full"))
    assert first.status == "success" and first.mode == "full"
    assert first.totals["created"] == 8  # 6 in sales, 1 in spectrum, 1 in ops
    rs_db.sql("DROP TABLE ops.jobs", "ALTER TABLE sales.customers ADD COLUMN phone varchar(20)")
    second = run_ingestion(rs_db.source, catalog, settings.model_copy(update={"max_delete_fraction": 1.0}),
                           RunRequest(run_id="full-2", requested_mode="full"))
    assert second.status == "success"
    counts = {k: second.totals.get(k, 0) for k in ("created", "updated", "deleted", "unchanged")}
    assert counts == {"created": 0, "updated": 1, "deleted": 1, "unchanged": 6}


def _conn(**kw: object) -> Connection:
    extra = kw.pop("extra", {})
    return Connection(conn_id="rs", conn_type="redshift", extra=json.dumps(extra), **kw)  # type: ignore[arg-type]


def test_source_from_an_airflow_connection(rs_db: RedshiftDatabase) -> None:
    conn = _conn(host="127.0.0.1", port=rs_db.proxy.port, schema=rs_db.name, login="postgres", password="s3cret",
                 extra={"ssl": False, "timeout": 30, "all_databases": True, "trust_history_visibility": "true",
                        "not_a_driver_arg": 1})
    source = source_from_connection(conn)
    assert isinstance(source, RedshiftSource)
    assert source.all_databases and source.trust_history_visibility
    assert "s3cret" not in repr(source)
    with source:
        assert rs_db.name in source.list_databases()
        assert "public" in source.list_schemas(rs_db.name)
    # Closed: the server ends the backend shortly after the client's Terminate message.
    deadline = time.monotonic() + 10
    while rs_db.query("select count(*) from pg_stat_activity where application_name = %s",
                      (APPLICATION_NAME,))[0][0] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rs_db.query("select count(*) from pg_stat_activity where application_name = %s",
                       (APPLICATION_NAME,))[0][0] == 0


def test_connection_fields_map_to_driver_arguments() -> None:
    params = frozenset({"host", "port", "user", "password", "iam", "db_user", "cluster_identifier", "region",
                        "profile", "ssl", "is_serverless", "serverless_work_group"})
    plain = redshift_connect_kwargs(_conn(host="c1.abc.eu-west-1.redshift.amazonaws.com", schema="dev",
                                          login="u", password="p", extra={"ssl": True, "bogus": 1}), params)
    assert plain == {"host": "c1.abc.eu-west-1.redshift.amazonaws.com", "port": 5439, "user": "u", "password": "p",
                     "ssl": True}
    iam = redshift_connect_kwargs(_conn(host="c1.abc.eu-west-1.redshift.amazonaws.com", schema="dev", login="u",
                                        extra={"iam": True, "region": "eu-west-1", "profile": "prod",
                                               "aws_conn_id": "aws"}), params)
    assert iam == {"host": "c1.abc.eu-west-1.redshift.amazonaws.com", "port": 5439, "iam": True, "db_user": "u",
                   "cluster_identifier": "c1", "region": "eu-west-1", "profile": "prod"}
    serverless = redshift_connect_kwargs(_conn(schema="dev", extra={"iam": True, "is_serverless": True,
                                                                    "serverless_work_group": "wg"}), params)
    assert "cluster_identifier" not in serverless and serverless["serverless_work_group"] == "wg"
    with pytest.raises(ConfigError, match="cluster_identifier"):
        redshift_connect_kwargs(_conn(schema="dev", extra={"iam": True}), params)
    with pytest.raises(ConfigError, match="schema"):
        source_from_connection(_conn(host="h", login="u", password="p"))
