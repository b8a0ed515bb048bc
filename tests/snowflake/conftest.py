"""Fixtures: a fakesnow server (DuckDB underneath) reached by the real Snowflake connector.

One server for the session, shared in-memory; each test works in databases named after it and
drops them afterwards. ``SNOWFLAKE.ACCOUNT_USAGE`` does not exist in fakesnow: the session
creates ``TABLES``, ``SCHEMATA``, ``TAG_REFERENCES`` and ``OBJECT_DEPENDENCIES`` with Snowflake's
column names, and each
test seeds rows for its own databases.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

fakesnow = pytest.importorskip("fakesnow", reason="pip install 'fakesnow==0.12.1' 'snowflake-connector-python<5'")

from airflow_provider_omingest.sources.snowflake.source import SnowflakeConfig, SnowflakeSource

_counter = itertools.count()

#: Real column names of SNOWFLAKE.ACCOUNT_USAGE.TABLES (a subset: those a change query can use).
#: One row per TABLE_ID, Snowflake's internal id of a table incarnation (TABLES view:
#: https://docs.snowflake.com/en/sql-reference/account-usage/tables).
ACCOUNT_USAGE_TABLES_DDL = """
create table if not exists SNOWFLAKE.ACCOUNT_USAGE.TABLES (
    TABLE_ID number primary key, TABLE_NAME varchar, TABLE_SCHEMA_ID number, TABLE_SCHEMA varchar,
    TABLE_CATALOG_ID number, TABLE_CATALOG varchar, TABLE_OWNER varchar, TABLE_TYPE varchar,
    IS_TRANSIENT varchar, CLUSTERING_KEY varchar, ROW_COUNT number, BYTES number,
    RETENTION_TIME number, CREATED timestamp_ltz, LAST_ALTERED timestamp_ltz, LAST_DDL timestamp_ltz,
    LAST_DDL_BY varchar, DELETED timestamp_ltz, AUTO_CLUSTERING_ON varchar, COMMENT varchar,
    OWNER_ROLE_TYPE varchar, INSTANCE_ID number, IS_ICEBERG varchar, IS_DYNAMIC varchar, IS_HYBRID varchar
)
"""
ACCOUNT_USAGE_SCHEMATA_DDL = """
create table if not exists SNOWFLAKE.ACCOUNT_USAGE.SCHEMATA (
    SCHEMA_ID number, SCHEMA_NAME varchar, CATALOG_ID number, CATALOG_NAME varchar, SCHEMA_OWNER varchar,
    RETENTION_TIME number, IS_TRANSIENT varchar, IS_MANAGED_ACCESS varchar, DEFAULT_CHARACTER_SET_CATALOG varchar,
    DEFAULT_CHARACTER_SET_SCHEMA varchar, DEFAULT_CHARACTER_SET_NAME varchar, SQL_PATH varchar, COMMENT varchar,
    CREATED timestamp_ltz, LAST_ALTERED timestamp_ltz, DELETED timestamp_ltz, OWNER_ROLE_TYPE varchar
)
"""
ACCOUNT_USAGE_TAG_REFERENCES_DDL = """
create table if not exists SNOWFLAKE.ACCOUNT_USAGE.TAG_REFERENCES (
    TAG_DATABASE varchar, TAG_SCHEMA varchar, TAG_ID number, TAG_NAME varchar, TAG_VALUE varchar,
    OBJECT_DATABASE varchar, OBJECT_SCHEMA varchar, OBJECT_ID number, OBJECT_NAME varchar,
    OBJECT_DELETED timestamp_ltz, DOMAIN varchar, COLUMN_ID number, COLUMN_NAME varchar, APPLY_METHOD varchar
)
"""


# OBJECT_DEPENDENCIES (https://docs.snowflake.com/en/sql-reference/account-usage/object_dependencies):
# its documented columns; one row per dependency of a referencing object on a referenced one;
# DEPENDENCY_TYPE is BY_NAME, BY_ID or BY_NAME_AND_ID (https://docs.snowflake.com/en/user-guide/object-dependencies).
# Latency up to three hours: tests.snowflake.account_usage.ObjectDependencies writes a view's rows
# late. Reading it needs ACCOUNT_USAGE access (the SNOWFLAKE database role OBJECT_VIEWER, or
# IMPORTED PRIVILEGES on the SNOWFLAKE database: https://docs.snowflake.com/en/sql-reference/snowflake-db-roles);
# tests of a role without it refuse the query.
ACCOUNT_USAGE_OBJECT_DEPENDENCIES_DDL = """
create table if not exists SNOWFLAKE.ACCOUNT_USAGE.OBJECT_DEPENDENCIES (
    REFERENCED_DATABASE varchar, REFERENCED_SCHEMA varchar, REFERENCED_OBJECT_NAME varchar,
    REFERENCED_OBJECT_ID number, REFERENCED_OBJECT_DOMAIN varchar,
    REFERENCING_DATABASE varchar, REFERENCING_SCHEMA varchar, REFERENCING_OBJECT_NAME varchar,
    REFERENCING_OBJECT_ID number, REFERENCING_OBJECT_DOMAIN varchar, DEPENDENCY_TYPE varchar
)
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Silence fakesnow's own warning about Arrow copies (not ours to fix)."""
    for item in items:
        if "tests/snowflake/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings("ignore:Arrow output:UserWarning"))


@pytest.fixture(scope="session")
def fakesnow_kwargs() -> Iterator[dict[str, Any]]:
    """Connection arguments of a fakesnow server running for the session (stopped at the end)."""
    import logging

    for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "fakesnow.server"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with fakesnow.server() as kwargs:
        yield kwargs


@pytest.fixture(scope="session")
def sf_config(fakesnow_kwargs: dict[str, Any]) -> SnowflakeConfig:
    """A :class:`SnowflakeConfig` pointing at the fakesnow server."""
    return SnowflakeConfig(
        account=fakesnow_kwargs["account"],
        user=fakesnow_kwargs["user"],
        password=fakesnow_kwargs["password"],
        host=fakesnow_kwargs["host"],
        port=fakesnow_kwargs["port"],
        protocol="http",
        session_parameters=dict(fakesnow_kwargs["session_parameters"]),
        network_timeout=fakesnow_kwargs["network_timeout"],
    )


class Admin:
    """Runs setup SQL over its own connection and drops what the test created."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        import snowflake.connector

        self.conn = snowflake.connector.connect(**kwargs)
        self.databases: list[str] = []

    def sql(self, statement: str, params: Any = None) -> list[dict[str, Any]]:
        from snowflake.connector import DictCursor

        cur = self.conn.cursor(DictCursor)
        try:
            cur.execute(statement, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def database(self, label: str) -> str:
        """Create a database named after ``label`` and this test, dropped at teardown."""
        name = f"{label}_{next(_counter)}_{uuid.uuid4().hex[:6]}".upper()
        self.sql(f'create database "{name}"')
        self.databases.append(name)
        return name

    def close(self) -> None:
        try:
            for name in self.databases:
                # fakesnow cannot DROP DATABASE: drop its schemas (the empty database stays)
                for row in self.sql(f'show terse schemas in database "{name}"'):
                    if row["name"].upper() != "INFORMATION_SCHEMA":
                        self.sql(f'drop schema if exists "{name}"."{row["name"]}" cascade')
                for view in ("TABLES", "TAG_REFERENCES"):
                    column = "TABLE_CATALOG" if view == "TABLES" else "OBJECT_DATABASE"
                    self.sql(f"delete from SNOWFLAKE.ACCOUNT_USAGE.{view} where {column} = %s", (name,))
                self.sql("delete from SNOWFLAKE.ACCOUNT_USAGE.SCHEMATA where CATALOG_NAME = %s", (name,))
                self.sql("delete from SNOWFLAKE.ACCOUNT_USAGE.OBJECT_DEPENDENCIES where REFERENCING_DATABASE = %s",
                         (name,))
        finally:
            self.conn.close()


@pytest.fixture(scope="session")
def _account_usage(fakesnow_kwargs: dict[str, Any]) -> None:
    admin = Admin(fakesnow_kwargs)
    try:
        admin.sql("create database if not exists SNOWFLAKE")
        admin.sql("create schema if not exists SNOWFLAKE.ACCOUNT_USAGE")
        for ddl in (ACCOUNT_USAGE_TABLES_DDL, ACCOUNT_USAGE_SCHEMATA_DDL, ACCOUNT_USAGE_TAG_REFERENCES_DDL,
                    ACCOUNT_USAGE_OBJECT_DEPENDENCIES_DDL):
            admin.sql(ddl)
    finally:
        admin.close()


@pytest.fixture
def admin(fakesnow_kwargs: dict[str, Any], _account_usage: None) -> Iterator[Admin]:
    """Setup connection to the fakesnow server; drops the test's databases afterwards."""
    a = Admin(fakesnow_kwargs)
    try:
        yield a
    finally:
        a.close()


@pytest.fixture
def make_source(sf_config: SnowflakeConfig) -> Iterator[Callable[..., SnowflakeSource]]:
    """Factory of sources on the fakesnow server; every source made is closed at teardown."""
    made: list[SnowflakeSource] = []

    def make(**kwargs: Any) -> SnowflakeSource:
        source = SnowflakeSource(sf_config, **kwargs)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def utc(hours_ago: float) -> datetime:
    """Return the time ``hours_ago`` hours before now (aware UTC)."""
    return datetime.now(timezone.utc) - timedelta(hours=hours_ago)
