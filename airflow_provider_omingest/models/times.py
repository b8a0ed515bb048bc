"""Times: one rule for every layer.

Every time omingest stores, compares or sends is an aware UTC ``datetime``. A naive value read
from a store or a driver is UTC: the stores keep UTC (SQLite hands it back without a zone) and
each source reads its clock and change log in UTC. Input a person gives (a watermark) is checked
where it enters (:func:`airflow_provider_omingest.engine.cursor.to_utc`), not here.
"""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["as_utc", "utcnow"]


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as a plain aware UTC datetime; a naive value is taken as UTC.

    The result is a stdlib ``datetime`` even for a pendulum ``DateTime`` (Airflow hands those to
    tasks, and pendulum drops a stdlib tzinfo in arithmetic).
    """
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                    value.microsecond, tzinfo=timezone.utc)
