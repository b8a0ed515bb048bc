"""Hooks that turn an Airflow connection into a :class:`~airflow_provider_omingest.sources.base.Source`."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, ClassVar

from airflow_provider_omingest.hooks.base import OmingestHook
from airflow_provider_omingest.hooks.connection_urls import sqlalchemy_url

if TYPE_CHECKING:
    from airflow_provider_omingest.sources.base import Source

__all__ = ["SOURCE_BUILDERS", "SQL_SOURCE_EXTRAS", "OmingestDuckDBHook", "OmingestSourceHook"]

#: Connection type -> "module:function" that builds a source from an Airflow Connection.
#: Imported lazily so that a DAG file never imports a warehouse client.
SOURCE_BUILDERS: dict[str, str] = {
    "snowflake": "airflow_provider_omingest.hooks.snowflake_connection:source_from_connection",
    "redshift": "airflow_provider_omingest.hooks.redshift_connection:source_from_connection",
    "google_cloud_platform": "airflow_provider_omingest.hooks.bigquery_connection:source_from_connection",
}

#: The extras every SQL source reads (beside the URL's), as declared in the provider info.
SQL_SOURCE_EXTRAS = ("database_name", "digest_connections", "statement_timeout", "lock_timeout")


class OmingestSourceHook(OmingestHook):
    """Open a metadata source from a standard Airflow connection.

    Reuses the connections people already have: ``snowflake``, ``redshift``,
    ``google_cloud_platform`` (BigQuery), ``postgres``, ``sqlite``, ``duckdb``, ``mysql`` or
    ``omingest_sqlalchemy`` (any SQLAlchemy URL). Credentials stay inside the
    hook: they are never logged and never returned.

    :param source_conn_id: the Airflow connection of the warehouse.
    """

    conn_name_attr: ClassVar[str] = "source_conn_id"
    default_conn_name: ClassVar[str] = "omingest_source"
    conn_type: ClassVar[str] = "omingest_sqlalchemy"
    hook_name: ClassVar[str] = "omingest SQLAlchemy database"

    def get_source(self) -> Source:
        """Return a new, unopened source for the connection (one connection per call)."""
        builder = SOURCE_BUILDERS.get(self.conn_type_name)
        if builder:
            module, func = builder.split(":")
            return getattr(importlib.import_module(module), func)(self.connection)
        from airflow_provider_omingest.sources.sql.source import (
            DEFAULT_LOCK_TIMEOUT,
            DEFAULT_STATEMENT_TIMEOUT,
            SqlAlchemySource,
        )

        extras = self.extras
        engine_kwargs = {}
        if self.conn_type_name == "duckdb" and extras.boolean("read_only", True):
            # A DuckDB file admits one read-write process *or* many read-only ones: parallel
            # extract tasks (a process each) must open it read-only. Extra read_only=false opts out.
            engine_kwargs["connect_args"] = {"read_only": True}
        return SqlAlchemySource(
            sqlalchemy_url(self.connection, extras), database_name=extras.text("database_name"),
            engine_kwargs=engine_kwargs,
            digest_connections=extras.integer("digest_connections", 2),
            statement_timeout=extras.number("statement_timeout", DEFAULT_STATEMENT_TIMEOUT),
            lock_timeout=extras.number("lock_timeout", DEFAULT_LOCK_TIMEOUT),
        )

    def get_conn(self) -> Source:
        """Return a new source (Airflow's generic hook entry point)."""
        return self.get_source()

    def test_connection(self) -> tuple[bool, str]:
        """List the databases through the source, as the UI's "Test" button does."""
        try:
            with self.get_source() as source:
                dbs = source.list_databases()
            return True, f"Connected; databases: {', '.join(dbs)}"
        except Exception as e:
            return False, str(e)


class OmingestDuckDBHook(OmingestSourceHook):
    """A DuckDB database file as a source: the ``duckdb`` connection type (host = the file's path).

    :param source_conn_id: the Airflow connection of the DuckDB file.
    """

    conn_type: ClassVar[str] = "duckdb"
    hook_name: ClassVar[str] = "DuckDB (omingest)"
