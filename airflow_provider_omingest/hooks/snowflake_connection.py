"""Build a :class:`~airflow_provider_omingest.sources.snowflake.source.SnowflakeSource` from an Airflow connection.

Reads a standard ``snowflake`` connection the way the official Snowflake provider stores it,
without depending on that provider: ``login`` (user), ``password`` (password, or the
passphrase of an encrypted private key), ``schema``, and in extras ``account``,
``warehouse``, ``database``, ``region``, ``role``, ``private_key_file``,
``private_key_content``, ``insecure_mode``, ``authenticator``, ``session_parameters``,
``host``, ``port``, ``ocsp_fail_open`` (each also under the legacy ``extra__snowflake__``
prefix). omingest's own settings are extras too:

- ``omingest_account_usage``: where the account usage views are (default ``SNOWFLAKE.ACCOUNT_USAGE``);
- ``omingest_include_tags``: read tags from ``TAG_REFERENCES`` (default true);
- ``omingest_include_constraints``: read primary, unique and foreign keys (default true);
- ``omingest_rescan_altered_schemas``: see :class:`~airflow_provider_omingest.sources.snowflake.source.SnowflakeSource`
  (default true);
- ``omingest_exclude_databases``: list of databases never listed (default ``["SNOWFLAKE"]``).
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

from airflow_provider_omingest.hooks.extras import boolean_extra, int_extra

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_omingest.sources.snowflake.source import SnowflakeSource

__all__ = ["source_from_connection"]

log = logging.getLogger(__name__)

_PREFIX = "extra__snowflake__"


def source_from_connection(conn: Connection) -> SnowflakeSource:
    """Return an unopened Snowflake source for a ``snowflake`` connection.

    :param conn: the Airflow connection.
    :raises ConfigError: naming the field, for a missing account or conflicting key settings.
    """
    from airflow_provider_omingest.sources.snowflake.source import (
        DEFAULT_ACCOUNT_USAGE,
        SnowflakeConfig,
        SnowflakeSource,
    )

    extra: dict[str, Any] = conn.extra_dejson or {}
    config = SnowflakeConfig(
        account=_field(extra, "account") or "",
        user=conn.login or None,
        password=conn.password or None,
        private_key_file=_field(extra, "private_key_file"),
        private_key_content=_field(extra, "private_key_content"),
        role=_field(extra, "role"),
        warehouse=_field(extra, "warehouse"),
        database=_field(extra, "database"),
        schema=conn.schema or None,
        region=_field(extra, "region"),
        authenticator=extra.get("authenticator") or None,
        token=extra.get("token") or None,
        insecure_mode=boolean_extra("insecure_mode", _field(extra, "insecure_mode"), False),
        ocsp_fail_open=boolean_extra("ocsp_fail_open", extra.get("ocsp_fail_open"), None),
        session_parameters=extra.get("session_parameters") or None,
        host=extra.get("host") or None,
        port=_port(extra.get("port")),
        protocol=extra.get("protocol") or None,
        login_timeout=int_extra("login_timeout", extra.get("login_timeout")),
        network_timeout=int_extra("network_timeout", extra.get("network_timeout")),
    )
    exclude = extra.get("omingest_exclude_databases", ["SNOWFLAKE"])
    if isinstance(exclude, str):
        exclude = [d.strip() for d in exclude.split(",") if d.strip()]
    return SnowflakeSource(
        config,
        account_usage=extra.get("omingest_account_usage") or DEFAULT_ACCOUNT_USAGE,
        include_tags=boolean_extra("omingest_include_tags", extra.get("omingest_include_tags"), True),
        include_constraints=boolean_extra(
            "omingest_include_constraints", extra.get("omingest_include_constraints"), True
        ),
        rescan_altered_schemas=boolean_extra(
            "omingest_rescan_altered_schemas", extra.get("omingest_rescan_altered_schemas"), True
        ),
        exclude_databases=tuple(exclude),
    )


def _field(extra: dict[str, Any], name: str) -> Any:
    """Return extra ``name`` or its legacy ``extra__snowflake__`` form (the plain key wins)."""
    legacy = f"{_PREFIX}{name}"
    if name in extra:
        if legacy in extra:
            warnings.warn(
                f"Conflicting extras {name!r} and {legacy!r}: using {name!r}. Remove {legacy!r}.",
                UserWarning,
                stacklevel=3,
            )
        return extra[name] or None
    return extra.get(legacy) or None


def _port(value: Any) -> int | None:
    return int_extra("port", value)
