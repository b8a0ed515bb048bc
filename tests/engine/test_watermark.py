"""Watermark selection over run histories, and the margin arithmetic."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_omingest.engine.watermark import advance, apply_lag, choose_window, parse_duration
from airflow_provider_omingest.exceptions import ConfigError

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def _window(**kw):
    args = dict(requested_mode="auto", run_kind="scheduled", last_value=None, now=T0 + 24 * H, lag=H)
    args.update(kw)
    return choose_window(**args)


def test_margin_arithmetic_is_utc_and_never_negative():
    cet = timezone(timedelta(hours=1))
    assert apply_lag(datetime(2026, 11, 1, 13, 0, tzinfo=cet), H) == T0 - H
    with pytest.raises(ConfigError):
        apply_lag(T0, -H)
    with pytest.raises(ConfigError, match="naive"):
        apply_lag(datetime(2026, 1, 1), H)


def test_first_run_is_full():
    w = _window()
    assert w.mode == "full" and "no successful run" in w.reason


def test_incremental_since_watermark_minus_margin():
    w = _window(last_value=T0)
    assert w.mode == "incremental" and w.since == T0 - H


def test_full_requested_wins():
    assert _window(last_value=T0, requested_mode="full").mode == "full"


def test_watermark_older_than_lookback_means_full():
    w = _window(last_value=T0, now=T0 + timedelta(days=8))
    assert w.mode == "full" and "look-behind" in w.reason


def test_backfill_rescans_from_its_range_start():
    start = T0 - timedelta(days=3)
    w = _window(last_value=T0, run_kind="backfill", range_start=start)
    assert w.mode == "incremental" and w.since == start - H and "backfill" in w.reason


def test_manual_run_without_logical_date_uses_watermark():
    w = _window(last_value=T0, run_kind="manual", range_start=None)
    assert w.since == T0 - H


def _simulate(history):
    """Apply a run history: each run reads the watermark, and only a success advances it."""
    stored = None
    seen = []
    for kind, outcome, clock, range_start in history:
        w = choose_window(requested_mode="auto", run_kind=kind, last_value=stored, now=clock, lag=H,
                          range_start=range_start)
        seen.append(w)
        if outcome == "success":
            stored = advance(stored, clock)
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
    assert seen[5].since == T0 + 39 * H     # advanced by the successful backfill
    assert stored == T0 + 48 * H


def test_watermark_never_moves_backwards():
    assert advance(T0, T0 - H) == T0
    assert advance(None, T0) == T0


@pytest.mark.parametrize("text, expected", [("3h", 3 * H), ("90m", 90 * timedelta(minutes=1)),
                                            ("1d", 24 * H), (3600, H), ("7200", 2 * H), (H, H)])
def test_parse_duration(text, expected):
    assert parse_duration(text, "x") == expected


def test_parse_duration_error_names_value():
    with pytest.raises(ConfigError, match="'soon'"):
        parse_duration("soon", "safety_margin")


def test_pendulum_datetimes_from_airflow_stay_aware():
    """Airflow hands tasks pendulum DateTimes; arithmetic on them must not lose the time zone."""
    import pendulum

    start = pendulum.datetime(2024, 1, 10, tz="UTC")
    w = _window(last_value=T0, run_kind="backfill", range_start=start)
    assert w.since.tzinfo is not None
    assert w.since == datetime(2024, 1, 9, 23, 0, tzinfo=timezone.utc)
    assert apply_lag(pendulum.datetime(2024, 1, 10, tz="Europe/Paris"), H).utcoffset() == timedelta(0)
