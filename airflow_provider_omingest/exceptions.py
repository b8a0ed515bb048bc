"""One exception base; subclasses carry their context and build their own message."""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "ConfigError",
    "DeletionRefused",
    "IncrementalUnsupported",
    "MissingDependency",
    "OmingestError",
    "SourceError",
]


class OmingestError(Exception):
    """Base of every omingest error. ``retryable`` says whether a retry can help."""

    retryable: bool = False


class ConfigError(OmingestError, ValueError):
    """A setting has a bad value; the message names the setting, the value and the fix."""

    def __init__(self, setting: str, value: object, problem: str) -> None:
        self.setting, self.value, self.problem = setting, value, problem
        super().__init__(f"Invalid {setting}={value!r}: {problem}")

    def __reduce__(self):
        return (type(self), (self.setting, self.value, self.problem))


class MissingDependency(OmingestError, ImportError):
    """An optional client library is not installed."""

    def __init__(self, what: str, extra: str) -> None:
        self.what, self.extra = what, extra
        super().__init__(
            f"{what} is not installed. Install it with: pip install 'airflow-provider-omingest[{extra}]'"
        )

    def __reduce__(self):
        return (type(self), (self.what, self.extra))


class SourceError(OmingestError):
    """Reading the source failed for a database or schema."""

    retryable = True

    def __init__(self, database: str, schema: str | None, reason: str) -> None:
        self.database, self.schema, self.reason = database, schema, reason
        where = f"schema {database}.{schema}" if schema else f"database {database}"
        super().__init__(f"Could not read {where}: {reason}")

    def __reduce__(self):
        return (type(self), (self.database, self.schema, self.reason))


class IncrementalUnsupported(OmingestError):
    """The source cannot report changes now; the reason says why (and what would fix it)."""

    def __init__(self, source: str, reason: str) -> None:
        self.source, self.reason = source, reason
        super().__init__(f"Incremental extraction is not available for source {source!r}: {reason}")

    def __reduce__(self):
        return (type(self), (self.source, self.reason))


class CatalogError(OmingestError):
    """Reading or writing the catalog failed."""

    retryable = True


class DeletionRefused(OmingestError):
    """The fail-safe threshold stopped a mass deletion; nothing was deleted."""

    def __init__(self, to_delete: int, scope: int, max_fraction: float) -> None:
        self.to_delete, self.scope, self.max_fraction = to_delete, scope, max_fraction
        pct = 100.0 * to_delete / scope if scope else 100.0
        super().__init__(
            f"Refusing to delete {to_delete} of {scope} tables in scope ({pct:.1f}%), above the "
            f"fail-safe threshold of {100 * max_fraction:.0f}%. Nothing was deleted. If these tables "
            "really are gone, re-run with the param confirm_delete=true (or raise max_delete_fraction)."
        )

    def __reduce__(self):
        return (type(self), (self.to_delete, self.scope, self.max_fraction))
