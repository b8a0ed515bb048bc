"""The plugin's UI parts that need no running Airflow: diff lines, the plugin's declarations, the lazy app."""

from __future__ import annotations

import subprocess
import sys

from airflow_provider_omingest.catalog.diff import diff_bodies
from airflow_provider_omingest.plugins.ui.diff_text import diff_lines


def test_diff_lines_read_like_the_stored_diff():
    old = {"name": "t", "description": "old", "columns": [
        {"name": "id", "data_type": "INT", "data_type_display": "INTEGER"}, {"name": "gone", "data_type": "INT"}],
        "source_digest": "a"}
    new = {"name": "t", "description": None, "columns": [
        {"name": "id", "data_type": "BIGINT", "data_type_display": "BIGINT"}, {"name": "email", "data_type": "VARCHAR"}],
        "source_digest": "b"}
    changes = diff_bodies(old, new)
    changes["moved_from"] = "svc.db.s.old_t"
    assert [line.text() for line in diff_lines(changes)] == [
        "column email: added",
        "column gone: removed",
        "column id data_type: INT → BIGINT",
        "column id data_type_display: INTEGER → BIGINT",
        "description: old → (none)",
        "name: moved from svc.db.s.old_t",
    ]


def test_structured_values_show_as_json_and_long_ones_are_cut():
    (tags, view) = diff_lines({"tags": {"old": [], "new": ["pii"]}, "view_definition": {"old": "x" * 1000, "new": "y"}})
    assert (tags.old, tags.new) == ("[]", '["pii"]')
    assert len(view.old) == 300 and view.old.endswith("…")


def test_the_plugin_declares_its_pages_without_importing_them():
    code = (
        "import sys\n"
        "from airflow_provider_omingest.plugins import OmingestPlugin as P\n"
        "assert 'fastapi' not in sys.modules and 'airflow_provider_omingest.plugins.ui.app' not in sys.modules\n"
        "views = {v['name']: v for v in P.external_views}\n"
        "assert views['What changed']['destination'] == 'dag_run'\n"
        "assert views['What changed']['href'] == '/omingest/runs/{DAG_ID}/{RUN_ID}'\n"
        "assert views['Catalog']['destination'] == 'nav' and views['Catalog']['href'] == '/omingest/catalog/'\n"
        "assert P.fastapi_apps[0]['url_prefix'] == '/omingest'\n"
        "app = P.fastapi_apps[0]['app'].load()\n"
        "assert {r.path for r in app.routes} >= {'/runs/{dag_id}/{run_id:path}', '/catalog/', '/catalog/entity'}\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]


def test_a_base_url_path_prefixes_the_links(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/team-a/")
    code = ("from airflow_provider_omingest.plugins import OmingestPlugin as P\n"
            "print(P.external_views[0]['href'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "/team-a/omingest/runs/{DAG_ID}/{RUN_ID}", out.stderr[-2000:]
