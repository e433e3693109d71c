"""The associate's today page: the full page, and the lists htmx polls to refresh it."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import current_app, render_template, request

from api.auth import license_pack, services
from api.console.core import bp, requires, visible_license
from auditor.domain.errors import InvalidInput
from auditor.domain.license import License
from auditor.services.access import Permission
from auditor.services.today import Today, as_rows, today

REFRESH_SECONDS = 30  # how often an open page asks for the lists again (config may shorten)


def _as_of(lic: License) -> datetime:
    """Return the moment the page is for: now, or the end of ?day=YYYY-MM-DD (local)."""
    asked = request.args.get("day", "").strip()
    if not asked:
        return datetime.now(UTC)
    try:
        day = datetime.strptime(asked, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidInput(f"day {asked!r} is not a date (YYYY-MM-DD)") from None
    return datetime.combine(day, time(23, 59, 59), tzinfo=lic.zone())


def _lists(number: str) -> tuple[License, Today]:
    lic = visible_license(number)
    return lic, today(services()["store"], services()["activity"], license_pack(lic), lic,
                      _as_of(lic))


@bp.route("/licenses/<number>/today", endpoint="today")
@requires(Permission.READ)
def today_page(number: str) -> str:
    """Show today's manifests, moves, count variances, replenishment and sell-soon lists."""
    lic, lists = _lists(number)
    refresh = current_app.config.get("CONSOLE_REFRESH_SECONDS", REFRESH_SECONDS)
    return render_template("console/today.html", license=lic, t=lists, as_rows=as_rows,
                           refresh=refresh, day=request.args.get("day", ""))


@bp.route("/licenses/<number>/today/lists")
@requires(Permission.READ)
def today_lists(number: str) -> str:
    """Return the lists alone, for htmx to swap in."""
    lic, lists = _lists(number)
    return render_template("console/today_lists.html", license=lic, t=lists,
                           as_rows=as_rows)
