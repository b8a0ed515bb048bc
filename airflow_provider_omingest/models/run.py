"""What a run is asked to do: the requested mode, how the run was created, and its request.

A :class:`RunRequest` is built once — from the Airflow context by the plan operator, from the
command line by ``omingest run`` — and handed to the engine, instead of a row of parameters.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_omingest.models.scope import SchemaScope

__all__ = ["REQUESTED_MODES", "RUN_KINDS", "Mode", "RequestedMode", "RunKind", "RunRequest"]

#: The mode a run ran in.
Mode = Literal["full", "incremental"]
#: The mode a person or schedule asks for: ``auto`` is incremental when possible, else full.
RequestedMode = Literal["auto", "full", "incremental"]
#: How a run was created (Airflow's run types; ``other`` for anything else).
RunKind = Literal["scheduled", "manual", "backfill", "asset_triggered", "operator_triggered", "other"]

REQUESTED_MODES: tuple[str, ...] = get_args(RequestedMode)
RUN_KINDS: tuple[str, ...] = get_args(RunKind)


class RunRequest(BaseModel):
    """One run's request: everything besides the ingestion's settings and connections.

    :param run_id: the run's id (Airflow's run id, or one made up by the command line).
    :param requested_mode: ``auto``, ``full`` or ``incremental``.
    :param run_kind: how the run was created; a backfill scans its own range.
    :param dry_run: compute everything, write nothing.
    :param confirm_delete: a person confirmed deletions above the fail-safe threshold.
    :param safety_margin: this run's safety margin, overriding the settings' (None: keep it).
    :param last_value: the stored watermark: the source clock at the start of the last
        successful run (None: no run succeeded yet).
    :param initial_value: a backfill's range start (its data interval start).
    :param end_value: a backfill's range end, recorded for the summary.
    :param schemas: restrict the run to these schemas (None: the whole scope), e.g. the schemas
        named by the Asset events that triggered it. A restricted run deletes only inside them
        and never advances the watermark.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    requested_mode: RequestedMode = "auto"
    run_kind: RunKind = "manual"
    dry_run: bool = False
    confirm_delete: bool = False
    safety_margin: timedelta | None = None
    last_value: datetime | None = None
    initial_value: datetime | None = Field(None, description="A backfill's range start.")
    end_value: datetime | None = Field(None, description="A backfill's range end.")
    schemas: SchemaScope | None = Field(None, description="Restrict the run to these schemas (None: all).")
