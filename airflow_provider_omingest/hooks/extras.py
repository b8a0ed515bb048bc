"""Read typed values from a connection's extras, with an error that names the extra and the value."""

from __future__ import annotations

from typing import Any

from airflow_provider_omingest.exceptions import ConfigError

__all__ = ["boolean_extra", "int_extra"]


def int_extra(setting: str, value: Any, default: int | None = None) -> int | None:
    """Return ``value`` as an integer, ``default`` when it is unset.

    :raises ConfigError: naming ``extra <setting>`` and the value, when it is not a whole number.
    """
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"extra {setting}", value, "expected a whole number") from None


def boolean_extra(setting: str, value: Any, default: bool | None) -> Any:
    """Return ``value`` as a boolean (true/false, 1/0, yes/no, on/off), ``default`` when it is unset.

    :raises ConfigError: naming ``extra <setting>`` and the value, when it is none of those.
    """
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "on"):
        return True
    if text in ("false", "0", "no", "n", "off"):
        return False
    raise ConfigError(f"extra {setting}", value, "expected true or false")
