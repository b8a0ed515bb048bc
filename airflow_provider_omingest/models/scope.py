"""A run restricted to some schemas, e.g. the schemas an upstream Asset event says it changed.

An Asset event's ``extra`` names schemas in one of two shapes (the namespaced one wins when
both are there)::

    {"schemas": ["analytics.marts", "staging"]}
    {"omingest": {"schemas": ["analytics.marts", "staging"]}}

Each entry is ``"database.schema"`` (parts quoted like fully qualified names when they hold a
dot: ``'"my.db".marts'``) or a bare ``"schema"``, meaning that schema in every database. An
event without either key restricts nothing: the run covers its whole scope. Anything else —
``schemas`` not a list, an entry that is not a non-empty string, a name with more than two
parts — is refused with a :class:`~airflow_provider_omingest.exceptions.ConfigError` naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.models.fqn import build_fqn, split_fqn

__all__ = ["EVENT_SCHEMAS_KEY", "SchemaScope", "scope_from_event_extras"]

#: The key of an Asset event's ``extra`` that names schemas (top level, or under ``"omingest"``).
EVENT_SCHEMAS_KEY = "schemas"


class SchemaScope(BaseModel):
    """The schemas a run is restricted to: ``(database, schema)`` pairs; database None means any."""

    model_config = ConfigDict(frozen=True)

    schemas: tuple[tuple[str | None, str], ...]

    def keeps(self, database: str, schema: str) -> bool:
        """Return whether ``database.schema`` is inside the restriction."""
        return any(s == schema and (db is None or db == database) for db, s in self.schemas)

    def restrict(self, by_database: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """Return ``database -> schema -> value`` keeping only the schemas inside; every database stays."""
        return {db: {s: v for s, v in schemas.items() if self.keeps(db, s)} for db, schemas in by_database.items()}

    def names(self) -> list[str]:
        """Return the restriction as ``database.schema`` (or bare ``schema``) names, sorted."""
        return sorted(s if db is None else build_fqn(db, s) for db, s in self.schemas)


def parse_schema_name(value: Any, setting: str) -> tuple[str | None, str]:
    """Return ``(database or None, schema)`` from ``"database.schema"`` or ``"schema"``.

    :raises ConfigError: naming ``setting`` and the value when it is not such a name.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(setting, value, 'expected a schema name, "database.schema" or "schema"')
    try:
        parts = split_fqn(value)
    except ValueError as e:
        raise ConfigError(setting, value, f'expected "database.schema" or "schema" ({e})') from None
    if len(parts) == 1:
        return None, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ConfigError(setting, value, 'expected "database.schema" or "schema"; quote a part that holds a dot: '
                                      '\'"my.db".schema\'')


def _event_schemas(extra: Any, where: str) -> list[tuple[str | None, str]] | None:
    """Return the schemas one event's ``extra`` names, or None when it names none."""
    if not isinstance(extra, Mapping):
        return None
    holder: Any = extra
    key = EVENT_SCHEMAS_KEY
    if "omingest" in extra:
        holder = extra["omingest"]
        if not isinstance(holder, Mapping):
            raise ConfigError(f"{where}.omingest", holder, f'expected an object, e.g. {{"{key}": ["db.schema"]}}')
        where = f"{where}.omingest"
        if key not in holder:
            holder = extra  # fall back to the top level
            where = where.rsplit(".", 1)[0]
    if key not in holder:
        return None
    values = holder[key]
    if not isinstance(values, list):
        raise ConfigError(f"{where}.{key}", values, 'expected a list of "database.schema" or "schema" names')
    return [parse_schema_name(v, f"{where}.{key}[{i}]") for i, v in enumerate(values)]


def scope_from_event_extras(extras: Iterable[Any]) -> SchemaScope | None:
    """Return the union of the schemas named by Asset events' extras, or None for the whole scope.

    None when there is no event, or when any event names no schemas (it restricts nothing,
    so the run must cover everything). An empty ``schemas`` list names no schema: the run
    touches nothing.

    :param extras: each triggering event's ``extra``.
    :raises ConfigError: naming the event and the bad value.
    """
    found: set[tuple[str | None, str]] = set()
    seen = False
    for i, extra in enumerate(extras):
        seen = True
        schemas = _event_schemas(extra, f"asset_event[{i}].extra")
        if schemas is None:
            return None
        found.update(schemas)
    if not seen:
        return None
    return SchemaScope(schemas=tuple(sorted(found, key=lambda p: (p[0] or "", p[1]))))
