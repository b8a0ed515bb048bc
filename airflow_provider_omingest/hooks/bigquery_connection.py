"""Build a :class:`~airflow_provider_omingest.sources.bigquery.source.BigQuerySource` from a ``google_cloud_platform`` connection.

Reads the connection the way the official Google provider stores it, without depending on
it: the extras listed in ``docs/bigquery.md`` (the provider's, and omingest's own), each also
under the legacy ``extra__google_cloud_platform__`` prefix.

Credentials never leave this module: they are not logged and not put in error messages.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_provider_omingest.exceptions import ConfigError, MissingDependency
from airflow_provider_omingest.hooks.base import Extras

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_omingest.sources.bigquery.source import BigQuerySource

__all__ = ["DEFAULT_SCOPES", "source_from_connection"]

DEFAULT_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

_KEY_FIELDS = ("key_path", "keyfile_dict", "credential_config_file", "key_secret_name")


def source_from_connection(conn: Connection, extras: Extras | None = None) -> BigQuerySource:
    """Return a BigQuery source for an Airflow ``google_cloud_platform`` connection.

    :param conn: the connection.
    :param extras: the reader of the connection's extras (default: a new one).
    :raises ConfigError: for contradictory or malformed extras (the message names the connection and the extra).
    :raises MissingDependency: when ``google-cloud-bigquery`` is not installed.
    """
    from airflow_provider_omingest.sources.bigquery.source import DEFAULT_STATEMENT_TIMEOUT, BigQuerySource

    extras = extras or Extras(conn)
    credentials, key_project = _credentials(extras)
    project = extras.text("project") or key_project
    projects = list(extras.names("projects")) or ([project] if project else [])
    return BigQuerySource(
        projects,
        billing_project=project or (projects[0] if projects else None),
        credentials=credentials,
        location=extras.text("location"),
        api_endpoint=extras.text("api_endpoint"),
        logging_api_endpoint=extras.text("logging_api_endpoint"),
        request_timeout=extras.seconds("request_timeout", 60.0, positive=True),
        retry_deadline=extras.seconds("retry_deadline", 120.0, positive=True),
        statement_timeout=extras.seconds("statement_timeout", DEFAULT_STATEMENT_TIMEOUT),
    )


def _credentials(extras: Extras) -> tuple[Any, str | None]:
    """Return (credentials or None for application default credentials, project of the key)."""
    given = [k for k in _KEY_FIELDS if extras.has(k)]
    if len(given) > 1:
        raise ConfigError(f"connection {extras.conn_id!r} extras", ", ".join(given),
                          "these are mutually exclusive. Please remove all but one.")
    anonymous = extras.boolean("is_anonymous", False)
    if anonymous and given:
        raise ConfigError(extras.setting("is_anonymous"), True,
                          f"is_anonymous cannot be combined with {given[0]}. Please remove one.")
    try:
        import google.auth
        from google.auth import credentials as auth_credentials
    except ImportError as e:
        raise MissingDependency(f"google-auth ({e})", "bigquery") from e
    if anonymous:
        return auth_credentials.AnonymousCredentials(), None
    scopes = list(extras.names("scope")) or list(DEFAULT_SCOPES)
    credentials, project = _load_key(extras, given[0] if given else None, scopes)
    chain = list(extras.names("impersonation_chain"))
    if chain and credentials is None:
        credentials, project = google.auth.default(scopes=scopes)
    if chain:
        from google.auth import impersonated_credentials

        credentials = impersonated_credentials.Credentials(
            source_credentials=credentials, target_principal=chain[-1], delegates=chain[:-1] or None,
            target_scopes=scopes,
        )
    return credentials, project


def _load_key(extras: Extras, field: str | None, scopes: list[str]) -> tuple[Any, str | None]:
    import google.auth

    if field is None:
        return None, None  # application default credentials, resolved by the client
    setting = extras.setting(field)
    if field == "key_secret_name":
        raise ConfigError(setting, "<hidden>", "keys in Secret Manager are not read by this provider; "
                          "use key_path, keyfile_dict or application default credentials")
    value = extras.raw(field)
    try:
        if _looks_like_json(value):
            info = value if isinstance(value, dict) else json.loads(value)
        else:
            with open(str(value), encoding="utf-8") as f:
                info = json.load(f)
        if field == "credential_config_file":
            # Workload identity federation: an external_account configuration, not a key.
            return google.auth.load_credentials_from_dict(info, scopes=scopes)
        return _key_credentials(info, scopes)
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse or key error becomes one ConfigError
        # Never echo the key material: only its kind and the error's type.
        raise ConfigError(setting, "<hidden>", f"could not load credentials ({type(e).__name__})") from None


def _key_credentials(info: dict[str, Any], scopes: list[str]) -> tuple[Any, str | None]:
    """Load a service account or authorized user key by its type (never an arbitrary credential type)."""
    kind = info.get("type")
    if kind == "service_account":
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_info(info, scopes=scopes), info.get("project_id")
    if kind == "authorized_user":
        from google.oauth2 import credentials as user_credentials

        return user_credentials.Credentials.from_authorized_user_info(info, scopes=scopes), info.get(
            "quota_project_id")
    raise ValueError(f"unsupported key type {kind!r}")


def _looks_like_json(value: Any) -> bool:
    return isinstance(value, dict) or (isinstance(value, str) and value.lstrip().startswith("{"))
