"""Parse settings that arrive as text (rendered templates, connection extras, CLI options, params).

One vocabulary everywhere: booleans are ``true/false, 1/0, yes/no, on/off`` (any case) and
nothing else; durations are a :class:`~datetime.timedelta`, seconds, or text such as ``"90s"``,
``"30m"``, ``"3h"``, ``"1d"``. Every error names the setting, the value and what is expected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, TypeVar

from airflow_provider_omingest.exceptions import ConfigError

__all__ = ["DURATION_PATTERN", "UNSET_TEXTS", "as_bool", "as_choice", "as_duration", "as_int", "is_unset"]

T = TypeVar("T")

#: Texts that mean "not set" when a template renders an empty or null value.
UNSET_TEXTS = frozenset({"", "none", "null"})

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def is_unset(value: Any) -> bool:
    """Return whether ``value`` is None or a text meaning "not set" (``""``, ``"None"``, ``"null"``)."""
    return value is None or (isinstance(value, str) and value.strip().lower() in UNSET_TEXTS)


def as_bool(value: Any, setting: str, default: bool | None = None) -> bool | None:
    """Return ``value`` as a boolean; ``default`` when it is unset.

    :raises ConfigError: when the value is not one of the boolean words.
    """
    if isinstance(value, bool):
        return value
    if is_unset(value):
        return default
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(setting, value, "expected true or false (also 1/0, yes/no, on/off)")


def as_int(value: Any, setting: str, default: int | None = None, *, minimum: int | None = None) -> int | None:
    """Return ``value`` as a whole number; ``default`` when it is unset.

    :raises ConfigError: when it is not a whole number, or below ``minimum``.
    """
    if is_unset(value):
        return default
    if isinstance(value, bool):
        raise ConfigError(setting, value, "expected a whole number")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ConfigError(setting, value, "expected a whole number") from None
    if minimum is not None and number < minimum:
        raise ConfigError(setting, value, f"must be at least {minimum}")
    return number


def as_duration(value: Any, setting: str) -> timedelta:
    """Return a duration given as a timedelta, seconds, or text such as ``"3h"``, ``"90m"``, ``"1d"``.

    :raises ConfigError: for anything else, or a negative duration.
    """
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        duration = timedelta(seconds=value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConfigError(setting, value, "expected a duration such as '90s', '30m', '3h', '1d' or seconds")
        duration = timedelta(seconds=float(match.group(1)) * _SECONDS[match.group(2).lower()])
    if duration < timedelta(0):
        raise ConfigError(setting, value, "must not be negative")
    return duration


def as_choice(value: Any, setting: str, choices: Iterable[T]) -> T:
    """Return ``value`` if it is one of ``choices`` (compared as lower-case text).

    :raises ConfigError: listing the choices.
    """
    allowed = list(choices)
    text = str(value).strip().lower()
    for choice in allowed:
        if str(choice) == text:
            return choice
    raise ConfigError(setting, value, f"expected one of {', '.join(map(str, allowed))}")


#: The regular expression a duration must match, for JSON Schemas (e.g. DAG params).
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*[smhdSMHD]?\s*$"
