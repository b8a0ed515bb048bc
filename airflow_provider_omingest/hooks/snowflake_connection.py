"""Build a :class:`~airflow_provider_omingest.sources.snowflake.source.SnowflakeSource` from an Airflow connection.

Reads a standard ``snowflake`` connection the way the official Snowflake provider stores it,
without depending on that provider: ``login`` (user), ``password`` (password, or the
passphrase of an encrypted private key), ``schema``, and the extras listed in
``docs/snowflake.md`` (the connector's, and omingest's own ``omingest_*`` and
``statement_timeout``), each also under the legacy ``extra__snowflake__`` prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.hooks.base import Extras

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_omingest.sources.snowflake.source import SnowflakeConfig, SnowflakeSource

__all__ = ["source_from_connection"]


def source_from_connection(conn: Connection, extras: Extras | None = None) -> SnowflakeSource:
    """Return an unopened Snowflake source for a ``snowflake`` connection.

    :param conn: the Airflow connection.
    :param extras: the reader of the connection's extras (default: a new one).
    :raises ConfigError: naming the connection and the extra, for a missing account, conflicting key
        settings or a malformed extra.
    """
    from airflow_provider_omingest.sources.snowflake.source import DEFAULT_ACCOUNT_USAGE, SnowflakeSource

    extras = extras or Extras(conn)
    return SnowflakeSource(
        _config(conn, extras),
        account_usage=extras.text("omingest_account_usage", DEFAULT_ACCOUNT_USAGE),
        include_tags=extras.boolean("omingest_include_tags", True),
        include_constraints=extras.boolean("omingest_include_constraints", True),
        rescan_altered_schemas=extras.boolean("omingest_rescan_altered_schemas", True),
        exclude_databases=extras.names("omingest_exclude_databases", ("SNOWFLAKE",)),
        include_object_ids=extras.boolean("omingest_include_object_ids", True),
    )


def _config(conn: Connection, extras: Extras) -> SnowflakeConfig:
    from airflow_provider_omingest.sources.snowflake.source import SnowflakeConfig

    fields = {
        "account": extras.text("account", ""),
        "private_key_file": extras.text("private_key_file"),
        "private_key_content": extras.text("private_key_content"),
        "role": extras.text("role"),
        "warehouse": extras.text("warehouse"),
        "database": extras.text("database"),
        "region": extras.text("region"),
        "authenticator": extras.text("authenticator"),
        "token": extras.text("token"),
        "insecure_mode": extras.boolean("insecure_mode", False),
        "ocsp_fail_open": extras.boolean("ocsp_fail_open"),
        "session_parameters": extras.mapping("session_parameters") or None,
        "host": extras.text("host"),
        "port": extras.integer("port"),
        "protocol": extras.text("protocol"),
        "login_timeout": extras.integer("login_timeout"),
        "network_timeout": extras.integer("network_timeout"),
        "statement_timeout": extras.seconds("statement_timeout"),
    }
    try:
        return SnowflakeConfig(user=conn.login or None, password=conn.password or None,
                               schema=conn.schema or None, **fields)
    except ConfigError as e:  # the config names its field, which is the connection's extra of that name
        raise ConfigError(extras.setting(e.setting), e.value, e.problem) from None
