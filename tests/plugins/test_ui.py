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


def _render(template: str, **context):
    from starlette.requests import Request

    from airflow_provider_omingest.plugins.ui import app

    request = Request({"type": "http", "method": "GET", "path": "/x", "root_path": "/base/omingest",
                       "headers": [], "query_string": b""})
    return app._TEMPLATES.get_template(template).render(user_name="ann", **app._links(request), **context)


def test_the_run_page_shows_failed_units_with_their_errors_and_escapes_everything():
    from datetime import datetime, timezone

    from airflow_provider_omingest.catalog.base import RunRecord
    from airflow_provider_omingest.catalog.browse import RunChange, RunChangePage
    from airflow_provider_omingest.plugins.ui.catalogs import IngestionTask

    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    run = RunRecord(run_id="manual__1", service="svc", mode="full", status="failed", started_at=now, ended_at=now,
                    summary={"mode_reason": "asked", "schemas": {"sales": {"created": 1, "failed": 1}},
                             "totals": {"created": 1, "failed": 1}, "failed_units": ["db.sales#0"],
                             "unit_errors": {"db.sales#0": "SourceError: permission denied <for> sales"},
                             "failure": "1 of 2 units failed"})
    evil = 'svc.db.s."<script>alert(1)</script>"'
    updated = RunChangePage(run_id="manual__1", change="updated", items=[RunChange(
        id=7, fqn=evil, kind="table", change="updated", version=2, changed_at=now,
        changes={"description": {"old": "<b>old</b>", "new": "new"}})])
    created = RunChangePage(run_id="manual__1", change="created", items=[], next_after=None)
    html = _render("run.html", title="t", dag_id="d<x>", run_id="manual__1", more=None, sections=[{
        "ingestion": IngestionTask("d<x>", "summary", "cat"), "run": run, "browsable": True,
        "changes": [updated, created]}])
    assert "SourceError: permission denied &lt;for&gt; sales" in html and "db.sales#0" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>old</b>" not in html and "&lt;b&gt;old&lt;/b&gt;" in html
    assert "d&lt;x&gt;" in html and "d<x>" not in html
    assert 'href="/base/omingest/catalog/entity?catalog=cat&amp;fqn=svc.db.s.%22%3Cscript%3E' in html
    assert 'href="/base/dags/d%3Cx%3E/runs/manual__1"' in html  # the run in Airflow, under the base path
