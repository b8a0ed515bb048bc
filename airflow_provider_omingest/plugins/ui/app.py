"""The provider's pages in the Airflow UI: a run's "What changed" and the catalog browser.

A FastAPI app that the plugin mounts under ``/omingest`` in the api-server. Airflow mounts
plugin apps as they are (``airflow.api_fastapi.app.init_plugins``), without authentication, so
every page asks Airflow's auth manager itself, with the dependencies of Airflow's own API
(``airflow.api_fastapi.core_api.security``): the JWT from the ``Authorization`` header or the
UI's ``_token`` cookie, then

- ``/runs/{dag_id}/{run_id}``: the user may read the runs of that DAG;
- ``/catalog/...``: the user may read a DAG tagged ``omingest`` that writes to that catalog.

Pages are rendered on the server with Jinja2 (autoescaped). Every catalog read is one paged,
indexed query (:mod:`airflow_provider_omingest.catalog.browse`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag

from airflow_provider_omingest.catalog.browse import CHANGE_KINDS, CatalogBrowser
from airflow_provider_omingest.plugins.ui import catalogs
from airflow_provider_omingest.plugins.ui.diff_text import diff_lines, show_value

if TYPE_CHECKING:
    from airflow_provider_omingest.catalog.base import Catalog

__all__ = ["PAGE_SIZE", "create_app"]

log = logging.getLogger(__name__)

#: Rows per page in every list.
PAGE_SIZE = 50
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                         trim_blocks=True, lstrip_blocks=True)
_TEMPLATES.filters["show"] = show_value
_TEMPLATES.globals["diff_lines"] = diff_lines
_TEMPLATES.globals["col_text"] = lambda c: f"{', '.join(c.upstream_columns)} → {c.downstream_column}"


def create_app() -> FastAPI:
    """Return the FastAPI app of the omingest pages (mounted by the plugin under ``/omingest``)."""
    app = FastAPI(title="omingest", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(StarletteHTTPException, _error_page)

    @app.get("/runs/{dag_id}/{run_id:path}", response_class=HTMLResponse, name="what_changed",
             dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))])
    def what_changed(request: Request, dag_id: str, run_id: str, user: GetUserDep,
                     more: Annotated[str | None, Query()] = None,
                     after: Annotated[int | None, Query()] = None) -> HTMLResponse:
        """Show what one ingestion run created, updated, restored and deleted, and its failed units."""
        ingestions = catalogs.ingestions_of(dag_id)
        if not ingestions:
            raise HTTPException(404, f"DAG {dag_id!r} has no omingest ingestion (no omingest summary task).")
        sections = []
        for ingestion in ingestions:
            catalog = _open(ingestion.catalog_conn_id)
            run = catalog.get_run(run_id)
            section: dict[str, Any] = {"ingestion": ingestion, "run": run, "changes": [], "browsable": False}
            browser = _browser(catalog)
            if run is not None and browser is not None:
                section["browsable"] = True
                for change in CHANGE_KINDS:
                    page = browser.run_changes(run_id, change, service=run.service, limit=PAGE_SIZE,
                                               after=after if more == change else None)
                    section["changes"].append(page)
            sections.append(section)
        return _render(request, "run.html", user, title=f"What changed: {dag_id} / {run_id}", dag_id=dag_id,
                       run_id=run_id, sections=sections, more=more)

    @app.get("/catalog/", response_class=HTMLResponse, name="catalog_search")
    def catalog_search(request: Request, user: GetUserDep,
                       catalog: Annotated[str | None, Query()] = None,
                       q: Annotated[str, Query(max_length=200)] = "",
                       after: Annotated[str | None, Query()] = None,
                       deleted: Annotated[bool, Query()] = False) -> HTMLResponse:
        """Search a catalog's tables by name (prefix, ASCII case folded), a page at a time."""
        allowed = catalogs.browsable_catalogs(user)
        conn_id = _chosen_catalog(catalog, allowed)
        page = None
        if conn_id is not None:
            browser = _browser(_open(conn_id))
            if browser is None:
                return _render(request, "message.html", user, title="Catalog browser",
                               message=f"Catalog {conn_id!r} is not an embedded catalog: browse it in its own UI.")
            page = browser.search(q, after=after, limit=PAGE_SIZE, include_deleted=deleted)
        return _render(request, "catalog.html", user, title="Catalog", catalogs=allowed, catalog=conn_id,
                       q=q, deleted=deleted, results=page)

    @app.get("/catalog/entity", response_class=HTMLResponse, name="catalog_entity")
    def catalog_entity(request: Request, user: GetUserDep,
                       catalog: Annotated[str, Query()],
                       fqn: Annotated[str, Query(max_length=2000)],
                       before: Annotated[int | None, Query()] = None) -> HTMLResponse:
        """Show one entity: columns, keys, tags, lineage and its versions (newest first, paged)."""
        conn_id = _chosen_catalog(catalog, catalogs.browsable_catalogs(user))
        store = _open(conn_id)
        browser = _browser(store)
        entity = store.get(fqn)
        if entity is None or browser is None:
            raise HTTPException(404, f"No entity {fqn!r} in catalog {conn_id!r}.")
        versions = browser.versions(fqn, before=before, limit=PAGE_SIZE)
        return _render(request, "entity.html", user, title=fqn, catalog=conn_id, fqn=fqn, entity=entity,
                       versions=versions, lineage=_lineage(store, fqn))

    return app


def _lineage(catalog: Catalog, fqn: str) -> Any:
    """Return the entity's lineage when the catalog keeps lineage, else None."""
    reader = getattr(catalog, "lineage", None)
    if reader is None:
        return None
    try:
        return reader(fqn)
    except NotImplementedError:
        return None


def _chosen_catalog(requested: str | None, allowed: dict[str, list[str]]) -> str | None:
    """Return the catalog to browse: the requested one if the user may, the only one, or None."""
    if requested:
        if requested not in allowed:
            raise HTTPException(403, f"You may not browse catalog {requested!r}: it is not the catalog of an "
                                     "omingest DAG you can read.")
        return requested
    return next(iter(allowed)) if len(allowed) == 1 else None


def _open(conn_id: str) -> Catalog:
    try:
        return catalogs.open_catalog(conn_id)
    except Exception as e:  # a missing or broken connection: say which, never its settings
        log.warning("omingest UI: cannot open catalog %r: %s", conn_id, e)
        raise HTTPException(502, f"Cannot open catalog connection {conn_id!r}: {type(e).__name__}: {e}") from e


def _browser(catalog: Catalog) -> CatalogBrowser | None:
    from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog

    return CatalogBrowser(catalog) if isinstance(catalog, SqlCatalog) else None


def _links(request: Request) -> dict[str, Any]:
    """Return URL builders relative to where the app is mounted (behind any base path)."""
    here = request.scope.get("root_path", "").rstrip("/")
    airflow = here.rsplit("/", 1)[0] if here else ""

    def page(path: str, **params: Any) -> str:
        query = urlencode({k: v for k, v in params.items() if v not in (None, "", False)})
        return f"{here}{path}{'?' + query if query else ''}"

    def run(dag_id: str, run_id: str, **params: Any) -> str:
        return page(f"/runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}", **params)

    def airflow_run(dag_id: str, run_id: str) -> str:
        return f"{airflow}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"

    return {"page": page, "run_link": run, "airflow_run": airflow_run, "airflow_home": f"{airflow}/"}


def _render(request: Request, template: str, user: Any, status_code: int = 200, **context: Any) -> HTMLResponse:
    name = user.get_name() if user is not None else None
    html = _TEMPLATES.get_template(template).render(user_name=name, **_links(request), **context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


async def _error_page(request: Request, exc: Exception) -> HTMLResponse:
    status_code = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", None)
    message = detail if isinstance(detail, str) else "Something went wrong."
    login = None
    if status_code == 401:
        message = "Log in to Airflow to see this page."
        login = _login_url(request)
    html = _TEMPLATES.get_template("message.html").render(
        title=f"{status_code}", message=message, login=login, user_name=None, **_links(request))
    headers = dict(getattr(exc, "headers", None) or {})
    return HTMLResponse(html, status_code=status_code, headers=headers)


def _login_url(request: Request) -> str:
    try:
        from airflow.api_fastapi.app import get_auth_manager

        base = get_auth_manager().get_url_login()
    except Exception:  # noqa: BLE001 - the page still refuses; only the link is missing
        return ""
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{base}{'&' if '?' in base else '?'}{urlencode({'next': path})}"
