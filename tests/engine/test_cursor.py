"""The run window: watermark selection over run histories, the lag arithmetic, and the advance rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_omingest.engine.cursor import Cursor, advance, apply_lag, choose_window, next_watermark
from airflow_provider_omingest.exceptions import ConfigError

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def _window(*, last_value=None, now=T0 + 24 * H, requested_mode="auto", run_kind="scheduled", range_start=None,
            lag=H):
    cursor = Cursor(last_value=last_value, lag=lag, initial_value=range_start)
    return choose_window(cursor, requested_mode=requested_mode, run_kind=run_kind, now=now)


def test_margin_arithmetic_is_utc_and_never_negative():
    cet = timezone(timedelta(hours=1))
    assert apply_lag(datetime(2026, 11, 1, 13, 0, tzinfo=cet), H) == T0 - H
    with pytest.raises(ConfigError):
        apply_lag(T0, -H)
    with pytest.raises(ConfigError, match="naive"):
        apply_lag(datetime(2026, 1, 1), H)


def test_first_run_is_full():
    w = _window()
    assert w.mode == "full" and "no successful run" in w.reason and w.advances


def test_incremental_since_watermark_minus_margin():
    w = _window(last_value=T0)
    assert w.mode == "incremental" and w.since == T0 - H and w.advances


def test_full_requested_wins():
    assert _window(last_value=T0, requested_mode="full").mode == "full"


def test_watermark_older_than_lookback_means_full():
    w = _window(last_value=T0, now=T0 + timedelta(days=8))
    assert w.mode == "full" and "look-behind" in w.reason


def test_backfill_rescans_from_its_range_start():
    start = T0 - timedelta(days=3)
    w = _window(last_value=T0, run_kind="backfill", range_start=start)
    assert w.mode == "incremental" and w.since == start - H and "backfill" in w.reason
    assert w.advances  # it reaches back past the watermark: everything since it was scanned


def test_backfill_after_a_gap_does_not_advance():
    """Watermark T0, a weekend of failed runs, then a backfill of only the last day: a gap."""
    w = _window(last_value=T0, run_kind="backfill", range_start=T0 + 48 * H, now=T0 + 72 * H)
    assert w.mode == "incremental" and w.since == T0 + 47 * H
    assert not w.advances and "watermark stays" in w.notes[0]


def test_backfill_without_a_watermark_is_full():
    w = _window(run_kind="backfill", range_start=T0)
    assert w.mode == "full" and w.advances


def test_manual_run_without_logical_date_uses_watermark():
    w = _window(last_value=T0, run_kind="manual", range_start=None)
    assert w.since == T0 - H


def _simulate(history):
    """Apply a run history as the DAG does: each run reads the watermark; finishing applies next_watermark."""
    stored = None
    seen = []
    for kind, outcome, clock, range_start in history:
        w = choose_window(Cursor(last_value=stored, lag=H, initial_value=range_start), requested_mode="auto",
                          run_kind=kind, now=clock)
        seen.append(w)
        stored = next_watermark(stored, clock=clock, advances=w.advances, succeeded=outcome == "success",
                                dry_run=False)
    return stored, seen


def test_run_history_success_failed_running_manual_backfill():
    history = [
        ("scheduled", "success", T0, T0),                       # 1 full
        ("scheduled", "failed", T0 + 24 * H, T0 + 24 * H),      # 2 incremental, fails
        ("manual", "running", T0 + 30 * H, None),               # 3 still running: no advance
        ("manual", "success", T0 + 36 * H, None),               # 4 must start from run 1
        ("backfill", "success", T0 + 40 * H, T0 - 48 * H),      # 5 backfill over past days
        ("scheduled", "success", T0 + 48 * H, T0 + 48 * H),     # 6 from run 5's clock
    ]
    stored, seen = _simulate(history)
    assert seen[0].mode == "full"
    assert seen[1].since == T0 - H
    assert seen[2].since == T0 - H          # the failed run 2 did not advance it
    assert seen[3].since == T0 - H          # nor did the running run 3
    assert seen[4].since == T0 - 49 * H     # the backfill re-scans its own range
    assert seen[5].since == T0 + 39 * H     # advanced by the successful backfill (it covered the watermark)
    assert stored == T0 + 48 * H


def test_backfill_gap_never_skips_changes():
    """The watermark advances to T only if every change since the old watermark minus the lag was scanned."""
    history = [
        ("scheduled", "success", T0, T0),                          # watermark T0
        ("scheduled", "failed", T0 + 24 * H, T0 + 24 * H),         # a weekend of failures
        ("scheduled", "failed", T0 + 48 * H, T0 + 48 * H),
        ("backfill", "success", T0 + 60 * H, T0 + 48 * H),         # backfill of the last day only
        ("scheduled", "success", T0 + 72 * H, T0 + 72 * H),
    ]
    stored, seen = _simulate(history)
    assert seen[3].since == T0 + 47 * H and not seen[3].advances
    assert seen[4].since == T0 - H          # the next run still scans from the old watermark
    assert stored == T0 + 72 * H


def test_next_watermark_rules():
    assert next_watermark(T0, clock=T0 + H, advances=True, succeeded=True, dry_run=False) == T0 + H
    assert next_watermark(T0, clock=T0 + H, advances=True, succeeded=False, dry_run=False) == T0
    assert next_watermark(T0, clock=T0 + H, advances=True, succeeded=True, dry_run=True) == T0
    assert next_watermark(T0, clock=T0 + H, advances=False, succeeded=True, dry_run=False) == T0
    assert next_watermark(None, clock=T0, advances=False, succeeded=True, dry_run=False) is None
    assert next_watermark(T0 + H, clock=T0, advances=True, succeeded=True, dry_run=False) == T0 + H


def test_watermark_never_moves_backwards():
    assert advance(T0, T0 - H) == T0
    assert advance(None, T0) == T0


def test_pendulum_datetimes_from_airflow_stay_aware():
    """Airflow hands tasks pendulum DateTimes; arithmetic on them must not lose the time zone."""
    import pendulum

    start = pendulum.datetime(2024, 1, 10, tz="UTC")
    w = _window(last_value=T0, run_kind="backfill", range_start=start)
    assert w.since.tzinfo is not None
    assert w.since == datetime(2024, 1, 9, 23, 0, tzinfo=timezone.utc)
    assert apply_lag(pendulum.datetime(2024, 1, 10, tz="Europe/Paris"), H).utcoffset() == timedelta(0)
