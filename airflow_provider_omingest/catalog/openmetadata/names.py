"""OpenMetadata's fully qualified names (``FullyQualifiedName.java`` / the SDK's ``utils/fqn.py``).

A part containing ``.`` is wrapped in double quotes; a name containing ``"`` cannot be held at
all (the server's ``quoteName`` refuses it). Our own FQNs (:mod:`~airflow_provider_omingest.models.fqn`)
double inner quotes instead, so the two agree on every name OpenMetadata can hold.
"""

from __future__ import annotations

__all__ = ["UnrepresentableName", "om_fqn", "om_split", "quote_name"]


class UnrepresentableName(ValueError):
    """A name OpenMetadata cannot hold (it contains a double quote)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"OpenMetadata cannot hold the name {name!r}: its fully qualified names refuse '\"' "
                         "(FullyQualifiedName.quoteName); rename it at the source or filter it out")
        self.name = name


def quote_name(name: str) -> str:
    """Return ``name`` as one part of an OpenMetadata FQN.

    :raises UnrepresentableName: when the name contains a double quote.
    """
    if not name or '"' in name:
        raise UnrepresentableName(name)
    return f'"{name}"' if "." in name else name


def om_fqn(*parts: str) -> str:
    """Return OpenMetadata's fully qualified name of ``parts``.

    :raises UnrepresentableName: when a part contains a double quote.
    """
    return ".".join(quote_name(p) for p in parts)


def om_split(fqn: str) -> list[str]:
    """Split an OpenMetadata FQN into its (unquoted) names."""
    parts, current, quoted = [], [], False
    for char in fqn:
        if char == '"':
            quoted = not quoted
            continue
        if char == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
