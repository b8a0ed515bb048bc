"""Typed settings of an ingestion: filters, concurrency, deletion safety.

:class:`IngestionSettings` is the single source of these settings: the DAG factory takes its
fields as keyword arguments, the operators take it (or a dict of its fields), the command line
builds it. Validated at construction (so at DAG parse time when built by the DAG factory);
unknown keys are refused at every level, and every error names the setting, the bad value and
the fix (:func:`ingestion_settings`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.parsing import as_duration

__all__ = ["DEFAULT_MAX_DELETE_FRACTION", "FilterPattern", "Filters", "IngestionSettings", "ingestion_settings"]

#: Default fail-safe threshold: a run may soft-delete at most this share of the tables in scope.
#: Amundsen uses 5 % (routine clean-ups of one schema trip it); DataHub 75 % (losing read access
#: to most of a warehouse still goes through). 20 % lets ordinary churn through and stops the
#: failure modes seen in the field (a revoked grant, a wrong filter, an empty listing).
DEFAULT_MAX_DELETE_FRACTION = 0.2

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\- ]+$")


class FilterPattern(BaseModel):
    """Include/exclude regular expressions for one level (database, schema or table).

    A name is kept when it matches at least one ``include`` pattern (or ``include`` is empty)
    and no ``exclude`` pattern. Patterns use :func:`re.match` semantics, anchored at the start.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def compiled(self, level: str) -> tuple[list[re.Pattern[str]], list[re.Pattern[str]]]:
        """Compile the patterns, raising :class:`ConfigError` naming the bad one."""
        return (
            [_compile(f"{level}_filter.include", p) for p in self.include],
            [_compile(f"{level}_filter.exclude", p) for p in self.exclude],
        )


def _compile(setting: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ConfigError(setting, pattern, f"not a valid regular expression ({e})") from e


class Filters(BaseModel):
    """Filters for databases, schemas and tables."""

    database: FilterPattern = FilterPattern()
    schema_: FilterPattern = Field(FilterPattern(), alias="schema")
    table: FilterPattern = FilterPattern()

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    def model_post_init(self, __context: object) -> None:
        # Compile once now so that a bad pattern fails at construction (DAG parse time).
        self._matchers  # noqa: B018

    @cached_property
    def _matchers(self) -> dict[str, tuple[list[re.Pattern[str]], list[re.Pattern[str]]]]:
        return {
            "database": self.database.compiled("database"),
            "schema": self.schema_.compiled("schema"),
            "table": self.table.compiled("table"),
        }

    def keeps(self, level: str, name: str) -> bool:
        """Return whether ``name`` at ``level`` ('database', 'schema', 'table') passes the filter."""
        include, exclude = self._matchers[level]
        if include and not any(p.match(name) for p in include):
            return False
        return not any(p.match(name) for p in exclude)


class IngestionSettings(BaseModel):
    """Everything that shapes one ingestion besides its connections."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str = Field(description="Service name: the first part of every fully qualified name.")
    filters: Filters = Field(
        Filters(), description='Include/exclude regex lists per level, e.g. {"schema": {"exclude": ["^tmp_"]}}.'
    )
    threads: int = Field(4, description="Work units extracted at once (one source connection each).")
    tables_per_unit: int = Field(
        1000, description="Target tables per work unit; larger schemas are split into table slices."
    )
    min_tables_per_unit: int = Field(
        100, description="Spread schemas over the threads only while each unit gets this many tables."
    )
    max_units: int = Field(256, description="Upper bound on the number of mapped task instances.")
    max_delete_fraction: float = Field(
        DEFAULT_MAX_DELETE_FRACTION,
        description="Fail-safe: refuse a run that would delete more than this share of the scope.",
    )
    hard_delete: bool = Field(False, description="Delete rows instead of flagging them deleted.")
    delete_vanished_schemas: bool = Field(
        True, description="Delete the tables of schemas that no longer exist in the source."
    )
    delete_vanished_databases: bool = Field(
        True, description="Delete the schemas and tables of databases that no longer exist in the source."
    )
    safety_margin: timedelta | None = Field(
        None, description="Subtracted from the watermark; None: the source's default (1 h; Snowflake 4 h)."
    )
    lookback: timedelta = Field(
        timedelta(days=7), description="A watermark older than this means a full run."
    )

    @field_validator("safety_margin", "lookback", mode="before")
    @classmethod
    def _check_duration(cls, v: object, info) -> object:
        return None if v is None else as_duration(v, info.field_name)

    @field_validator("service")
    @classmethod
    def _check_service(cls, v: str) -> str:
        if not v or not v.strip():
            raise ConfigError("service", v, "must be a non-empty name")
        return v

    @field_validator("threads")
    @classmethod
    def _check_threads(cls, v: int) -> int:
        if not 1 <= v <= 64:
            raise ConfigError("threads", v, "must be between 1 and 64 (1-8 is typical)")
        return v

    @field_validator("min_tables_per_unit")
    @classmethod
    def _check_min_tables_per_unit(cls, v: int) -> int:
        if v < 1:
            raise ConfigError("min_tables_per_unit", v, "must be at least 1")
        return v

    @field_validator("tables_per_unit")
    @classmethod
    def _check_tables_per_unit(cls, v: int) -> int:
        if v < 1:
            raise ConfigError("tables_per_unit", v, "must be at least 1")
        return v

    @field_validator("max_units")
    @classmethod
    def _check_max_units(cls, v: int) -> int:
        if not 1 <= v <= 1000:
            raise ConfigError("max_units", v, "must be between 1 and 1000 (Airflow's max_map_length is 1024)")
        return v

    @field_validator("max_delete_fraction")
    @classmethod
    def _check_fraction(cls, v: float) -> float:
        if not 0.0 <= v <= 1.0:
            raise ConfigError("max_delete_fraction", v, "must be between 0.0 and 1.0")
        return v


def ingestion_settings(values: IngestionSettings | dict[str, Any]) -> IngestionSettings:
    """Return validated settings from a model or a dict of its fields.

    :raises ConfigError: naming the first bad or unknown key (with the valid ones) and the fix.
    """
    if isinstance(values, IngestionSettings):
        return values
    if not isinstance(values, dict):
        raise ConfigError("settings", values, "expected a dict of IngestionSettings fields")
    try:
        return IngestionSettings.model_validate(values)
    except ConfigError:
        raise
    except ValidationError as e:
        raise _config_error(e, values) from None


def _config_error(error: ValidationError, values: dict[str, Any]) -> ConfigError:
    """Turn pydantic's first error into a ConfigError naming the key path and the valid keys."""
    first = error.errors()[0]
    loc = [str(p) for p in first["loc"]]
    setting = ".".join(loc) or "settings"
    value: Any = values
    for part in loc:
        value = value.get(part, None) if isinstance(value, dict) else None
    if first["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        valid = sorted((f.alias or name) for name, f in model.model_fields.items())
        return ConfigError(setting, value, f"unknown key; valid keys are: {', '.join(valid)}")
    if first.get("ctx", {}).get("error") is not None and isinstance(first["ctx"]["error"], ConfigError):
        return first["ctx"]["error"]
    return ConfigError(setting, value, first["msg"])


def _model_at(path: list[str]) -> type[BaseModel]:
    """Return the settings model found at ``path`` (e.g. ``["filters", "schema"]``)."""
    model: type[BaseModel] = IngestionSettings
    for part in path:
        fields = {(f.alias or name): f for name, f in model.model_fields.items()}
        annotation = fields[part].annotation if part in fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        model = annotation
    return model
