"""Turn the field-level diff the catalog stores with each version into lines a person reads.

The diff's shape is :func:`airflow_provider_omingest.catalog.diff.diff_bodies`'s: top-level
fields as ``{field: {"old", "new"}}``, columns as ``{"added", "removed", "changed"}``, and
``moved_from`` / ``moved_to`` for renames and moves.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

__all__ = ["DiffLine", "diff_lines", "show_value"]

_MAX_VALUE = 300
#: Stored with each diff but not structure a person reads (the source's own digest changes with it).
_HIDDEN = frozenset({"source_digest"})


class DiffLine(BaseModel):
    """One change: where (``path``), what it was and what it is; ``note`` for adds, removes and moves."""

    path: str
    old: str | None = None
    new: str | None = None
    note: str | None = None

    def text(self) -> str:
        """Return the line as plain text, e.g. ``column amount data_type: INT → DECIMAL``."""
        if self.note:
            return f"{self.path}: {self.note}"
        return f"{self.path}: {self.old} → {self.new}"


def show_value(value: Any) -> str:
    """Return a short text for a stored value (JSON for structures; long texts cut)."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def diff_lines(changes: dict[str, Any]) -> list[DiffLine]:
    """Return the lines of one stored diff, columns first, in the order the diff lists them."""
    lines: list[DiffLine] = []
    columns = changes.get("columns")
    if isinstance(columns, dict) and {"added", "removed", "changed"} & set(columns):
        for name in columns.get("added") or ():
            lines.append(DiffLine(path=f"column {name}", note="added"))
        for name in columns.get("removed") or ():
            lines.append(DiffLine(path=f"column {name}", note="removed"))
        for name, fields in (columns.get("changed") or {}).items():
            for field, values in fields.items():
                lines.append(_pair(f"column {name} {field}", values))
    for field, values in changes.items():
        if field in _HIDDEN or (field == "columns" and lines):
            continue
        if field in ("moved_from", "moved_to"):
            lines.append(DiffLine(path="name", note=f"{field.replace('_', ' ')} {values}"))
            continue
        lines.append(_pair(field, values))
    return lines


def _pair(path: str, values: Any) -> DiffLine:
    if isinstance(values, dict) and set(values) <= {"old", "new"}:
        return DiffLine(path=path, old=show_value(values.get("old")), new=show_value(values.get("new")))
    return DiffLine(path=path, note=show_value(values))
