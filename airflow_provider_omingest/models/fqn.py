"""Fully qualified names: ``service.database.schema.table``.

A part that contains a dot or a double quote is wrapped in double quotes, inner quotes doubled,
as OpenMetadata does for names with dots. :func:`split_fqn` is the exact inverse of
:func:`build_fqn`.
"""

from __future__ import annotations

__all__ = ["build_fqn", "quote_part", "split_fqn"]


def quote_part(part: str) -> str:
    """Quote one name part if it contains a dot or a double quote."""
    if not part:
        raise ValueError("A fully qualified name part must not be empty.")
    if "." in part or '"' in part:
        return '"' + part.replace('"', '""') + '"'
    return part


def build_fqn(*parts: str) -> str:
    """Join name parts into a fully qualified name, quoting where needed."""
    return ".".join(quote_part(p) for p in parts)


def split_fqn(fqn: str) -> list[str]:
    """Split a fully qualified name into its unquoted parts.

    :raises ValueError: if quotes are unbalanced or a part is empty.
    """
    parts: list[str] = []
    i, n = 0, len(fqn)
    while i <= n:
        if i < n and fqn[i] == '"':
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise ValueError(f"Unbalanced quote in fully qualified name {fqn!r}.")
                if fqn[i] == '"':
                    if i + 1 < n and fqn[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(fqn[i])
                i += 1
            if i < n and fqn[i] != ".":
                raise ValueError(f"Unexpected character after quoted part in {fqn!r}.")
            parts.append("".join(buf))
        else:
            j = fqn.find(".", i)
            j = n if j == -1 else j
            part = fqn[i:j]
            if not part or '"' in part:
                raise ValueError(f"Malformed fully qualified name {fqn!r}.")
            parts.append(part)
            i = j
        i += 1
    return parts
