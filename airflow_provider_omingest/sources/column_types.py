"""Column types as every source reports them: OpenMetadata's type plus the facts the catalog keeps.

Pure and driver-free, so each warehouse's mapping module uses it without importing another
source's package.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from airflow_provider_omingest.models.entities import Column

__all__ = ["TypeInfo", "split_top_level"]


class TypeInfo(NamedTuple):
    """A column type, normalised: OpenMetadata's type plus the facts the catalog keeps."""

    data_type: str
    data_type_display: str
    array_data_type: str | None = None
    data_length: int | None = None
    precision: int | None = None
    scale: int | None = None

    def column(self, name: str, **fields: Any) -> Column:
        """Return a column of this type; ``fields`` set the other fields (and may override the type's)."""
        return Column(name=name, **{**self._asdict(), **fields})


def split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses and double quotes."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts
