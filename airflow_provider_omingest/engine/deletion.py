"""Decide what the delete stage may delete, under the deletion-safety rules.

- Only candidates from units whose extract and update succeeded (failed units send none).
- Plus what vanished from a successful listing (databases, schemas and their tables).
- A fail-safe threshold: above ``max_fraction`` of the scope, nothing is deleted and
  :class:`~airflow_provider_omingest.exceptions.DeletionRefused` names the numbers, unless a
  person confirmed the run. The scope is the same in every mode: the live catalog tables inside
  the filters before the run (measured by the plan), so neither a filter nor an incremental
  run's smaller units can dilute or inflate it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from airflow_provider_omingest.exceptions import DeletionRefused
from airflow_provider_omingest.models.fqn import split_fqn
from airflow_provider_omingest.models.units import UnitResult

__all__ = ["DeletionDecision", "decide_deletions"]


@dataclass(frozen=True)
class DeletionDecision:
    """The FQNs to delete (tables, then the schemas and databases that go with them) and the scope."""

    fqns: list[str]
    tables: int
    scope: int

    @property
    def fraction(self) -> float:
        """Share of the scope's tables to delete (0 when nothing is deleted)."""
        return self.tables / self.scope if self.scope else (1.0 if self.tables else 0.0)


def decide_deletions(
    results: list[UnitResult],
    *,
    scope: int,
    extra_fqns: Iterable[str] = (),
    max_fraction: float,
    confirmed: bool = False,
) -> DeletionDecision:
    """Return the deletions to apply, or raise if they exceed the fail-safe threshold.

    :param results: update results of the units that succeeded.
    :param scope: live catalog tables inside the filters before the run.
    :param extra_fqns: entities outside any unit that should go: vanished databases and
        schemas and their tables.
    :param max_fraction: the fail-safe threshold (0..1).
    :param confirmed: a person confirmed this run's deletions: skip the threshold.
    :raises DeletionRefused: when the share of tables to delete is above ``max_fraction``.
    """
    fqns = sorted({f for r in results for f in r.delete_candidates} | set(extra_fqns))
    tables = sum(1 for f in fqns if len(split_fqn(f)) == 4)
    decision = DeletionDecision(fqns=fqns, tables=tables, scope=max(scope, tables))
    if tables and not confirmed and decision.fraction > max_fraction:
        raise DeletionRefused(tables, decision.scope, max_fraction)
    return decision
