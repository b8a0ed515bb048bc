"""Keep each ingestion's watermark in an Airflow Variable, written only by successful runs.

Airflow's built-in "previous successful run" answers (``prev_start_date_success``,
``get_previous_dagrun``, ``xcom_pull(include_prior_dates=True)``) all follow logical dates, so
they are wrong once manual runs (which have no logical date in Airflow 3) or backfills exist,
and XCom does not know whether its run succeeded. Instead the summary task, which fails unless
every unit succeeded, writes the source's clock at planning time into a Variable, never moving
it backwards; the plan task reads it. Both go through the Task SDK (no ORM access).

Deleting the Variable (Admin → Variables) makes the next ``auto`` run a full one.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from airflow_provider_omingest.engine.watermark import advance

__all__ = ["read_watermark", "watermark_variable", "write_watermark"]

log = logging.getLogger(__name__)


def watermark_variable(key: str) -> str:
    """Return the Variable name holding the watermark of ingestion ``key`` (the DAG id by default)."""
    return f"omingest_watermark__{key}"


def read_watermark(key: str) -> datetime | None:
    """Return the stored watermark, or None when no run succeeded yet."""
    from airflow.sdk import Variable

    raw = Variable.get(watermark_variable(key), default=None)
    if not raw:
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
        return datetime.fromisoformat(value["last_value"]).astimezone(timezone.utc)
    except (ValueError, KeyError, TypeError) as e:
        log.warning("Ignoring unreadable watermark %s=%r (%s): running as if none", watermark_variable(key), raw, e)
        return None


def write_watermark(key: str, candidate: datetime, run_id: str) -> datetime:
    """Advance the watermark to ``candidate`` (never backwards); return the stored value."""
    from airflow.sdk import Variable

    value = advance(read_watermark(key), candidate)
    Variable.set(
        watermark_variable(key),
        json.dumps({"last_value": value.isoformat(), "run_id": run_id,
                    "written_at": datetime.now(timezone.utc).isoformat()}),
        description="omingest: source clock at the start of the last successful ingestion run",
    )
    return value
