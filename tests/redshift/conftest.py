"""Fixtures: PostgreSQL with Redshift's system views stood in, reached by redshift_connector through a proxy."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from airflow_provider_omingest.sources.redshift.source import RedshiftSource
from tests.redshift.proxy import RedshiftProxy
from tests.support.postgres_server import PostgresServer

STANDINS = (Path(__file__).parent / "standins.sql").read_text()

_counter = itertools.count()


@dataclass
class RedshiftDatabase:
    """A fresh database with the stand-ins installed, and ways to reach it.

    ``serverless``: the database stands in for a Redshift Serverless workgroup, which has no STL
    views (https://docs.aws.amazon.com/redshift/latest/dg/c_intro_system_views.html: "System
    monitoring (provisioned only)"); the SYS views are there on both.
    """

    server: PostgresServer
    proxy: RedshiftProxy
    name: str
    serverless: bool = False

    def sql(self, *statements: str, user: str = "postgres") -> None:
        """Run statements as ``user`` directly on PostgreSQL (each one logged by the event trigger)."""
        with psycopg.connect(self.dsn(user), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def record(self, text: str, query_type: str = "DDL", user: str = "postgres") -> None:
        """Log a statement in the history as Redshift does, without running it.

        For statements plain PostgreSQL cannot run, such as ``CREATE TABLE #stage (...)`` (a name
        that begins with ``#`` is a temporary table in Redshift: r_CREATE_TABLE_NEW.html).
        """
        self.sql(
            "INSERT INTO omingest_standin.query_log (user_id, usename, transaction_id, session_id, database_name, "
            "query_type, status, start_time, end_time, query_text) "
            "SELECT usesysid, usename, txid_current(), pg_backend_pid(), current_database(), "
            f"{_literal(query_type)}, 'success', clock_timestamp() AT TIME ZONE 'UTC', "
            f"clock_timestamp() AT TIME ZONE 'UTC', {_literal(text)} FROM pg_user WHERE usename = {_literal(user)}"
        )

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Return the rows of a query run as the superuser."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            return conn.execute(statement, params).fetchall()

    def dsn(self, user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.server.port} user={user} dbname={self.name}"

    def connect_kwargs(self, user: str = "postgres") -> dict[str, Any]:
        """Return redshift_connector arguments reaching this database through the proxy."""
        return {"host": "127.0.0.1", "port": self.proxy.port, "user": user, "password": "unused", "ssl": False}

    def source(self, user: str = "postgres", **kwargs: Any) -> RedshiftSource:
        """Return a new Redshift source on this database."""
        return RedshiftSource(self.connect_kwargs(user), database=self.name, **kwargs)


@pytest.fixture(scope="session")
def redshift_proxy(pg_server: PostgresServer) -> Iterator[RedshiftProxy]:
    """The loopback proxy in front of the session's PostgreSQL server."""
    with RedshiftProxy(pg_server.port) as proxy:
        yield proxy


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@pytest.fixture
def make_redshift_db(
    pg_server: PostgresServer, redshift_proxy: RedshiftProxy
) -> Callable[..., RedshiftDatabase]:
    """Return a factory of fresh databases with the Redshift stand-ins installed (``serverless=True``: no STL)."""

    def make(serverless: bool = False) -> RedshiftDatabase:
        name = f"rs{next(_counter)}"
        pg_server.create_database(name)
        with psycopg.connect(f"host=127.0.0.1 port={pg_server.port} user=postgres dbname={name}",
                             autocommit=True) as conn:
            conn.execute(STANDINS)
            if serverless:
                conn.execute("SET allow_system_table_mods = on; DROP VIEW pg_catalog.stl_ddltext")
                conn.execute("DELETE FROM omingest_standin.query_log WHERE query_type <> 'SELECT'")
        return RedshiftDatabase(pg_server, redshift_proxy, name, serverless)

    return make


@pytest.fixture
def rs_db(make_redshift_db: Callable[[], RedshiftDatabase]) -> RedshiftDatabase:
    """A fresh database with the Redshift stand-ins installed."""
    return make_redshift_db()


@pytest.fixture
def rs_source(rs_db: RedshiftDatabase) -> Iterator[RedshiftSource]:
    """A Redshift source connected as the superuser, closed after the test."""
    source = rs_db.source()
    try:
        yield source
    finally:
        source.close()
