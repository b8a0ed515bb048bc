"""What every omingest hook shares: the connection id, the connection read once, one extras reader.

The connection id is taken the way ``DbApiHook.__init__`` takes it: the first positional
argument, or the keyword named by ``conn_name_attr``, or ``default_conn_name``. Extras are read
through :class:`Extras`, whose errors name the connection and the extra, with the parsing
vocabulary of :mod:`airflow_provider_omingest.parsing`; a key under the legacy
``extra__<conn_type>__`` prefix is read when the plain key is absent. Credentials are never logged
or returned.
"""

from __future__ import annotations

import json
import math
import warnings
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseHook

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.parsing import as_bool, as_duration, as_int, is_unset

if TYPE_CHECKING:
    from airflow.sdk import Connection

__all__ = ["Extras", "OmingestHook"]


class Extras:
    """Typed reads of one connection's extras; every error names the connection, the extra and the value.

    A name is looked up plain, then under the legacy prefix ``extra__<conn_type>__`` (how Airflow 2
    forms stored custom fields); when both keys are present the plain one wins, with a warning —
    the rule of Airflow's providers (``get_field`` in the Azure provider's ``utils.py``,
    ``SnowflakeHook._get_field``). Records the names it was asked for (:attr:`read`), so a test can
    check that every extra a builder reads is declared (``conn-fields`` in the provider info, or
    the docs' tables).

    :param conn: the Airflow connection.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn_id = conn.conn_id
        self.values: dict[str, Any] = dict(conn.extra_dejson or {})
        conn_type = (conn.conn_type or "").lower()
        self.legacy_prefix = f"extra__{conn_type}__" if conn_type else None
        self.read: set[str] = set()

    def setting(self, name: str) -> str:
        """Return how errors name extra ``name``."""
        return f"connection {self.conn_id!r} extra {name}"

    def raw(self, name: str, default: Any = None) -> Any:
        """Return the extra as stored (``default`` when absent or empty)."""
        self.read.add(name)
        legacy = f"{self.legacy_prefix}{name}" if self.legacy_prefix else None
        if name in self.values:
            if legacy in self.values:
                warnings.warn(f"Conflicting extras {name!r} and {legacy!r} in connection {self.conn_id!r}: "
                              f"using {name!r}. Remove {legacy!r}.", UserWarning, stacklevel=3)
            value = self.values[name]
        else:
            value = self.values.get(legacy) if legacy else None
        return default if value is None or value == "" else value

    def has(self, name: str) -> bool:
        """Return whether the extra is set (present and not empty)."""
        return self.raw(name) is not None

    def text(self, name: str, default: str | None = None) -> str | None:
        """Return the extra as text."""
        value = self.raw(name)
        return default if value is None else str(value)

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        """Return the extra as a boolean (true/false, 1/0, yes/no, on/off)."""
        return as_bool(self.raw(name), self.setting(name), default)

    def integer(self, name: str, default: int | None = None, *, minimum: int | None = None) -> int | None:
        """Return the extra as a whole number."""
        return as_int(self.raw(name), self.setting(name), default, minimum=minimum)

    def number(self, name: str, default: float | None = None, *, minimum: float = 0.0) -> float | None:
        """Return the extra as a number (at least ``minimum``)."""
        value = self.raw(name)
        if is_unset(value):
            return default
        number = self._float(name, value, "expected a number")
        if number < minimum:
            raise ConfigError(self.setting(name), value, f"expected a number >= {minimum}")
        return number

    def seconds(self, name: str, default: float | None = None, *, positive: bool = False) -> float | None:
        """Return the extra as a number of seconds: 0 means no limit, unless ``positive`` (then 0 is refused)."""
        value = self.raw(name)
        if is_unset(value):
            return default
        expected = ("expected a number of seconds > 0" if positive
                    else "expected a number of seconds >= 0 (0 for no limit)")
        seconds = self._float(name, value, expected)
        if seconds < 0 or (positive and seconds == 0):
            raise ConfigError(self.setting(name), value, expected)
        return seconds

    def duration(self, name: str, default: timedelta | None = None) -> timedelta | None:
        """Return the extra as a duration (seconds, or text such as ``"30s"``, ``"5m"``)."""
        value = self.raw(name)
        return default if is_unset(value) else as_duration(value, self.setting(name))

    def names(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Return the extra as a list of names (a JSON list, as a list or as text, or text separated by commas)."""
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, str) and value.lstrip().startswith("["):
            value = self._json(name, value, "expected a JSON list or names separated by commas")
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(v.strip() for v in value if v.strip())
        raise ConfigError(self.setting(name), value, "expected a list of names")

    def mapping(self, name: str) -> dict[str, Any] | None:
        """Return the extra as a mapping: a JSON object, as an object or as text."""
        value = self.raw(name)
        expected = 'expected a JSON object such as {"NAME": "value"}'
        if isinstance(value, str):
            value = self._json(name, value, expected)
        if value is None or isinstance(value, dict):
            return value
        raise ConfigError(self.setting(name), value, expected)

    def _float(self, name: str, value: Any, expected: str) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(self.setting(name), value, expected) from None
        if not math.isfinite(number):
            raise ConfigError(self.setting(name), value, expected)
        return number

    def _json(self, name: str, value: str, expected: str) -> Any:
        try:
            return json.loads(value)
        except ValueError:
            raise ConfigError(self.setting(name), value, expected) from None


class OmingestHook(BaseHook):
    """Base of the omingest hooks: the connection id, the connection read once, its extras.

    :param conn_id: the Airflow connection (also accepted as the keyword ``conn_name_attr`` names).
    """

    conn_name_attr: ClassVar[str] = "conn_id"
    default_conn_name: ClassVar[str] = "omingest_default"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args:
            conn_id = args[0]
        elif self.conn_name_attr in kwargs:
            conn_id = kwargs.pop(self.conn_name_attr)
        else:
            conn_id = self.default_conn_name
        super().__init__(**{k: v for k, v in kwargs.items() if k == "logger_name"})
        setattr(self, self.conn_name_attr, conn_id)

    @property
    def conn_id(self) -> str:
        """Return the connection id."""
        return getattr(self, self.conn_name_attr)

    @cached_property
    def connection(self) -> Connection:
        """Return the Airflow connection (read once)."""
        return self.get_connection(self.conn_id)

    @cached_property
    def extras(self) -> Extras:
        """Return the connection's extras reader."""
        return Extras(self.connection)

    @property
    def conn_type_name(self) -> str:
        """Return the connection's type, lower case."""
        return (self.connection.conn_type or "").lower()
