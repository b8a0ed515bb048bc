"""Build a run's :class:`~airflow_provider_omingest.models.run.RunRequest` once, from the Airflow context."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_omingest.models.run import REQUESTED_MODES, RUN_KINDS, RunKind, RunRequest
from airflow_provider_omingest.models.scope import SchemaScope, scope_from_event_extras
from airflow_provider_omingest.parsing import as_bool, as_choice, as_duration, is_unset

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["run_kind", "run_request", "triggering_scope"]


def run_kind(dag_run: Any) -> RunKind:
    """Return how a run was created: scheduled, manual, backfill, asset_triggered, ... or other."""
    text = str(getattr(dag_run, "run_type", "") or "").lower().rsplit(".", 1)[-1]
    return text if text in RUN_KINDS else "other"  # type: ignore[return-value]


def run_request(
    context: Context,
    *,
    mode: Any = "auto",
    dry_run: Any = False,
    confirm_delete: Any = False,
    safety_margin: Any = None,
    last_value: datetime | None = None,
    scope_from_asset_events: bool = False,
) -> RunRequest:
    """Return the request of the run in ``context``; the values may be rendered template strings.

    A backfill's range is its data interval (or logical date). Manual runs in Airflow 3 have
    neither, and need none: they start from the watermark.

    :param scope_from_asset_events: restrict the run to the schemas named by the Asset events
        that triggered it (see :mod:`airflow_provider_omingest.models.scope`).
    :raises ConfigError: naming a bad mode, boolean, duration or Asset event ``extra``.
    """
    start = context.get("data_interval_start") or context.get("logical_date")
    return RunRequest(
        run_id=context["run_id"],
        requested_mode=as_choice(mode, "mode", REQUESTED_MODES),
        run_kind=run_kind(context["dag_run"]),
        dry_run=bool(as_bool(dry_run, "dry_run", False)),
        confirm_delete=bool(as_bool(confirm_delete, "confirm_delete", False)),
        safety_margin=None if is_unset(safety_margin) else as_duration(safety_margin, "safety_margin"),
        last_value=last_value,
        initial_value=start,
        end_value=context.get("data_interval_end"),
        schemas=triggering_scope(context) if scope_from_asset_events else None,
    )


def triggering_scope(context: Context) -> SchemaScope | None:
    """Return the schemas named by the Asset events that triggered the run (None: the whole scope).

    A run not triggered by Asset events (scheduled, manual, backfill) covers the whole scope.
    """
    events = context.get("triggering_asset_events") or {}
    extras = []
    seen: set[tuple[Any, ...]] = set()
    for per_asset in events.values():
        for event in per_asset:  # an event reached through an alias is listed under both keys
            key = (event.asset.uri, event.timestamp, event.source_run_id, event.source_task_id)
            if key not in seen:
                seen.add(key)
                extras.append(event.extra)
    return scope_from_event_extras(extras)
