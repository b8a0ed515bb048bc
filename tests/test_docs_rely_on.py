"""The "What we rely on" tables of the warehouse docs: every row cites a vendor page and tests that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

#: doc -> the test folder its bare test file names are in.
DOCS = {"snowflake.md": "tests/snowflake", "redshift.md": "tests/redshift", "bigquery.md": "tests/bigquery",
        "postgres.md": "tests/sources"}

_REF = re.compile(r"`((?:[\w/]+\.py)?(?:::[\w\[\]-]+)+|[\w/]+\.py)`")


def _rows(doc: str) -> list[list[str]]:
    text = (REPO / "docs" / doc).read_text()
    assert "## What we rely on" in text, f"docs/{doc} has no 'What we rely on' section"
    section = text.split("## What we rely on", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def _tests_in(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_every_row_cites_a_page_a_privilege_and_existing_tests(doc: str) -> None:
    rows = _rows(doc)
    assert len(rows) >= 5, f"docs/{doc}: the table lists every call the source sends"
    for call, page, privilege, tests in rows:
        assert "https://" in page, f"docs/{doc}: {call!r} cites no vendor page"
        assert privilege, f"docs/{doc}: {call!r} names no privilege"
        current: Path | None = None
        refs = _REF.findall(tests)
        assert refs, f"docs/{doc}: {call!r} names no test"
        for ref in refs:
            file, _, rest = ref.partition("::")
            if file:
                current = REPO / file if "/" in file else REPO / DOCS[doc] / file
                assert current.is_file(), f"docs/{doc}: {current} does not exist"
            if not rest:
                continue
            assert current is not None, f"docs/{doc}: {ref!r} has no file before it"
            for name in rest.split("::"):
                name = name.split("[", 1)[0]
                if name:
                    assert name in _tests_in(current), f"docs/{doc}: {name} is not in {current.name}"
