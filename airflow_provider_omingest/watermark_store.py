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

__all__ = ["VariableWatermarks", "watermark_variable"]

log = logging.getLogger(__name__)


def watermark_variable(key: str) -> str:
    """Return the Variable name holding the watermark of ingestion ``key`` (the DAG id by default)."""
    return f"omingest_watermark__{key}"


class VariableWatermarks:
    """The watermark of one ingestion in the Variable ``omingest_watermark__<key>``.

    :param key: names the ingestion (the DAG id, or ``<dag_id>.<group_id>`` for a task group).
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.variable = watermark_variable(key)

    def read(self) -> datetime | None:
        """Return the stored watermark, or None when no run succeeded yet (or it is unreadable)."""
        from airflow.sdk import Variable

        raw = Variable.get(self.variable, default=None)
        if not raw:
            return None
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
            return datetime.fromisoformat(value["last_value"]).astimezone(timezone.utc)
        except (ValueError, KeyError, TypeError) as e:
            log.warning("Ignoring unreadable watermark %s=%r (%s): running as if none", self.variable, raw, e)
            return None

    def write(self, value: datetime, run_id: str) -> None:
        """Store ``value`` with the run that set it."""
        from airflow.sdk import Variable

        Variable.set(
            self.variable,
            json.dumps({"last_value": value.isoformat(), "run_id": run_id,
                        "written_at": datetime.now(timezone.utc).isoformat()}),
            description="omingest: source clock at the start of the last successful ingestion run",
        )
