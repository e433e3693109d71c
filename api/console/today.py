"""The associate's today page: the full page, and the lists htmx polls to refresh it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any

from flask import current_app, render_template, request

from api.auth import license_pack, services
from api.console.core import bp, requires, visible_license
from auditor.domain.errors import InvalidInput
from auditor.domain.license import License
from auditor.services.access import Permission
from auditor.services.today import as_rows, stock, today

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


def _recent(kind: str, lic: License, now: datetime, compute: Callable[[], Any]) -> Any:
    """Return the lists kept for this license and day if nothing was stored since."""
    head = services()["trail"].head()
    key = (kind, lic.number, now.astimezone(lic.zone()).date())
    return services()["recent"].get(key, head.seq if head else 0, compute)


def _actions(number: str) -> tuple[License, Any]:
    lic = visible_license(number)
    now = _as_of(lic)
    return lic, _recent("today", lic, now, lambda: today(
        services()["store"], services()["activity"], license_pack(lic), lic, now))


@bp.route("/licenses/<number>/today", endpoint="today")
@requires(Permission.READ)
def today_page(number: str) -> str:
    """Show today's manifests, moves and count variances; replenishment and sell-soon follow."""
    lic, lists = _actions(number)
    refresh = current_app.config.get("CONSOLE_REFRESH_SECONDS", REFRESH_SECONDS)
    return render_template("console/today.html", license=lic, t=lists, refresh=refresh,
                           day=request.args.get("day", ""))


@bp.route("/licenses/<number>/today/lists")
@requires(Permission.READ)
def today_lists(number: str) -> str:
    """Return the lists to act on alone, for htmx to swap in."""
    lic, lists = _actions(number)
    return render_template("console/today_lists.html", license=lic, t=lists)


@bp.route("/licenses/<number>/today/stock")
@requires(Permission.READ)
def today_stock(number: str) -> str:
    """Return the replenishment and sell-soon lists alone (htmx loads them after the page)."""
    lic = visible_license(number)
    now = _as_of(lic)
    lists = _recent("stock", lic, now, lambda: stock(services()["activity"], lic, now))
    return render_template("console/today_stock.html", license=lic, s=lists, as_rows=as_rows)
