"""Snowflake: ``source`` (connection, bulk reads, ``ACCOUNT_USAGE`` changes), ``mapping`` (rows to entities).

``snowflake-connector-python`` is imported when a connection opens, never here.
"""

from __future__ import annotations

from airflow_provider_omingest.sources.snowflake.source import SnowflakeConfig, SnowflakeSource

__all__ = ["SnowflakeConfig", "SnowflakeSource"]
