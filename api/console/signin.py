"""Signing in and out, the console's front door, and the page that lists a user's licenses."""

from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from api.auth import services
from api.console.core import bp, console_path, csrf_token, me, my_licenses
from auditor.services.users import SignInRefused, sign_in


@bp.route("/sign-in", methods=["GET", "POST"], endpoint="sign_in")
def sign_in_page() -> Response | str | tuple[str, int]:
    """Show the sign-in form; sign a user in with email and password."""
    if request.method == "GET":
        return render_template("console/sign_in.html", next=request.args.get("next", ""))
    try:
        who = sign_in(services()["users"], services()["signin_limits"], services()["trail"],
                      request.form.get("email", ""), request.form.get("password", ""),
                      request.remote_addr or "unknown")
    except SignInRefused as refused:
        status = 429 if refused.retry_after else 401
        page = render_template("console/sign_in.html", error=str(refused),
                               email=request.form.get("email", ""),
                               next=request.form.get("next", ""))
        return page, status
    session.clear()  # a new session for the signed-in user: no fixation of an old one
    session.permanent = True
    session["user_id"] = who.token_id
    csrf_token()
    return redirect(console_path(request.form.get("next"), url_for("console.home")))


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    """End the session."""
    session.clear()
    return redirect(url_for("console.sign_in"))


@bp.route("/")
def home() -> str:
    """List the user's licenses with links to each one's pages."""
    return render_template("console/home.html", licenses=my_licenses(), user=me())
