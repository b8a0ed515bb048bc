"""The last stage: what a run did, per schema, and finishing it (record, advance the watermark).

:func:`finish_run` is shared by the summary operator and the in-process runner, so both record
runs and move watermarks by the same rule (:func:`~airflow_provider_omingest.engine.cursor.next_watermark`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from airflow_provider_omingest.catalog.base import Catalog, RunRecord
from airflow_provider_omingest.engine.cursor import next_watermark, to_utc
from airflow_provider_omingest.engine.plan import RunPlan
from airflow_provider_omingest.models.fqn import build_fqn, split_fqn
from airflow_provider_omingest.models.run import Mode
from airflow_provider_omingest.models.units import CHANGED_NAMES_LIMIT, UnitResult

__all__ = ["CHANGE_KINDS", "CatalogWatermarks", "DeleteResult", "MemoryWatermarks", "RunSummary",
           "WatermarkStore", "finish_run", "summarize"]

log = logging.getLogger(__name__)

COUNT_COLUMNS = ("created", "updated", "unchanged", "deleted", "failed")
#: The counts that mean the catalog changed.
CHANGE_KINDS = ("created", "updated", "deleted")
#: Longest error kept per failed unit in a summary (summaries travel through XCom).
_MAX_UNIT_ERROR = 2_000


class DeleteResult(BaseModel):
    """Output of the delete stage."""

    deleted: dict[str, dict[str, int]] = Field(default_factory=dict, description="database -> schema -> tables.")
    fqns: list[str] = Field(default_factory=list)
    tables: int = 0
    scope: int = 0
    dry_run: bool = False


class RunSummary(BaseModel):
    """What a run did, per schema, as shown in the summary log and returned as XCom."""

    service: str
    mode: Mode
    mode_reason: str
    status: Literal["success", "failed"]
    dry_run: bool = False
    since: datetime | None = None
    last_value: datetime | None = None
    source_clock: datetime | None = None
    watermark: datetime | None = Field(None, description="The stored watermark after this run.")
    change_method: str | None = None
    notes: list[str] = Field(default_factory=list)
    schemas: dict[str, dict[str, int]] = Field(default_factory=dict)
    totals: dict[str, int] = Field(default_factory=dict)
    scope_tables: int = 0
    tables_fetched: int = 0
    failed_units: list[str] = Field(default_factory=list)
    unit_errors: dict[str, str] = Field(default_factory=dict, description="Failed unit id -> its error, when known.")
    failure: str | None = Field(None, description="Why the run failed, in one line.")
    units: int = 0
    restricted_to: list[str] | None = Field(None, description="The schemas the run was restricted to.")
    changed_tables: dict[str, list[str]] = Field(
        default_factory=dict,
        description=f"'created' / 'updated' / 'deleted' -> the first {CHANGED_NAMES_LIMIT} table names each.",
    )

    def changed(self) -> bool:
        """Return whether the run created, updated or deleted any table in the catalog."""
        return not self.dry_run and any(self.totals.get(k, 0) > 0 for k in CHANGE_KINDS)

    def headline(self) -> str:
        """Return one line: mode, why, and the window scanned."""
        line = f"{self.mode} run of service {self.service} ({self.mode_reason})"
        if self.since:
            line += f"; changes since {self.since.isoformat()} via {self.change_method}"
        if self.restricted_to is not None:
            line += f"; restricted to {', '.join(self.restricted_to) or 'no schema'}"
        return line + (" [dry run]" if self.dry_run else "")

    def table(self) -> str:
        """Return the per-schema counts as a fixed-width text table."""
        width = max([len("schema")] + [len(s) for s in self.schemas]) + 2
        lines = ["schema".ljust(width) + "".join(c.rjust(11) for c in COUNT_COLUMNS)]
        for name in sorted(self.schemas):
            row = self.schemas[name]
            lines.append(name.ljust(width) + "".join(str(row.get(c, 0)).rjust(11) for c in COUNT_COLUMNS))
        lines.append("TOTAL".ljust(width) + "".join(str(self.totals.get(c, 0)).rjust(11) for c in COUNT_COLUMNS))
        unparsed = self.totals.get("lineage_unparsed", 0)
        if unparsed:
            where = ", ".join(f"{s} {row['lineage_unparsed']}" for s, row in sorted(self.schemas.items())
                              if row.get("lineage_unparsed"))
            lines.append(f"lineage_unparsed: {unparsed} view(s) kept without lineage, their SQL did not parse ({where})")
        return "\n".join(lines)


def summarize(
    plan: RunPlan,
    results: list[UnitResult],
    deleted: DeleteResult | None,
    *,
    delete_error: str | None = None,
    unit_errors: dict[str, str] | None = None,
) -> RunSummary:
    """Return per-schema counts; units without a result count as failed.

    :param unit_errors: unit id -> the error that failed it (kept for the failed units only).

    Schemas are keyed by name, or ``database.schema`` when the run spans several databases.
    In incremental runs, the tables of the scope (live catalog tables inside the filters) that
    were not fetched because nothing changed count as unchanged.
    """
    done = {r.unit_id for r in results}
    failed_units = [u.unit_id for u in plan.units if u.unit_id not in done]
    multi = len(set(plan.databases) | set(plan.scope_schemas)) > 1

    def key(db: str, schema: str) -> str:
        return build_fqn(db, schema) if multi else schema

    schemas: dict[str, Counter[str]] = {}
    for unit in plan.units:
        for s in unit.schemas:
            counter = schemas.setdefault(key(unit.database, s), Counter())
            if unit.unit_id in failed_units:
                counter["failed"] += 1
    for r in results:
        for field in ("created", "updated", "unchanged", "lineage_unparsed"):
            for s, n in getattr(r, field).items():
                schemas.setdefault(key(r.database, s), Counter())[field] += n
    for db, per_schema in (deleted.deleted if deleted else {}).items():
        for s, n in per_schema.items():
            schemas.setdefault(key(db, s), Counter())["deleted"] += n
    if plan.mode == "incremental":
        fetched_whole = {(u.database, s) for u in plan.units if u.only_tables is None for s in u.schemas}
        for db, per_schema in plan.scope_schemas.items():
            for s, n in per_schema.items():
                if (db, s) in fetched_whole:
                    continue
                c = schemas.setdefault(key(db, s), Counter())
                if not c["failed"]:
                    c["unchanged"] = max(c["unchanged"], n - c["updated"] - c["deleted"])
    totals: Counter[str] = Counter()
    for c in schemas.values():
        totals.update(c)
    reasons = []
    if failed_units:
        reasons.append(f"{len(failed_units)} of {len(plan.units)} units failed ({', '.join(failed_units)}); "
                       "nothing in them was deleted")
    if delete_error or deleted is None:
        reasons.append(delete_error or "the delete stage failed or was skipped (see its log)")
    names: dict[str, list[str]] = {k: [] for k in CHANGE_KINDS}
    for r in results:
        for k, fqns in r.changed_tables.items():
            names.setdefault(k, []).extend(fqns)
    names["deleted"] = [f for f in (deleted.fqns if deleted else []) if len(split_fqn(f)) == 4]
    return RunSummary(
        restricted_to=plan.restricted_to,
        changed_tables={k: sorted(v)[:CHANGED_NAMES_LIMIT] for k, v in names.items() if v},
        service=plan.service,
        mode=plan.mode,
        mode_reason=plan.mode_reason,
        status="failed" if reasons else "success",
        dry_run=plan.dry_run,
        since=plan.since,
        last_value=plan.last_value,
        source_clock=plan.source_clock,
        change_method=plan.change_method,
        notes=plan.notes,
        tables_fetched=sum(r.fetched for r in results),
        scope_tables=plan.scope_tables,
        schemas={s: {k: v for k, v in c.items() if v} for s, c in schemas.items()},
        totals=dict(totals),
        failed_units=failed_units,
        unit_errors={u: (unit_errors or {})[u][:_MAX_UNIT_ERROR] for u in failed_units if u in (unit_errors or {})},
        failure="; ".join(reasons) or None,
        units=len(plan.units),
    )


class WatermarkStore(Protocol):
    """Where an ingestion's watermark lives (an Airflow Variable, the catalog's run records, ...)."""

    def read(self) -> datetime | None:
        """Return the stored watermark, or None when no run succeeded yet."""

    def write(self, value: datetime, run_id: str) -> None:
        """Store ``value`` (already checked never to move backwards)."""


class CatalogWatermarks:
    """The watermark kept in the catalog's run records: the last successful run's ``watermark``.

    Used by ``omingest run``, which has no Airflow Variables; :func:`finish_run` records the
    run with its watermark, so :meth:`write` has nothing left to do.
    """

    def __init__(self, catalog: Catalog, service: str) -> None:
        self.catalog, self.service = catalog, service

    def read(self) -> datetime | None:
        try:
            run = self.catalog.last_successful_run(self.service)
        except NotImplementedError as e:
            log.info("No watermark (%s): running as if no run succeeded yet", e)
            return None
        value = (run.summary or {}).get("watermark") if run else None
        return to_utc(datetime.fromisoformat(value)) if value else None

    def write(self, value: datetime, run_id: str) -> None:
        """Nothing to do: the run record written next holds the watermark."""


class MemoryWatermarks:
    """A watermark held in memory, e.g. to run from a given watermark (benchmarks, tests)."""

    def __init__(self, value: datetime | None = None) -> None:
        self.value = value

    def read(self) -> datetime | None:
        return self.value

    def write(self, value: datetime, run_id: str) -> None:
        self.value = value


def finish_run(
    catalog: Catalog,
    plan: RunPlan,
    results: list[UnitResult],
    deleted: DeleteResult | None,
    *,
    run_id: str,
    started_at: datetime | None,
    watermarks: WatermarkStore,
    delete_error: str | None = None,
    unit_errors: dict[str, str] | None = None,
    cleanup: Callable[[], None] | None = None,
) -> RunSummary:
    """Summarise the run, advance the watermark if it may, record the run, and clean up after a success.

    The watermark moves only when every unit and the delete stage succeeded, the run was not a
    dry run, and its window covered everything since the stored watermark minus the margin.
    A dry run records nothing.

    :param unit_errors: unit id -> the error that failed it.
    :param cleanup: called after a successful run (e.g. removing its snapshots).
    """
    summary = summarize(plan, results, deleted, delete_error=delete_error, unit_errors=unit_errors)
    stored = watermarks.read()
    new = next_watermark(stored, clock=plan.source_clock, advances=plan.advances_watermark,
                         succeeded=summary.status == "success", dry_run=plan.dry_run)
    if new is not None and new != stored:
        watermarks.write(new, run_id)
        log.info("Watermark advanced to %s", new.isoformat())
    elif summary.status == "success" and not plan.dry_run and not plan.advances_watermark:
        log.info("Watermark kept at %s: this run's window did not reach back to it", stored)
    summary.watermark = new
    if not plan.dry_run:
        catalog.record_run(RunRecord(
            run_id=run_id, service=plan.service, mode=plan.mode, status=summary.status,
            started_at=started_at or datetime.now(timezone.utc), ended_at=datetime.now(timezone.utc),
            summary=summary.model_dump(mode="json"),
        ))
    if summary.status == "success" and cleanup is not None:
        cleanup()
    return summary
