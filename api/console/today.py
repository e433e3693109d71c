"""The associate's today page: the full page, and the lists htmx polls to refresh it.

Each list carries the version it shows (the audit trail's head, which every stored
change moves, and the day); a poll that sends the version it holds and finds it
unchanged gets 204, which htmx leaves alone, so polling often costs one head look-up
and the lists change on screen only when something new was stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any

from flask import Response, current_app, render_template, request

from api.auth import license_pack, services
from api.console.core import bp, requires, visible_license
from auditor.domain.errors import InvalidInput
from auditor.domain.license import License
from auditor.services.access import Permission
from auditor.services.today import as_rows, stock, today

REFRESH_SECONDS = 10  # how often an open page asks whether anything changed (config may shorten)


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


def _version(lic: License, now: datetime) -> str:
    """Return what the lists depend on: the trail's head and the license's local day."""
    head = services()["trail"].head()
    return f"{head.seq if head else 0}-{now.astimezone(lic.zone()).date().isoformat()}"


def _recent(kind: str, lic: License, now: datetime, version: str,
            compute: Callable[[], Any]) -> Any:
    """Return the lists kept for this license and day if nothing was stored since."""
    key = (kind, lic.number, now.astimezone(lic.zone()).date())
    return services()["recent"].get(key, version, compute)


def _polled(number: str) -> tuple[License, datetime, str, Response | None]:
    """Return the license, the moment, the lists' version, and 204 if the poll shows it."""
    lic = visible_license(number)
    now = _as_of(lic)
    version = _version(lic, now)
    held = Response(status=204) if request.args.get("seen") == version else None
    return lic, now, version, held


def _fragment(template: str, lic: License, version: str, **lists: Any) -> str:
    """Render one polled part of the page, carrying the version it shows."""
    return render_template(template, license=lic, version=version, refresh=_refresh(),
                           day=request.args.get("day", ""), **lists)


def _actions(lic: License, now: datetime, version: str) -> Any:
    return _recent("today", lic, now, version, lambda: today(
        services()["store"], services()["activity"], license_pack(lic), lic, now))


@bp.route("/licenses/<number>/today", endpoint="today")
@requires(Permission.READ)
def today_page(number: str) -> str:
    """Show today's manifests, moves and count variances; the packages to move,
    replenishment and sell-soon follow (htmx loads them after the page)."""
    lic, now, version, _ = _polled(number)
    return _fragment("console/today.html", lic, version, t=_actions(lic, now, version))


def _refresh() -> int:
    return int(current_app.config.get("CONSOLE_REFRESH_SECONDS", REFRESH_SECONDS))


@bp.route("/licenses/<number>/today/lists")
@requires(Permission.READ)
def today_lists(number: str) -> str | Response:
    """Return the lists to act on alone, for htmx to swap in (204 if nothing changed)."""
    lic, now, version, held = _polled(number)
    if held is not None:
        return held
    return _fragment("console/today_lists.html", lic, version, t=_actions(lic, now, version))


@bp.route("/licenses/<number>/today/stock")
@requires(Permission.READ)
def today_stock(number: str) -> str | Response:
    """Return the packages to move, replenishment and sell-soon (htmx loads them after the
    page, then polls them like the lists)."""
    lic, now, version, held = _polled(number)
    if held is not None:
        return held
    lists = _recent("stock", lic, now, version, lambda: stock(services()["activity"], lic, now,
                                                         license_pack(lic)))
    return _fragment("console/today_stock.html", lic, version, s=lists, as_rows=as_rows)
