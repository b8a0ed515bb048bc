"""Build a :class:`~airflow_provider_omingest.sources.bigquery.source.BigQuerySource` from a ``google_cloud_platform`` connection.

Reads the connection the way the official Google provider stores it, without depending on
it. Every extra may be given plain or with the legacy ``extra__google_cloud_platform__`` prefix:

- ``project``: the project (billing project, and the project read unless ``projects`` is set);
- ``key_path``: path of a JSON key file; ``keyfile_dict``: the key's JSON (string or object);
  ``credential_config_file``: a workload identity federation file (path or JSON);
  ``is_anonymous``: no credentials (emulators); none of them: application default credentials;
- ``scope``: comma-separated OAuth scopes (default ``cloud-platform``);
- ``impersonation_chain``: a service account (or comma-separated chain) to impersonate.

Our own extras: ``projects`` (list or comma-separated: the projects to read), ``location``
(default location of the metadata queries), ``api_endpoint`` and ``logging_api_endpoint``
(private endpoints, test stand-ins), ``request_timeout`` and ``retry_deadline`` (seconds).

Credentials never leave this module: they are not logged and not put in error messages.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_omingest.exceptions import ConfigError, MissingDependency

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_omingest.sources.bigquery.source import BigQuerySource

__all__ = ["DEFAULT_SCOPES", "LEGACY_PREFIX", "read_extras", "source_from_connection"]

log = logging.getLogger(__name__)

LEGACY_PREFIX = "extra__google_cloud_platform__"
DEFAULT_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

_KEY_FIELDS = ("key_path", "keyfile_dict", "credential_config_file", "key_secret_name")


def read_extras(conn: Connection) -> dict[str, Any]:
    """Return the connection's extras with the legacy prefix removed (plain keys win).

    :param conn: a ``google_cloud_platform`` connection.
    """
    raw: dict[str, Any] = dict(conn.extra_dejson or {})
    extras: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith(LEGACY_PREFIX):
            plain = key[len(LEGACY_PREFIX):]
            if plain in raw and raw[plain] not in (None, ""):
                log.warning("Connection %s sets both %s and %s; using %s.", conn.conn_id, plain, key, plain)
                continue
            extras[plain] = value
        else:
            extras[key] = value
    return {k: v for k, v in extras.items() if v not in (None, "")}


def source_from_connection(conn: Connection) -> BigQuerySource:
    """Return a BigQuery source for an Airflow ``google_cloud_platform`` connection.

    :param conn: the connection.
    :raises ConfigError: for contradictory or malformed extras (the message names the extra).
    :raises MissingDependency: when ``google-cloud-bigquery`` is not installed.
    """
    from airflow_provider_omingest.sources.bigquery.source import BigQuerySource

    extras = read_extras(conn)
    credentials, key_project = _credentials(conn, extras)
    project = extras.get("project") or key_project
    projects = _list(extras.get("projects"), f"connection {conn.conn_id!r} extra projects") or (
        [project] if project else []
    )
    return BigQuerySource(
        projects,
        billing_project=project or (projects[0] if projects else None),
        credentials=credentials,
        location=extras.get("location"),
        api_endpoint=extras.get("api_endpoint"),
        logging_api_endpoint=extras.get("logging_api_endpoint"),
        request_timeout=_seconds(extras, "request_timeout", 60.0, conn),
        retry_deadline=_seconds(extras, "retry_deadline", 120.0, conn),
    )


def _credentials(conn: Connection, extras: dict[str, Any]) -> tuple[Any, str | None]:
    """Return (credentials or None for application default credentials, project of the key)."""
    given = [k for k in _KEY_FIELDS if k in extras]
    if len(given) > 1:
        raise ConfigError(f"connection {conn.conn_id!r} extras", ", ".join(given),
                          "these are mutually exclusive. Please remove all but one.")
    anonymous = str(extras.get("is_anonymous", "")).lower() in ("true", "1", "yes")
    if anonymous and given:
        raise ConfigError(f"connection {conn.conn_id!r} extra is_anonymous", True,
                          f"is_anonymous cannot be combined with {given[0]}. Please remove one.")
    try:
        import google.auth
        from google.auth import credentials as auth_credentials
    except ImportError as e:
        raise MissingDependency(f"google-auth ({e})", "bigquery") from e
    if anonymous:
        return auth_credentials.AnonymousCredentials(), None
    scopes = _list(extras.get("scope"), f"connection {conn.conn_id!r} extra scope") or list(DEFAULT_SCOPES)
    credentials, project = _load_key(conn, extras, given[0] if given else None, scopes)
    chain = _list(extras.get("impersonation_chain"), f"connection {conn.conn_id!r} extra impersonation_chain")
    if chain and credentials is None:
        credentials, project = google.auth.default(scopes=scopes)
    if chain:
        from google.auth import impersonated_credentials

        credentials = impersonated_credentials.Credentials(
            source_credentials=credentials, target_principal=chain[-1], delegates=chain[:-1] or None,
            target_scopes=scopes,
        )
    return credentials, project


def _load_key(conn: Connection, extras: dict[str, Any], field: str | None, scopes: list[str]) -> tuple[Any, str | None]:
    import google.auth

    setting = f"connection {conn.conn_id!r} extra {field}"
    if field is None:
        return None, None  # application default credentials, resolved by the client
    if field == "key_secret_name":
        raise ConfigError(setting, "<hidden>", "keys in Secret Manager are not read by this provider; "
                          "use key_path, keyfile_dict or application default credentials")
    value = extras[field]
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


def _list(value: Any, setting: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as e:
                raise ConfigError(setting, value, "not a JSON list nor a comma-separated list") from e
        else:
            return [p.strip() for p in text.split(",") if p.strip()]
    if isinstance(value, (list, tuple)):
        return [str(p).strip() for p in value if str(p).strip()]
    raise ConfigError(setting, value, "expected a list or a comma-separated string")


def _seconds(extras: dict[str, Any], name: str, default: float, conn: Connection) -> float:
    value = extras.get(name, default)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"connection {conn.conn_id!r} extra {name}", value, "expected a number of seconds") from None
    if seconds <= 0:
        raise ConfigError(f"connection {conn.conn_id!r} extra {name}", value, "must be positive")
    return seconds
