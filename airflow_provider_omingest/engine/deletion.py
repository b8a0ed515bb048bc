"""Decide what the delete stage may delete, under the deletion-safety rules.

- Only candidates from units whose extract and update succeeded (failed units send none).
- Plus the tables of schemas that vanished from a successful listing, and (incremental runs)
  the tables the source flagged as dropped.
- A fail-safe threshold: above ``max_fraction`` of the tables in scope, nothing is deleted and
  :class:`~airflow_provider_omingest.exceptions.DeletionRefused` names the numbers, unless a
  person confirmed the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_omingest.exceptions import DeletionRefused
from airflow_provider_omingest.models.units import UnitResult

__all__ = ["DeletionDecision", "decide_deletions"]


@dataclass(frozen=True)
class DeletionDecision:
    """The FQNs to delete, and the scope they were measured against."""

    fqns: list[str]
    scope: int

    @property
    def fraction(self) -> float:
        """Share of the scope to delete (0 when the scope is empty)."""
        return len(self.fqns) / self.scope if self.scope else 0.0


def decide_deletions(
    results: list[UnitResult],
    *,
    extra_fqns: list[str] = (),  # type: ignore[assignment]
    extra_scope: int = 0,
    min_scope: int = 0,
    max_fraction: float,
    confirmed: bool = False,
) -> DeletionDecision:
    """Return the deletions to apply, or raise if they exceed the fail-safe threshold.

    :param results: update results of the units that succeeded.
    :param extra_fqns: tables (and schema entities) outside any unit that should go: vanished
        schemas, tables flagged dropped by the source.
    :param extra_scope: live tables those extra deletions were measured against.
    :param min_scope: the scope is at least this (the tables the source listed in scope): an
        incremental run's units cover only the changed schemas, yet a drop is measured against
        everything the run keeps in sync.
    :param max_fraction: the fail-safe threshold (0..1).
    :param confirmed: a person confirmed this run's deletions: skip the threshold.
    :raises DeletionRefused: when the share to delete is above ``max_fraction``.
    """
    fqns = sorted({f for r in results for f in r.delete_candidates} | set(extra_fqns))
    scope = max(sum(r.scope_size for r in results) + extra_scope, min_scope)
    decision = DeletionDecision(fqns=fqns, scope=max(scope, len(fqns)))
    if fqns and not confirmed and decision.fraction > max_fraction:
        raise DeletionRefused(len(fqns), decision.scope, max_fraction)
    return decision
