"""The run request is built once from the Airflow context: mode, run kind, range, rendered params."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.operators.request import run_kind, run_request

T = datetime(2024, 1, 10, tzinfo=timezone.utc)


def _context(run_type="manual", **extra):
    return {"run_id": "r1", "dag_run": SimpleNamespace(run_type=run_type), **extra}


@pytest.mark.parametrize("run_type, kind", [
    ("scheduled", "scheduled"), ("DagRunType.BACKFILL_JOB", "other"), ("backfill", "backfill"),
    ("manual", "manual"), ("asset_triggered", "asset_triggered"), ("", "other"), (None, "other"),
])
def test_run_kind(run_type, kind):
    assert run_kind(SimpleNamespace(run_type=run_type)) == kind


def test_rendered_templates_are_parsed_once():
    request = run_request(_context("backfill", data_interval_start=T, data_interval_end=T + timedelta(days=1)),
                          mode="FULL", dry_run="True", confirm_delete="false", safety_margin="90m",
                          last_value=T - timedelta(days=1))
    assert request.requested_mode == "full" and request.dry_run and not request.confirm_delete
    assert request.safety_margin == timedelta(minutes=90) and request.run_kind == "backfill"
    assert (request.initial_value, request.end_value) == (T, T + timedelta(days=1))
    assert request.last_value == T - timedelta(days=1)


def test_a_manual_run_has_no_range_and_unset_params_keep_the_defaults():
    request = run_request(_context(), mode="auto", dry_run="None", safety_margin="None")
    assert request.initial_value is None and request.safety_margin is None and not request.dry_run


@pytest.mark.parametrize("field, value", [("mode", "sometimes"), ("dry_run", "maybe"), ("safety_margin", "soon")])
def test_bad_values_name_themselves(field, value):
    with pytest.raises(ConfigError, match=repr(value)):
        run_request(_context(), **{field: value})
