"""Fail an ingestion run at once when a pool its tasks use does not exist (or create the pool).

A task whose pool does not exist is never scheduled: it sits in "scheduled" forever and no
task log says why (the scheduler logs "Tasks using non-existent pool ... will not be
scheduled"). Tasks cannot check pools in Airflow 3 (the Task SDK has no pool endpoint), so this
listener does it in the scheduler, when a run of a DAG holding omingest tasks starts
(``on_dag_run_running``, called by ``SchedulerJobRunner._start_queued_dagruns`` with the
serialized DAG attached to the run and the scheduler's own session).

``[omingest] missing_pools`` says what to do:

- ``fail`` (default): the run fails before any task starts; its note (shown in the UI) names
  each missing pool and the command that creates it;
- ``create``: the missing pools are created with slots = the largest ``threads`` of the tasks
  using them (what ``omingest pools`` does), and the run goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

__all__ = ["MISSING_POOLS_OPTION", "missing_pool_message", "on_dag_run_running"]

log = logging.getLogger(__name__)

MISSING_POOLS_OPTION = "missing_pools"
_CHOICES = ("fail", "create")


def missing_pool_message(dag_id: str, missing: dict[str, int]) -> str:
    """Return the message naming the missing pools and the fix."""
    names = ", ".join(f"'{name}'" for name in sorted(missing))
    commands = "; ".join(f"airflow pools set {name} {slots} 'omingest: connections to one warehouse'"
                         for name, slots in sorted(missing.items()))
    return (f"omingest: DAG {dag_id} uses pool(s) {names} that do not exist, so its tasks would never be "
            f"scheduled. Create them and trigger again: `omingest pools` creates every pool the omingest DAGs "
            f"name, or run: {commands}. (Set [omingest] missing_pools = create to have them created.)")


@hookimpl
def on_dag_run_running(dag_run: Any, msg: str) -> None:
    """Check the pools of an omingest run that just started; fail it, or create them, when missing."""
    try:
        _check(dag_run)
    except Exception:  # a listener must never break the scheduler loop
        log.exception("omingest: the pool check of %s failed", getattr(dag_run, "run_id", dag_run))


def _check(dag_run: Any) -> None:
    from airflow.models.pool import Pool
    from sqlalchemy import select
    from sqlalchemy.orm import object_session

    from airflow_provider_omingest.pools import is_omingest_dag, missing_pools

    dag = getattr(dag_run, "dag", None)
    session = object_session(dag_run)
    if dag is None or session is None or not is_omingest_dag(dag):
        return
    missing = missing_pools(dag, session.scalars(select(Pool.pool)).all())
    if not missing:
        return
    if _mode() == "create":
        for name, slots in sorted(missing.items()):
            session.add(Pool(pool=name, slots=slots, description="omingest: connections to one warehouse "
                             "(created when a run found it missing)", include_deferred=False))
            log.warning("omingest: created the missing pool %r with %d slots for DAG %s", name, slots,
                        dag_run.dag_id)
        return
    from airflow.utils.state import DagRunState

    message = missing_pool_message(dag_run.dag_id, missing)
    log.error("%s (run %s)", message, dag_run.run_id)
    dag_run.note = message
    dag_run.set_state(DagRunState.FAILED)


def _mode() -> str:
    from airflow.configuration import conf

    mode = (conf.get("omingest", MISSING_POOLS_OPTION, fallback="fail") or "fail").strip().lower()
    if mode not in _CHOICES:
        log.error("omingest: [omingest] %s = %r is not one of %s; using 'fail'", MISSING_POOLS_OPTION, mode,
                  ", ".join(_CHOICES))
        return "fail"
    return mode
