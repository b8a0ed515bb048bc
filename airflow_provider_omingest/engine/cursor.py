"""The run window as one cursor: pure functions, UTC only.

Names follow dlt's incremental cursor (``dlt/extract/incremental``):

- ``last_value``: the stored watermark, the source's clock at the start of the last
  successful run;
- ``lag``: the safety margin subtracted from it (public name ``safety_margin``);
- ``lookback``: a watermark older than this means a full run;
- ``initial_value`` / ``end_value``: an explicit range (a backfill's data interval).

The invariant every function here keeps: **the watermark advances to T only if every change
since the old watermark minus the lag, up to T, was scanned.** A run that scanned from later
than that (a backfill of recent days after a gap) is stateless: like dlt's ``end_value``
ranges, it never moves the stored watermark. A failed or dry run never moves it either.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.models.run import Mode, RequestedMode, RunKind
from airflow_provider_omingest.models.times import as_utc

__all__ = ["DEFAULT_LAG", "DEFAULT_LOOKBACK", "Cursor", "Window", "advance", "apply_lag", "choose_window",
           "next_watermark", "to_utc"]

#: Default safety margin. Covers clock skew and commit latency of in-database change logs;
#: sources whose change log lags more (Snowflake ACCOUNT_USAGE: up to ~3 h) set their own.
DEFAULT_LAG = timedelta(hours=1)
#: Default look-behind window (OpenMetadata's ``lookbackDays``): an older watermark means a full run.
DEFAULT_LOOKBACK = timedelta(days=7)


def to_utc(value: datetime) -> datetime:
    """Return ``value`` as a plain UTC datetime; naive datetimes are refused (they are ambiguous)."""
    if value.tzinfo is None:
        raise ConfigError("watermark", value.isoformat(), "naive datetimes are ambiguous; use UTC-aware ones")
    return as_utc(value)


def apply_lag(value: datetime, lag: timedelta) -> datetime:
    """Return ``value - lag`` in UTC (the lag only ever widens the window)."""
    if lag < timedelta(0):
        raise ConfigError("safety_margin", lag, "must not be negative")
    return to_utc(value) - lag


class Cursor(BaseModel):
    """Where a run's scan starts from: the stored watermark, its lag, and an explicit range."""

    model_config = ConfigDict(frozen=True)

    last_value: datetime | None = None
    lag: timedelta = DEFAULT_LAG
    lookback: timedelta = DEFAULT_LOOKBACK
    initial_value: datetime | None = None
    end_value: datetime | None = None

    @property
    def covered_from(self) -> datetime | None:
        """Return the earliest change a run must scan to be allowed to advance the watermark."""
        return None if self.last_value is None else apply_lag(self.last_value, self.lag)


class Window(BaseModel):
    """What a run will scan: the mode, the lower bound of changes, why, and whether it may advance."""

    mode: Mode
    since: datetime | None = None
    last_value: datetime | None = None
    reason: str
    advances: bool = True
    notes: list[str] = []


def choose_window(
    cursor: Cursor, *, requested_mode: RequestedMode, run_kind: RunKind, now: datetime
) -> Window:
    """Decide full or incremental, from when, and whether a success may advance the watermark.

    - ``full`` requested, or no watermark yet: a full run (it advances the watermark).
    - A backfill (``run_kind="backfill"`` with an ``initial_value``) scans the changes since its
      range start minus the lag, whatever the watermark. It may advance the watermark only if
      that window reaches back to the stored watermark minus the lag (else there is a gap).
    - Otherwise changes since the watermark minus the lag, unless the watermark is older than
      ``lookback`` (then a full run).

    :param now: the source's clock.
    """
    last = cursor.last_value
    if requested_mode == "full":
        return Window(mode="full", last_value=last, reason="a full run was requested")
    if last is None:
        return Window(mode="full", reason="no successful run recorded yet")
    if run_kind == "backfill" and cursor.initial_value is not None:
        since = apply_lag(cursor.initial_value, cursor.lag)
        covers = since <= cursor.covered_from  # type: ignore[operator]
        window = Window(
            mode="incremental", since=since, last_value=last, advances=covers,
            reason=f"backfill: changes since {to_utc(cursor.initial_value).isoformat()} minus {cursor.lag}",
        )
        if not covers:
            window.notes.append(
                f"this backfill scans from {since.isoformat()}, after the stored watermark "
                f"{to_utc(last).isoformat()} minus {cursor.lag}: the changes in between were not scanned, "
                "so the watermark stays where it is and the next run scans from it"
            )
        return window
    if to_utc(now) - to_utc(last) > cursor.lookback:
        return Window(mode="full", last_value=last,
                      reason=f"the last successful run ({to_utc(last).isoformat()}) is older than the "
                             f"look-behind window of {cursor.lookback}")
    return Window(mode="incremental", since=cursor.covered_from, last_value=last,
                  reason=f"changes since the last successful run ({to_utc(last).isoformat()}) minus {cursor.lag}")


def advance(stored: datetime | None, candidate: datetime) -> datetime:
    """Return the new watermark after a successful run: never earlier than the stored one."""
    candidate = to_utc(candidate)
    return candidate if stored is None else max(to_utc(stored), candidate)


def next_watermark(
    stored: datetime | None, *, clock: datetime | None, advances: bool, succeeded: bool, dry_run: bool
) -> datetime | None:
    """Return the watermark after a run: advanced to ``clock`` only by a successful, covering, real run.

    :param stored: the watermark before the run.
    :param clock: the source's clock read when the run planned (None: unknown, nothing moves).
    :param advances: the run's window covered everything since the stored watermark minus the lag.
    """
    if not (succeeded and advances and not dry_run) or clock is None:
        return None if stored is None else to_utc(stored)
    return advance(stored, clock)
