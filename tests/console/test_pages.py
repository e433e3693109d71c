"""The console's pages through the Flask test client: scopes, findings, today, rules, packets."""

from __future__ import annotations

import re
import time

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from auditor.rules.loader import default_rules_dir
from tests.conftest import LICENSE
from tests.console.conftest import DAY, TAG1, TAG2, form_token, signed_in

LIC = LICENSE.number
BASE = f"/console/licenses/{LIC}"
LATER = "2026-01-07"  # past the POS sale's 24 hours to reach METRC
SHIPPED = int(re.search(r"^version: (\d+)$", (default_rules_dir() / "core" /
                        "pos-sale-unreported.yaml").read_text(), re.M)[1])
NEXT = SHIPPED + 1


def audit(client: FlaskClient) -> str:
    """Start an audit of the seeded day from the console, wait for its job; return the run id."""
    token = form_token(client, f"{BASE}/audits")
    started = client.post(f"{BASE}/audits", data={"from": DAY, "to": LATER, "csrf_token": token})
    assert started.status_code == 302 and "/console/jobs/" in started.location, started.data[:500]
    ran = wait_for_job(client, started.location)
    assert ran.status_code == 302 and "/console/audits/" in ran.location, ran.data[:500]
    return ran.location.rsplit("/", 1)[1]


def wait_for_job(client: FlaskClient, job_page: str, seconds: float = 60) -> TestResponse:
    """Read a job's page until the job is over; return the last answer."""
    deadline = time.monotonic() + seconds
    while True:
        page = client.get(job_page)
        if page.status_code != 200 or b"Done." in page.data or b"failed:" in page.data:
            return page
        assert time.monotonic() < deadline, page.data[:500]
        time.sleep(0.05)


def download(client: FlaskClient, path: str) -> TestResponse:
    """Download a packet: the first request may start its render as a job; wait for it."""
    answer = client.get(path)
    if answer.status_code == 302 and "/console/jobs/" in answer.location:
        done = wait_for_job(client, answer.location)
        assert b"Done." in done.data, done.data[:500]
        answer = client.get(path)
    return answer


def first_finding(client: FlaskClient) -> int:
    page = client.get(f"{BASE}/findings?rule=pos-sale-unreported")
    found = re.search(rb'href="/console/findings/(\d+)"', page.data)
    assert found, page.data
    return int(found.group(1))


VALUES = {"number": LIC, "rule_id": "tag-invalid", "event_id": "1"}


def license_routes(app: Flask) -> list[tuple[str, str]]:
    """Return every console route of a license (by number), with each method."""
    return sorted((rule.rule, method) for rule in app.url_map.iter_rules()
                  if rule.endpoint.startswith("console.") and "<number>" in rule.rule
                  for method in rule.methods - {"HEAD", "OPTIONS"})


def test_another_organizations_user_gets_404_on_every_route_of_a_license_it_cannot_see(
        console_app: Flask) -> None:
    client = signed_in(console_app, "other_officer")
    token = form_token(client, "/console/")
    routes = license_routes(console_app)
    assert len(routes) >= 15  # the sweep finds the console's routes
    for rule, method in routes:
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: VALUES[m.group(1)], rule)
        answer = client.open(path, method=method, data={"csrf_token": token})
        assert answer.status_code == 404 and b"no license" in answer.data, (method, path)
        assert LIC.encode() in answer.data  # names what was asked, reveals nothing else


def test_another_organizations_user_gets_404_for_a_finding_a_run_and_its_packet(
        console_app: Flask) -> None:
    officer = signed_in(console_app, "compliance_officer")
    run_id = audit(officer)
    finding_id = first_finding(officer)
    other = signed_in(console_app, "other_officer")
    for path in (f"/console/findings/{finding_id}", f"/console/audits/{run_id}",
                 f"/console/audits/{run_id}/packet.pdf"):
        assert other.get(path).status_code == 404, path
    token = form_token(other, "/console/")
    waive = other.post(f"/console/findings/{finding_id}/status", data={
        "csrf_token": token, "status": "acknowledged", "note": "x", "revision": "0"})
    assert waive.status_code == 404


def test_a_role_without_the_permission_gets_403_naming_the_role(console_app: Flask) -> None:
    viewer = signed_in(console_app, "viewer")
    token = form_token(viewer, "/console/")
    refused = viewer.post(f"{BASE}/audits", data={"from": DAY, "to": DAY, "csrf_token": token})
    assert refused.status_code == 403 and b"viewer role may not" in refused.data
    regulator = signed_in(console_app, "regulator")
    assert regulator.get(f"{BASE}/today").status_code == 403


def test_dashboard_draws_the_trend_and_counts_open_findings(console_app: Flask) -> None:
    officer = signed_in(console_app, "compliance_officer")
    audit(officer)
    audit(officer)
    page = officer.get(f"{BASE}/dashboard").data.decode()
    assert "<svg" in page and page.count("<circle") == 2
    assert "pos-sale-unreported" in page and "transfer-before-move" in page
    assert "PST" in page  # times in the license's zone, with its abbreviation
    urgent = page[page.index('id="urgent"'):page.index('id="runs-table"')]
    assert urgent.index("critical") < urgent.index("high")  # most severe first
    assert "/console/findings/" in urgent


def test_the_finding_page_shows_evidence_and_refuses_a_stale_form(console_app: Flask) -> None:
    officer = signed_in(console_app, "compliance_officer")
    associate = signed_in(console_app, "associate")
    audit(officer)
    finding_id = first_finding(officer)
    page = officer.get(f"/console/findings/{finding_id}").data.decode()
    assert "pos_sale_line" in page and "History" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    revision = re.search(r'name="revision" value="(\d+)"', page).group(1)

    ack = associate.post(f"/console/findings/{finding_id}/status", data={
        "csrf_token": form_token(associate, "/console/"), "status": "acknowledged",
        "note": "seen at the counter", "revision": revision})
    assert ack.status_code == 302
    stale = officer.post(f"/console/findings/{finding_id}/status", data={
        "csrf_token": token, "status": "resolved", "note": "fixed", "revision": revision})
    assert stale.status_code == 409
    assert b"was changed by user" in stale.data and b"Nothing was saved" in stale.data

    fresh = officer.get(f"/console/findings/{finding_id}").data.decode()
    revision = re.search(r'name="revision" value="(\d+)"', fresh).group(1)
    waived = officer.post(f"/console/findings/{finding_id}/status", data={
        "csrf_token": token, "status": "waived", "note": "vendor error",
        "justification": "METRC outage that day", "expires_on": "2099-01-31",
        "revision": revision})
    assert waived.status_code == 302
    after = officer.get(f"/console/findings/{finding_id}").data.decode()
    assert "status <strong>waived</strong>" in after and "METRC outage that day" in after
    assert "seen at the counter" in after  # the history keeps every change


def test_bulk_acknowledge_changes_the_ticked_open_findings_and_reports_stale_ones(
        console_app: Flask) -> None:
    officer = signed_in(console_app, "compliance_officer")
    audit(officer)
    page = officer.get(f"{BASE}/findings?status=open").data.decode()
    ticked = re.findall(r'name="finding" value="(\d+:\d+)"', page)
    assert len(ticked) >= 2
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    first_id = int(ticked[0].split(":")[0])
    officer.post(f"/console/findings/{first_id}/status", data={
        "csrf_token": token, "status": "acknowledged", "note": "mine", "revision": "0"})
    done = officer.post(f"{BASE}/findings/acknowledge", data={
        "csrf_token": token, "finding": ticked, "note": "batch",
        "back": f"{BASE}/findings?status=acknowledged"}, follow_redirects=True)
    text = done.data.decode()
    assert f"Acknowledged {len(ticked) - 1} finding(s)" in text
    assert f"after you opened the page: {first_id}" in text
    assert text.count('value="acknowledged" selected') + text.count(">acknowledged<") >= 1


def test_the_today_page_lists_the_days_work_with_links_to_evidence(console_app: Flask) -> None:
    associate = signed_in(console_app, "associate")
    page = associate.get(f"{BASE}/today?day={DAY}").data.decode()
    assert "M-100" in page and "1 of 2" in page and TAG2 in page  # TAG2 not scanned
    assert "not yet" in page  # nor accepted
    assert f"Package {TAG1} was moved to Sales Floor" in page
    assert "Spoilage, Theft" in page and "count line" in page
    assert 'hx-trigger="every 10s"' in page
    lists = associate.get(f"{BASE}/today/lists?day={DAY}")
    assert lists.status_code == 200 and b"<html" not in lists.data and b"M-100" in lists.data
    evidence = re.search(r'href="(/console/licenses/[^"]+/events/\d+)"', page).group(1)
    assert associate.get(evidence).status_code == 200
    stock = associate.get(f"{BASE}/today/stock?day={DAY}").data.decode()
    assert "Replenish the sales floor" in stock and "Sell soon" in stock


def test_a_rule_edited_in_the_form_is_backtested_then_published_as_the_next_version(
        console_app: Flask) -> None:
    officer = signed_in(console_app, "compliance_officer")
    path = f"{BASE}/rules/pos-sale-unreported"
    page = officer.get(path).data.decode()
    assert 'name="param:deadline"' in page and 'name="severity"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"csrf_token": token, "editor": "form", "based_on": str(SHIPPED),
            "title": "POS sales reach METRC", "severity": "low", "from": DAY, "to": LATER}
    tested = officer.post(path, data={**form, "action": "backtest"})
    assert tested.status_code == 200, tested.data[:600]
    text = tested.data.decode()
    assert "Backtest 2026-01-05 to 2026-01-07" in text and "changed" in text
    assert "→ low" in text  # the sale's finding drops to low
    assert "severity: low" in text and f"version: {NEXT}" in text  # the YAML view holds the draft
    published = officer.post(path, data={**form, "action": "publish"}, follow_redirects=True)
    assert f"Published pos-sale-unreported version {NEXT}" in published.data.decode()
    again = officer.post(path, data={**form, "action": "publish"}, follow_redirects=True)
    assert f"was published as version {NEXT} after you opened it" in again.data.decode()
    diff = officer.get(f"{path}/diff?old={SHIPPED}&new={NEXT}").data.decode()
    assert "-severity: critical" in diff or "+severity: low" in diff


def test_an_invalid_draft_is_shown_with_the_reason_and_nothing_is_published(
        console_app: Flask) -> None:
    officer = signed_in(console_app, "compliance_officer")
    path = f"{BASE}/rules/tag-invalid"
    token = form_token(officer, path)
    bad = officer.post(path, data={"csrf_token": token, "editor": "yaml", "based_on": "1",
                                   "yaml": "id: tag-invalid\nversion: 2\n", "action": "publish"})
    assert bad.status_code == 422 and b"Not valid" in bad.data
    assert b"version 1" in officer.get(path).data


def test_packet_downloads_as_pdf_and_xlsx_and_is_finalized_then_amended(
        console_app: Flask) -> None:
    officer = signed_in(console_app, "compliance_officer")
    run_id = audit(officer)
    shown = re.findall(r'class="sev sev-(\w+)"', officer.get(f"/console/audits/{run_id}")
                       .data.decode())
    order = ["critical", "high", "medium", "low", "info"]
    assert shown and shown == sorted(shown, key=order.index)  # most severe first
    pdf = download(officer, f"/console/audits/{run_id}/packet.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert "attachment" in pdf.headers["Content-Disposition"]
    xlsx = download(officer, f"/console/audits/{run_id}/packet.xlsx")
    assert xlsx.data[:2] == b"PK"
    regulator = signed_in(console_app, "regulator")
    assert regulator.get(f"/console/audits/{run_id}/packet.pdf").status_code == 404
    token = form_token(officer, f"/console/audits/{run_id}")
    final = officer.post(f"/console/audits/{run_id}/finalize", data={"csrf_token": token},
                         follow_redirects=True)
    assert b"is final" in final.data
    assert download(regulator, f"/console/audits/{run_id}/packet.pdf").status_code == 200
    amend = officer.post(f"/console/audits/{run_id}/amend",
                         data={"csrf_token": token, "reason": "nothing new"})
    assert amend.status_code == 422 and b"nothing in the packet changed" in amend.data


def test_the_trail_page_shows_the_licenses_entries_and_the_verdict(console_app: Flask) -> None:
    admin = signed_in(console_app, "admin")
    page = admin.get(f"{BASE}/trail?action=import").data.decode()
    assert "OK: " in page and "verified" in page and "Head: entry" in page
    assert "<td>import</td>" in page and "license.add" not in page  # filtered by action
    assert "token.create" not in admin.get(f"{BASE}/trail").data.decode()  # no license


def test_sign_in_audit_waive_and_today_on_each_database(db_console_app: Flask) -> None:
    officer = signed_in(db_console_app, "compliance_officer")
    audit(officer)
    finding_id = first_finding(officer)
    token = form_token(officer, f"/console/findings/{finding_id}")
    waived = officer.post(f"/console/findings/{finding_id}/status", data={
        "csrf_token": token, "status": "waived", "note": "checked",
        "justification": "voided at the till", "expires_on": "2099-01-31",
        "revision": "0"}, follow_redirects=True)
    assert "status <strong>waived</strong>" in waived.data.decode()
    today = signed_in(db_console_app, "associate").get(f"{BASE}/today?day={DAY}")
    assert b"M-100" in today.data and TAG1.encode() in today.data
