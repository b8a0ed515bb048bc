"""One exception base; subclasses carry their context as attributes and build their own message.

Whether a retry can help is decided when the error is made (``retryable``), never by string
matching later: the operators map a non-retryable error to a task failure without retries.
Every error pickles with all its attributes (Airflow sends exceptions across processes).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CatalogError",
    "ConfigError",
    "DeletionRefused",
    "IncrementalUnsupported",
    "MissingDependency",
    "OmingestError",
    "SourceError",
]


def _rebuild(cls: type[OmingestError], args: tuple[Any, ...], state: dict[str, Any]) -> OmingestError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class OmingestError(Exception):
    """Base of every omingest error. ``retryable`` says whether a retry can help."""

    retryable: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt without calling __init__, so every attribute survives, whatever the signature.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class ConfigError(OmingestError, ValueError):
    """A setting has a bad value; the message names the setting, the value and the fix."""

    def __init__(self, setting: str, value: object, problem: str) -> None:
        self.setting, self.value, self.problem = setting, value, problem
        super().__init__(f"Invalid {setting}={value!r}: {problem}")


class MissingDependency(OmingestError, ImportError):
    """An optional client library is not installed."""

    def __init__(self, what: str, extra: str) -> None:
        self.what, self.extra = what, extra
        super().__init__(
            f"{what} is not installed. Install it with: pip install 'airflow-provider-omingest[{extra}]'"
        )


class SourceError(OmingestError):
    """Reading the source failed for a database or schema.

    Transient by default (a timeout, a dropped connection: a retry can help). Pass
    ``retryable=False`` for what a retry cannot fix: the schema does not exist, permission denied.
    """

    def __init__(self, database: str, schema: str | None, reason: str, *, retryable: bool = True) -> None:
        self.database, self.schema, self.reason, self.retryable = database, schema, reason, retryable
        where = f"schema {database}.{schema}" if schema else f"database {database}"
        super().__init__(f"Could not read {where}: {reason}")


class IncrementalUnsupported(OmingestError):
    """The source cannot report changes now; the reason says why (and what would fix it)."""

    def __init__(self, source: str, reason: str) -> None:
        self.source, self.reason = source, reason
        super().__init__(f"Incremental extraction is not available for source {source!r}: {reason}")


class CatalogError(OmingestError):
    """Reading or writing the catalog failed.

    :param reason: what went wrong, in words a person can act on.
    :param entity: the fully qualified name concerned, if one.
    :param status: the HTTP status of a REST catalog's answer, if one.
    :param retryable: whether a retry can help (decided by whoever saw the failure).
    """

    def __init__(
        self, reason: str, *, entity: str | None = None, status: int | None = None, retryable: bool = True
    ) -> None:
        self.reason, self.entity, self.status, self.retryable = reason, entity, status, retryable
        super().__init__(reason)


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
