"""Where OpenMetadata's JSON Schemas are: ``OMINGEST_OPENMETADATA_SPEC`` or ``<repo>/../shared/openmetadata-spec``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["SPEC_ENV_VAR", "resolve_spec_dir", "spec_dir"]

#: Environment variable naming the folder of OpenMetadata's JSON Schemas.
SPEC_ENV_VAR = "OMINGEST_OPENMETADATA_SPEC"
_DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "openmetadata-spec"


def resolve_spec_dir() -> Path:
    """Return the folder of OpenMetadata's JSON Schemas.

    :raises FileNotFoundError: saying where it looked and how to point at the folder.
    """
    path = Path(os.environ.get(SPEC_ENV_VAR) or _DEFAULT).expanduser()
    if not (path / "api" / "data" / "createTable.json").is_file():
        raise FileNotFoundError(
            f"OpenMetadata's JSON Schemas were not found at {path} (no api/data/createTable.json there). "
            f"Set the environment variable {SPEC_ENV_VAR} to the folder that holds them "
            "(a copy of openmetadata-spec/src/main/resources/json/schema/ of open-metadata/OpenMetadata)."
        )
    return path


def spec_dir() -> Path:
    """Return the folder of OpenMetadata's JSON Schemas; fail the test (never skip) when it is absent."""
    try:
        return resolve_spec_dir()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
