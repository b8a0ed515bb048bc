"""Hook that turns an Airflow connection into a :class:`~airflow_provider_omingest.sources.Source`."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_omingest.hooks.connection_urls import sqlalchemy_url
from airflow_provider_omingest.hooks.extras import int_extra

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_omingest.sources.base import Source

__all__ = ["SOURCE_BUILDERS", "OmingestSourceHook"]

#: Connection type -> "module:function" that builds a source from an Airflow Connection.
#: Imported lazily so that a DAG file never imports a warehouse client.
SOURCE_BUILDERS: dict[str, str] = {
    "snowflake": "airflow_provider_omingest.hooks.snowflake_connection:source_from_connection",
    "redshift": "airflow_provider_omingest.hooks.redshift_connection:source_from_connection",
    "google_cloud_platform": "airflow_provider_omingest.hooks.bigquery_connection:source_from_connection",
}


class OmingestSourceHook(BaseHook):
    """Open a metadata source from a standard Airflow connection.

    Reuses the connections people already have: ``snowflake``, ``redshift``,
    ``google_cloud_platform`` (BigQuery), ``postgres``, ``sqlite``, ``duckdb``, ``mysql`` or
    ``omingest_sqlalchemy`` (any SQLAlchemy URL). Credentials stay inside the
    hook: they are never logged and never returned.

    :param source_conn_id: the Airflow connection of the warehouse.
    """

    conn_name_attr = "source_conn_id"
    default_conn_name = "omingest_source"
    conn_type = "omingest_sqlalchemy"
    hook_name = "omingest SQLAlchemy database"

    def __init__(self, source_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_conn_id = source_conn_id

    @cached_property
    def connection(self) -> Connection:
        """Return the Airflow connection (read once)."""
        return self.get_connection(self.source_conn_id)

    def get_source(self) -> Source:
        """Return a new, unopened source for the connection (one connection per call)."""
        builder = SOURCE_BUILDERS.get((self.connection.conn_type or "").lower())
        if builder:
            import importlib

            module, func = builder.split(":")
            return getattr(importlib.import_module(module), func)(self.connection)
        from airflow_provider_omingest.sources.base import timeout_seconds
        from airflow_provider_omingest.sources.sql.source import (
            DEFAULT_LOCK_TIMEOUT,
            DEFAULT_STATEMENT_TIMEOUT,
            SqlAlchemySource,
        )

        extra = self.connection.extra_dejson or {}
        engine_kwargs = {}
        if (self.connection.conn_type or "").lower() == "duckdb" and extra.get("read_only", True) is not False:
            # A DuckDB file admits one read-write process *or* many read-only ones: parallel
            # extract tasks (a process each) must open it read-only. Extra read_only=false opts out.
            engine_kwargs["connect_args"] = {"read_only": True}
        return SqlAlchemySource(
            sqlalchemy_url(self.connection), database_name=extra.get("database_name"), engine_kwargs=engine_kwargs,
            digest_connections=int_extra("digest_connections", extra.get("digest_connections"), 2),
            statement_timeout=timeout_seconds("extra statement_timeout", extra.get("statement_timeout"),
                                              DEFAULT_STATEMENT_TIMEOUT),
            lock_timeout=timeout_seconds("extra lock_timeout", extra.get("lock_timeout"), DEFAULT_LOCK_TIMEOUT),
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

