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


def _events(*extras, alias=None):
    """Return the context's ``triggering_asset_events``, built as the Task SDK builds it."""
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    return TriggeringAssetEventsAccessor.build(
        AssetEventDagRunReferenceResult(
            asset={"name": f"dbt://models/{i}", "uri": f"dbt://models/{i}", "extra": {}}, extra=extra,
            source_task_id="run", source_dag_id="dbt", source_run_id=f"r{i}", source_map_index=-1,
            source_aliases=[{"name": alias}] if alias else [], timestamp=T + timedelta(minutes=i),
        )
        for i, extra in enumerate(extras)
    )


def test_asset_triggered_runs_are_restricted_to_the_schemas_their_events_name():
    context = _context("asset_triggered",
                       triggering_asset_events=_events({"schemas": ["wh.sales"]},
                                                       {"omingest": {"schemas": ["finance"]}}, alias="up"))
    request = run_request(context, scope_from_asset_events=True)
    assert request.schemas.names() == ["finance", "wh.sales"]
    assert run_request(context).schemas is None  # the restriction is opt-in


def test_no_events_or_an_event_without_schemas_covers_the_whole_scope():
    assert run_request(_context(), scope_from_asset_events=True).schemas is None
    both = _events({"schemas": ["wh.sales"]}, {"rows": 12})
    assert run_request(_context(triggering_asset_events=both), scope_from_asset_events=True).schemas is None


def test_a_bad_event_extra_is_a_configuration_error_naming_it():
    context = _context(triggering_asset_events=_events({"schemas": "wh.sales"}))
    with pytest.raises(ConfigError, match=r"asset_event\[0\]\.extra\.schemas='wh.sales'") as e:
        run_request(context, scope_from_asset_events=True)
    assert not e.value.retryable
