"""Signing in and out, cookies, CSRF, lockout, and the JSON API left as it was."""

from __future__ import annotations

import re

from flask import Flask

from api import create_app
from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.store.users_sql import SqlUsers
from tests.conftest import LICENSE
from tests.console.conftest import PASSWORD, csrf_of, email, form_token, signed_in

HOME = "/console/"


def test_a_browser_at_the_root_is_sent_to_sign_in_and_an_api_client_keeps_json(
        console_app: Flask) -> None:
    client = console_app.test_client()
    browser = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 302 and browser.location == HOME
    assert client.get(HOME).location.startswith("/console/sign-in")
    api = client.get("/", headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.json["code"] == 401
    token = console_app.config["TEST_SECRETS"]["viewer"]
    licenses = client.get("/licenses", headers={"Authorization": f"Bearer {token}"})
    assert licenses.status_code == 200 and licenses.json[0]["number"] == LICENSE.number


def test_signing_in_sets_a_hardened_cookie_and_signing_out_ends_the_session(
        sqlite_url: str, console_app: Flask) -> None:
    secure = create_app({"TESTING": True, "AUDITOR_SETTINGS": Settings(database_url=sqlite_url)})
    client = secure.test_client()
    token = csrf_of(client.get("/console/sign-in").data)
    answer = client.post("/console/sign-in", data={
        "email": email("associate").upper(), "password": PASSWORD, "csrf_token": token,
        "next": f"/console/licenses/{LICENSE.number}/today"})
    assert answer.status_code == 302
    assert answer.location == f"/console/licenses/{LICENSE.number}/today"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie

    client = signed_in(console_app, "associate")
    assert client.get(HOME).status_code == 200
    out = client.post("/console/sign-out", data={"csrf_token": form_token(client, HOME)})
    assert out.status_code == 302
    assert client.get(HOME).status_code == 302


def test_sign_in_goes_only_to_console_pages_after(console_app: Flask) -> None:
    client = console_app.test_client()
    token = csrf_of(client.get("/console/sign-in").data)
    answer = client.post("/console/sign-in", data={
        "email": email("viewer"), "password": PASSWORD, "csrf_token": token,
        "next": "//evil.example/console/"})
    assert answer.location == HOME


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
        console_app: Flask) -> None:
    client = console_app.test_client()
    token = csrf_of(client.get("/console/sign-in").data)
    wrong = client.post("/console/sign-in", data={"email": email("viewer"),
                                                  "password": "not it at all", "csrf_token": token})
    unknown = client.post("/console/sign-in", data={"email": "nobody@store.example",
                                                    "password": PASSWORD, "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    message = re.compile(rb'role="alert">([^<]+)<')
    assert message.search(wrong.data).group(1) == message.search(unknown.data).group(1)


def test_failed_sign_ins_lock_the_account_for_the_minute_even_with_the_right_password(
        console_app: Flask) -> None:
    client = console_app.test_client()
    token = csrf_of(client.get("/console/sign-in").data)
    limit = console_app.extensions["auditor"]["settings"].signin_failures_per_account
    for _ in range(limit):
        refused = client.post("/console/sign-in", data={
            "email": email("viewer"), "password": "guess guess guess", "csrf_token": token})
        assert refused.status_code == 401
    locked = client.post("/console/sign-in", data={
        "email": email("viewer"), "password": PASSWORD, "csrf_token": token})
    assert locked.status_code == 429 and b"too many failed sign-ins" in locked.data
    other = client.post("/console/sign-in", data={
        "email": email("associate"), "password": PASSWORD, "csrf_token": token})
    assert other.status_code == 302  # another account from the same desk still signs in
    trail = [e["action"] for e in _trail(console_app)]
    assert "signin.first" in trail and "signin.limited" in trail


def _trail(app: Flask) -> list[dict]:
    from auditor.services.trail import page
    entries, _ = page(app.extensions["auditor"]["trail"], 0, 500)
    return entries


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
        console_app: Flask) -> None:
    client = signed_in(console_app, "associate")
    forged = client.post("/console/sign-out", data={})
    assert forged.status_code == 400 and b"did not come from this console" in forged.data
    assert client.get(HOME).status_code == 200  # still signed in
    wrong = client.post("/console/sign-out", data={"csrf_token": "x" * 43})
    assert wrong.status_code == 400
    no_session = console_app.test_client().post(
        "/console/sign-in", data={"email": email("viewer"), "password": PASSWORD})
    assert no_session.status_code == 400


def test_a_disabled_user_is_signed_out_at_the_next_page_and_cannot_sign_in(
        console_app: Flask) -> None:
    from datetime import UTC, datetime
    client = signed_in(console_app, "viewer")
    store = open_store(console_app.extensions["auditor"]["settings"])
    SqlUsers(store.engine).disable(email("viewer"), datetime.now(UTC))
    store.engine.dispose()
    assert client.get(HOME).status_code == 302
    fresh = console_app.test_client()
    token = csrf_of(fresh.get("/console/sign-in").data)
    again = fresh.post("/console/sign-in", data={"email": email("viewer"),
                                                 "password": PASSWORD, "csrf_token": token})
    assert again.status_code == 401


def test_a_poll_after_the_session_ended_sends_the_whole_page_to_sign_in(
        console_app: Flask) -> None:
    client = console_app.test_client()
    poll = client.get(f"/console/licenses/{LICENSE.number}/today/lists", headers={
        "HX-Request": "true",
        "HX-Current-URL": f"http://127.0.0.1/console/licenses/{LICENSE.number}/today"})
    assert poll.status_code == 204
    assert poll.headers["HX-Redirect"] == (
        f"/console/sign-in?next=/console/licenses/{LICENSE.number}/today")
