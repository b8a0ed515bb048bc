"""Build a run's :class:`~airflow_provider_omingest.models.run.RunRequest` once, from the Airflow context."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_omingest.models.run import REQUESTED_MODES, RUN_KINDS, RunKind, RunRequest
from airflow_provider_omingest.parsing import as_bool, as_choice, as_duration, is_unset

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["run_kind", "run_request"]


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
) -> RunRequest:
    """Return the request of the run in ``context``; the values may be rendered template strings.

    A backfill's range is its data interval (or logical date). Manual runs in Airflow 3 have
    neither, and need none: they start from the watermark.

    :raises ConfigError: naming a bad mode, boolean or duration.
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
    )
