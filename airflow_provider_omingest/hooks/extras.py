"""Read typed values from a connection's extras, with an error that names the extra and the value.

The vocabulary is :mod:`airflow_provider_omingest.parsing`'s, the same as everywhere else.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_omingest.parsing import as_bool, as_int

__all__ = ["boolean_extra", "int_extra"]


def int_extra(setting: str, value: Any, default: int | None = None) -> int | None:
    """Return ``value`` as an integer, ``default`` when it is unset.

    :raises ConfigError: naming ``extra <setting>`` and the value, when it is not a whole number.
    """
    return as_int(value, f"extra {setting}", default)


def boolean_extra(setting: str, value: Any, default: bool | None) -> Any:
    """Return ``value`` as a boolean (true/false, 1/0, yes/no, on/off), ``default`` when it is unset.

    :raises ConfigError: naming ``extra <setting>`` and the value, when it is none of those.
    """
    return as_bool(value, f"extra {setting}", default)
