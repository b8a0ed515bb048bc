"""The provider's UI pages in a real api-server: who may see them, and what a person sees in a browser.

One Airflow 3.3 home on SQLite: ``airflow dags test`` runs the ingestion twice (full, then
incremental after the demo warehouse changed) into an embedded SQLite catalog, then an
api-server serves the UI with the provider's plugin. The tests

- call the pages without credentials (refused: Airflow mounts plugin apps without any auth),
  with a bad token (refused) and with a token from ``POST /auth/token`` (served);
- log in with headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by
  selenium), open "What changed" of the second run inside the Airflow UI, read the changed
  table's diff, open the entity page of a view and read its lineage, and save screenshots
  under ``$OMINGEST_ARTIFACTS`` (default ``.omingest/artifacts/screenshots/``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import textwrap
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest

from airflow_provider_omingest.demo.warehouse import build_demo_warehouse, mutate_demo_warehouse
from tests.e2e.airflow_procs import BIN, AirflowApi, ProcessGroup, admin_password, airflow_env, free_port, \
    health_ok, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "omingest_ui"
CATALOG_CONN = "ui_catalog"
CHANGED_TABLE = "demo.warehouse.finance.invoices"
CHANGED_DIFF = ("column amount data_type_display", "DECIMAL(12,2)", "DECIMAL(14,2)")
VIEW = "demo.warehouse.sales.v_customer_orders"
VIEW_UPSTREAM = "demo.warehouse.sales.customers"
SCREENSHOTS = Path(os.environ.get("OMINGEST_ARTIFACTS", REPO / ".omingest" / "artifacts")) / "screenshots"

DAG_FILE = f'''
"""UI test DAG: the demo warehouse into an embedded SQLite catalog."""
from airflow_provider_omingest import build_ingestion_dag

dag = build_ingestion_dag("{DAG_ID}", source_conn_id="ui_warehouse", catalog_conn_id="{CATALOG_CONN}",
                          service="demo", retries=0)
'''


class Ui:
    """The running api-server, its two ingestion runs, and a logged-in API client."""

    def __init__(self, base_url: str, home: Path, procs: ProcessGroup, password: str, runs: list[str]) -> None:
        self.base_url, self.home, self.procs, self.password, self.runs = base_url, home, procs, password, runs
        self.api = AirflowApi(base_url, "admin", password)

    @property
    def token(self) -> str:
        return self.api.client.headers["Authorization"].split(" ", 1)[1]

    def run_page(self, run_id: str) -> str:
        return f"{self.base_url}/omingest/runs/{quote(DAG_ID, safe='')}/{quote(run_id, safe='')}"

    def entity_page(self, fqn: str) -> str:
        return f"{self.base_url}/omingest/catalog/entity?{urlencode({'catalog': CATALOG_CONN, 'fqn': fqn})}"


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    home, dags = root / "airflow", root / "airflow" / "dags"
    dags.mkdir(parents=True)
    (dags / f"{DAG_ID}.py").write_text(textwrap.dedent(DAG_FILE))
    warehouse = build_demo_warehouse(root / "warehouse.duckdb")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = airflow_env(
        home,
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API__SECRET_KEY=secrets.token_hex(16),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
        AIRFLOW__OMINGEST__SNAPSHOT_PATH=f"file://{root}/snapshots",
        AIRFLOW_CONN_UI_WAREHOUSE=json.dumps({"conn_type": "duckdb", "host": str(warehouse)}),
        AIRFLOW_CONN_UI_CATALOG=json.dumps({"conn_type": "sqlite", "host": str(root / "catalog.db")}),
    )
    procs = ProcessGroup(root / "process-logs", env)
    started = time.monotonic()
    timings: dict[str, float] = {}

    def step(name: str, args: list[str]) -> None:
        t0 = time.monotonic()
        procs.run(name, args, timeout=180)
        timings[name] = time.monotonic() - t0

    try:
        step("db-migrate", [str(BIN / "airflow"), "db", "migrate"])
        # The api-server starts while the two runs go on (it only reads until the tests begin).
        procs.start("api-server", [str(BIN / "airflow"), "api-server", "--port", str(port)])
        step("run-full", [str(BIN / "airflow"), "dags", "test", DAG_ID])
        mutate_demo_warehouse(warehouse)
        step("run-incremental", [str(BIN / "airflow"), "dags", "test", DAG_ID])

        def healthy():
            procs.check_alive()
            return health_ok(base_url) and admin_password(home)

        password = wait_until("the api-server to be healthy", healthy, 120, lambda: procs.tail("api-server", 60))
        api = AirflowApi(base_url, "admin", password)
        runs = api.get(f"/dags/{DAG_ID}/dagRuns", params={"order_by": "start_date"})["dag_runs"]
        api.close()
        assert [r["state"] for r in runs] == ["success", "success"], runs
        ui = Ui(base_url, home, procs, password, [r["dag_run_id"] for r in runs])
        print(f"\nUI stack ready in {time.monotonic() - started:.1f} s ("
              + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + ")")
        yield ui
        ui.api.close()
    finally:
        procs.stop()
        assert not procs.leftovers()


def test_the_plugin_adds_a_run_view_and_a_navigation_entry(ui):
    (plugin,) = [p for p in ui.api.get("/plugins")["plugins"] if p["name"] == "omingest"]
    views = {v["name"]: v for v in plugin["external_views"]}
    assert views["What changed"]["destination"] == "dag_run"
    assert views["What changed"]["href"] == "/omingest/runs/{DAG_ID}/{RUN_ID}"
    assert views["Catalog"]["destination"] == "nav"
    assert [a["url_prefix"] for a in plugin["fastapi_apps"]] == ["/omingest"]


@pytest.mark.parametrize("path", ["run", "catalog", "entity"])
def test_anonymous_and_bad_tokens_are_refused(ui, path):
    url = {"run": ui.run_page(ui.runs[1]), "catalog": f"{ui.base_url}/omingest/catalog/",
           "entity": ui.entity_page(CHANGED_TABLE)}[path]
    anonymous = httpx.get(url, timeout=30)
    assert anonymous.status_code == 401, anonymous.text[:500]
    assert "Log in" in anonymous.text and not _shows_catalog_data(anonymous.text)
    forged = httpx.get(url, timeout=30, headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code in (401, 403) and not _shows_catalog_data(forged.text)
    bad_cookie = httpx.get(url, timeout=30, cookies={"_token": "x.y.z"})
    assert bad_cookie.status_code in (401, 403) and not _shows_catalog_data(bad_cookie.text)
    served = httpx.get(url, timeout=30, headers={"Authorization": f"Bearer {ui.token}"})
    assert served.status_code == 200, served.text[:2000]
    assert _shows_catalog_data(served.text)


def _shows_catalog_data(html: str) -> bool:
    """Whether a page shows catalog content: entity links or the search form."""
    return 'class="fqn"' in html or 'class="search"' in html


def test_what_changed_lists_the_updated_table_with_its_diff(ui):
    page = httpx.get(ui.run_page(ui.runs[1]), timeout=30, cookies={"_token": ui.token})
    assert page.status_code == 200, page.text[:2000]
    html = page.text
    assert CHANGED_TABLE in html and "demo.warehouse.marketing.email_sends" in html  # updated, created
    for text in CHANGED_DIFF:
        assert text in html
    first = httpx.get(ui.run_page(ui.runs[0]), timeout=30, cookies={"_token": ui.token}).text
    assert "full" in first and "v_customer_orders" in first  # the full run created everything


def test_an_unknown_catalog_is_refused(ui):
    resp = httpx.get(f"{ui.base_url}/omingest/catalog/entity", timeout=30, cookies={"_token": ui.token},
                     params={"catalog": "omingest_other", "fqn": CHANGED_TABLE})
    assert resp.status_code == 403 and "omingest_other" in resp.text


def test_search_pages_through_names(ui):
    resp = httpx.get(f"{ui.base_url}/omingest/catalog/", timeout=30, cookies={"_token": ui.token},
                     params={"catalog": CATALOG_CONN, "q": "V_"})
    assert resp.status_code == 200
    assert "v_customer_orders" in resp.text and "invoices" not in resp.text


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through chromedriver (Debian packages ``chromium`` and ``chromium-driver``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not (driver_path and binary):
        pytest.fail("headless Chromium is missing: apt-get install chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--lang=en-US"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"\nscreenshot: {path}")
    return path


def test_a_person_logs_in_and_sees_what_changed_and_the_lineage(ui, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    run_id = ui.runs[1]
    # An anonymous visitor is sent to Airflow's login, which brings them back.
    tab = f"{ui.base_url}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/plugin/omingest-what-changed"
    browser.get(tab)
    wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(ui.password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "/auth/" not in d.current_url)
    if "/plugin/omingest-what-changed" not in browser.current_url:
        browser.get(tab)

    # The "What changed" tab of the run, inside the Airflow UI: the page is an iframe.
    frame = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "iframe[title='What changed']")))
    browser.switch_to.frame(frame)
    change = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f"div.entity-change[data-fqn='{CHANGED_TABLE}']")))
    text = change.text
    for expected in CHANGED_DIFF:
        assert expected in text, text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", change)
    browser.switch_to.default_content()
    time.sleep(0.5)  # let the UI finish drawing around the frame
    _shot(browser, "what-changed-in-airflow")

    # The same page on its own, then a click through to the view's entity page.
    browser.get(ui.run_page(run_id))
    assert "What changed" in browser.title
    _shot(browser, "what-changed")
    browser.get(ui.entity_page(VIEW))
    lineage = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.lineage")))
    upstream = [a.text for a in lineage.find_elements(By.CSS_SELECTOR, "tr.upstream a")]
    assert VIEW_UPSTREAM in upstream, lineage.text
    columns = browser.find_element(By.CSS_SELECTOR, "table.columns").text
    assert "customer_id" in columns
    _shot(browser, "entity-view-lineage")
    browser.find_element(By.LINK_TEXT, VIEW_UPSTREAM).click()
    wait.until(lambda d: VIEW_UPSTREAM in d.title)
    downstream = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.lineage tr.downstream a")]
    assert VIEW in downstream

    # The catalog browser in the navigation.
    browser.get(f"{ui.base_url}/plugin/omingest-catalog")
    frame = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "iframe[title='Catalog']")))
    browser.switch_to.frame(frame)
    box = wait.until(ec.presence_of_element_located((By.NAME, "q")))
    box.send_keys("inv")
    box.submit()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.results a.fqn")))
    assert [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.results a.fqn")] == ["invoices"]
    browser.switch_to.default_content()
    _shot(browser, "catalog-search-in-airflow")
