"""Watermark arithmetic for incremental runs: pure functions, UTC only.

Names follow dlt's incremental cursor: ``last_value`` is the stored watermark (the source's
clock at the start of the last successful run), ``lag`` the safety margin subtracted from it,
``lookback`` how old a watermark may be before a full run is safer.

The watermark only moves forward, and only after a run succeeded (:func:`advance`): a failed
or partly failed run never moves it, so its changes are scanned again by the next run.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal

from pydantic import BaseModel

from airflow_provider_omingest.exceptions import ConfigError

__all__ = ["DEFAULT_LAG", "DEFAULT_LOOKBACK", "Window", "advance", "apply_lag", "choose_window", "parse_duration"]

#: Default safety margin. Covers clock skew and commit latency of in-database change logs;
#: sources whose change log lags more (Snowflake ACCOUNT_USAGE: up to ~3 h) set their own.
DEFAULT_LAG = timedelta(hours=1)
#: Default look-behind window (OpenMetadata's ``lookbackDays``): an older watermark means a full run.
DEFAULT_LOOKBACK = timedelta(days=7)

RunKind = Literal["scheduled", "manual", "backfill", "asset_triggered", "operator_triggered", "other"]


class Window(BaseModel):
    """What a run will scan: the mode, the lower bound of changes, and why."""

    mode: Literal["full", "incremental"]
    since: datetime | None = None
    last_value: datetime | None = None
    reason: str


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ConfigError("watermark", value.isoformat(), "naive datetimes are ambiguous; use UTC-aware ones")
    value = value.astimezone(timezone.utc)
    # A plain datetime: Airflow hands tasks pendulum DateTimes, and pendulum drops a stdlib tzinfo
    # in arithmetic (DateTime(..., tzinfo=timezone.utc) - timedelta(...) is naive).
    return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                    value.microsecond, tzinfo=timezone.utc)


def apply_lag(last_value: datetime, lag: timedelta) -> datetime:
    """Return ``last_value - lag`` in UTC (the lag never makes the window smaller)."""
    if lag < timedelta(0):
        raise ConfigError("safety_margin", lag, "must not be negative")
    return _utc(last_value) - lag


def choose_window(
    *,
    requested_mode: Literal["auto", "full", "incremental"],
    run_kind: RunKind,
    last_value: datetime | None,
    now: datetime,
    lag: timedelta = DEFAULT_LAG,
    lookback: timedelta = DEFAULT_LOOKBACK,
    range_start: datetime | None = None,
) -> Window:
    """Decide full or incremental, and from when.

    :param requested_mode: the run's ``mode`` param.
    :param run_kind: how the run was created. A backfill re-scans changes since its own
        ``range_start`` (minus ``lag``), whatever the stored watermark.
    :param last_value: the stored watermark, or None when no run has succeeded yet.
    :param now: the current time (the source's clock when it has one).
    :param lag: the safety margin.
    :param lookback: a watermark older than ``now - lookback`` means a full run.
    :param range_start: start of a backfill's data interval.
    """
    if requested_mode == "full":
        return Window(mode="full", last_value=last_value, reason="a full run was requested")
    if run_kind == "backfill" and range_start is not None:
        since = apply_lag(range_start, lag)
        return Window(mode="incremental", since=since, last_value=last_value,
                      reason=f"backfill: changes since {_utc(range_start).isoformat()} minus {lag}")
    if last_value is None:
        return Window(mode="full", reason="no successful run recorded yet")
    if _utc(now) - _utc(last_value) > lookback:
        return Window(mode="full", last_value=last_value,
                      reason=f"the last successful run ({_utc(last_value).isoformat()}) is older than the "
                             f"look-behind window of {lookback}")
    since = apply_lag(last_value, lag)
    return Window(mode="incremental", since=since, last_value=last_value,
                  reason=f"changes since the last successful run ({_utc(last_value).isoformat()}) minus {lag}")


def advance(stored: datetime | None, candidate: datetime) -> datetime:
    """Return the new watermark after a successful run: never earlier than the stored one."""
    candidate = _utc(candidate)
    return candidate if stored is None else max(_utc(stored), candidate)


def parse_duration(value: object, setting: str) -> timedelta:
    """Parse a duration given as a timedelta, seconds, or text such as ``"3h"``, ``"90m"``, ``"1d"``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    text = str(value).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text and text[-1] in units:
            return timedelta(seconds=float(text[:-1]) * units[text[-1]])
        return timedelta(seconds=float(text))
    except ValueError:
        raise ConfigError(setting, value, "expected a duration such as '3h', '90m', '1d' or seconds") from None
