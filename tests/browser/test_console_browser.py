"""The console in a real Chromium (Debian's, driven by Playwright), against a live server.

Skips with the reason where no Chromium is installed; fails instead when CI or
AUDITOR_REQUIRE_BROWSER is set (.ci/run sets it), since CI installs it (scripts/bootstrap).
With AUDITOR_SCREENSHOTS=DIR the tests save screenshots of the main pages there (the
README's come from `make screenshots`).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from auditor.config import Settings
from auditor.rules.loader import default_rules_dir
from auditor.services import uploads
from tests.conftest import LICENSE
from tests.console.conftest import DAY, PASSWORD, TAG2, TAG4, TAG5, email, seed

CHROMIUM = os.environ.get("AUDITOR_CHROMIUM", "/usr/bin/chromium")
LATER = "2026-01-07"
BASE = f"/console/licenses/{LICENSE.number}"
pytestmark = pytest.mark.slow


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") or os.environ.get("AUDITOR_REQUIRE_BROWSER"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Flask]]:
    """Serve a seeded console on a free local port for the module's tests."""
    folder = tmp_path_factory.mktemp("console")
    app = seed(Settings(database_url=f"sqlite:///{folder / 'auditor.db'}"))
    app.config["CONSOLE_REFRESH_SECONDS"] = 1  # the today page polls every second here
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    app.extensions["auditor"]["store"].engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, live: tuple[str, Flask]) -> Iterator[Any]:
    context = browser.new_context(base_url=live[0], viewport={"width": 1024, "height": 768},
                                  accept_downloads=True, timezone_id="UTC")
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot when AUDITOR_SCREENSHOTS names a folder."""
    folder = os.environ.get("AUDITOR_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"console-{name}.png"), full_page=True)


SHIPPED = int(re.search(r"^version: (\d+)$", (default_rules_dir() / "core" /
                        "pos-sale-unreported.yaml").read_text(), re.M)[1])
NEXT = SHIPPED + 1


def sign_in(page: Any, role: str) -> None:
    page.goto("/")
    page.get_by_label("Email").fill(email(role))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your licenses").wait_for()


def start_audit(page: Any, start: str = DAY, end: str = LATER) -> None:
    page.goto(f"{BASE}/audits")
    page.get_by_label("From (local date)").fill(start)
    page.get_by_label("To (local date, inclusive)").fill(end)
    page.get_by_role("button", name="Start audit").click()
    page.get_by_text("The audit ran.").wait_for()


def test_sign_in_from_the_root_with_the_keyboard(page: Any) -> None:
    page.goto("/")
    assert page.url.endswith("/console/sign-in?next=/console/")
    shot(page, "sign-in")
    page.get_by_label("Email").fill(email("associate"))
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your licenses").wait_for()
    cookie = next(c for c in page.context.cookies() if c["name"] == "auditor_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_the_today_page_refreshes_itself_when_new_events_arrive(
        page: Any, live: tuple[str, Flask]) -> None:
    sign_in(page, "associate")
    page.goto(f"{BASE}/today?day={DAY}")
    page.get_by_role("heading", name="Deliveries to finish (1)").wait_for()
    assert page.get_by_role("heading", name="Moves without a METRC location change (1)")
    page.get_by_role("heading", name="Replenish the sales floor from the vault").wait_for()
    # The packages about to be moved: first-expiring first, METRC's change first where needed.
    picks = page.get_by_role("region", name="Packages to bring to the sales floor (2)")
    rows = picks.get_by_role("row")
    assert TAG5 in rows.nth(1).inner_text() and "METRC already shows it" in rows.nth(1).inner_text()
    assert TAG4 in rows.nth(2).inner_text()
    assert "Change the location in METRC first" in rows.nth(2).inner_text()
    shot(page, "today")
    secret = live[1].config["TEST_SECRETS"]["associate"]
    move = {"type": "move", "occurred_at": f"{DAY}T12:00:00-08:00", "package_label": TAG2,
            "natural_key": "browser-move", "payload": {
                "moved_at": f"{DAY}T12:00:00-08:00", "label": TAG2, "from_location": "Vault",
                "to_location": "Sales Floor", "quantity": 1, "unit": "Each"}}
    answer = live[1].test_client().post(
        f"/licenses/{LICENSE.number}/imports?format=events",
        headers={"Authorization": f"Bearer {secret}"},
        data={"file": (io.BytesIO(json.dumps(move).encode()), "move.ndjson")},
        content_type="multipart/form-data")
    assert answer.status_code == 201
    # No reload: htmx polls the lists and swaps the new move in.
    page.get_by_role("heading", name="Moves without a METRC location change (2)").wait_for()
    assert page.get_by_text(f"Package {TAG2} was moved to Sales Floor").is_visible()


def test_an_officer_waives_a_finding(page: Any) -> None:
    sign_in(page, "compliance_officer")
    for end in ("2026-01-04", DAY, LATER):  # three runs for the trend chart
        start_audit(page, "2026-01-01", end)
    page.goto(f"{BASE}/dashboard")
    assert page.locator("svg.chart circle").count() >= 3
    shot(page, "dashboard")
    page.goto(f"{BASE}/findings?rule=pos-sale-unreported")
    shot(page, "findings")
    page.get_by_role("link", name="no METRC sale line").first.click()
    waive = page.get_by_role("form", name="waived")
    waive.get_by_label("Note (why)").fill("the sale was voided at the till")
    waive.get_by_label("Justification").fill("Voided sale; the POS export lags a day")
    waive.get_by_label("Waiver expires on (local date)").fill("2099-01-31")
    waive.get_by_role("button", name="Waive").click()
    page.get_by_text("is now waived").wait_for()
    assert "waived" in page.get_by_role("table").last.inner_text()
    shot(page, "finding")


def test_an_officer_backtests_an_edit_then_publishes_it(page: Any) -> None:
    sign_in(page, "compliance_officer")
    page.goto(f"{BASE}/rules/pos-sale-unreported")
    form = page.get_by_role("region", name="Parameters")
    form.get_by_label("Severity").select_option("low")
    form.get_by_label("Backtest from").fill(DAY)
    form.get_by_label("to", exact=True).fill(LATER)
    form.get_by_role("button", name="Backtest").click()
    page.get_by_role("heading", name=f"Backtest {DAY} to {LATER}").wait_for()
    assert "→ low" in page.get_by_role("region", name=f"Backtest {DAY} to {LATER}").inner_text()
    shot(page, "rule")
    page.get_by_role("region", name="Parameters").get_by_role(
        "button", name=f"Publish version {NEXT}").click()
    page.get_by_text(f"Published pos-sale-unreported version {NEXT}").wait_for()
    page.get_by_role("link", name=f"changes from version {SHIPPED}").click()
    assert "+severity: low" in page.locator("pre").inner_text()


def test_download_the_packet_of_a_run(page: Any, tmp_path: Path) -> None:
    sign_in(page, "compliance_officer")
    start_audit(page)
    run_page = page.url
    with page.expect_download() as started:  # the render runs as a job; its page fetches it
        page.get_by_role("link", name="Download PDF").click()
    saved = tmp_path / started.value.suggested_filename
    started.value.save_as(saved)
    assert saved.name.startswith("packet-") and saved.read_bytes().startswith(b"%PDF")
    page.goto(run_page)
    assert page.get_by_text("draft").is_visible()
    shot(page, "run")


def test_an_upload_shows_its_progress_then_each_rejected_row(
        page: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real import, two rows at a time, held after its first progress report until
    # the page has shown it: the test sees progress whatever the machine's speed.
    shown, go_on = threading.Event(), threading.Event()
    real = uploads.ingest_files

    def paced(store: Any, files: Any, *, chunk_size: int, progress: Any, **rest: Any) -> Any:
        def held(summary: Any) -> None:
            progress(summary)
            shown.set()
            go_on.wait(30)
        return real(store, files, chunk_size=2, progress=held, **rest)

    monkeypatch.setattr(uploads, "ingest_files", paced)
    sign_in(page, "associate")
    page.goto(f"{BASE}/imports")
    page.get_by_role("heading", name="METRC sync by endpoint").wait_for()
    shot(page, "imports")
    header = ("receipt_id,line_id,sold_at,package_label,sku,product_name,category,quantity,"
              "unit,unit_price,total_price,customer_type,customer_id,employee,voided\n")
    rows = [f"B{n},1,{'not a time' if n == 3 else '2026-01-06T10:00:00-08:00'},"
            f"1A4FF0100000022000000123,SKU1,Gummies,Edible,1,Each,10.00,10.00,Consumer,C1,"
            "ann,false\n" for n in range(1, 6)]
    form = page.get_by_role("form", name="Upload a file")
    form.get_by_label("Format").select_option("pos-sales")
    form.get_by_label("File to upload").set_input_files(
        {"name": "till.csv", "mimeType": "text/csv", "buffer": (header + "".join(rows)).encode()})
    form.get_by_role("button", name="Upload", exact=True).click()
    page.get_by_role("heading", name="Import of till.csv").wait_for()
    page.get_by_text("2 rows read: 2 accepted, 0 already stored, 0 rejected").wait_for()
    assert shown.is_set() and page.get_by_role("progressbar").is_visible()
    shot(page, "import-progress")
    go_on.set()
    page.get_by_role("heading", name="till.csv: 5 rows read, 4 accepted, 0 already stored, "
                                     "1 rejected").wait_for()
    rejected = page.get_by_role("table").first.get_by_role("row").nth(1).inner_text()
    assert rejected.startswith("till.csv\t4\t") and "sold_at" in rejected
    shot(page, "import")
    with page.expect_download() as csv_file:
        page.get_by_role("link", name="All 1 rejected rows as CSV").click()
    assert csv_file.value.suggested_filename.startswith("rejected-")


PAGES = {"associate": ["", "/today", "/findings", "/audits", "/rules", "/imports"],
         "compliance_officer": ["/dashboard", "/findings", "/audits", "/rules",
                                "/rules/transfer-before-move", "/imports"],
         "admin": ["/trail"]}
CHECK = """() => {
  const wide = document.documentElement.scrollWidth > document.documentElement.clientWidth;
  const unlabeled = [...document.querySelectorAll('input, select, textarea')]
    .filter(e => e.type !== 'hidden' && !e.labels.length && !e.getAttribute('aria-label'))
    .map(e => e.name || e.id);
  const h1 = document.querySelectorAll('h1').length;
  return {wide, unlabeled, h1};
}"""


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_fits_a_tablet_with_labelled_controls_and_one_heading(
        page: Any, role: str) -> None:
    sign_in(page, role)
    for path in PAGES[role]:
        page.goto("/console/" if not path else f"{BASE}{path}?day={DAY}" if path == "/today"
                  else f"{BASE}{path}")
        page.wait_for_load_state("networkidle")
        found = page.evaluate(CHECK)
        assert found == {"wide": False, "unlabeled": [], "h1": 1}, (path, found)
        page.keyboard.press("Tab")  # the first stop is the skip link, and it shows
        assert page.evaluate("document.activeElement.className") == "skip"
        assert page.locator("a.skip").is_visible()
