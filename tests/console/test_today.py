"""The today page's packages to bring out of the vault, and how the page keeps itself fresh."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask

from auditor.services.tables import Column, Table
from auditor.services.today import picks
from tests.conftest import LICENSE
from tests.console.conftest import DAY, TAG3, TAG4, TAG5, signed_in

BASE = f"/console/licenses/{LICENSE.number}"
ZONE = ZoneInfo("America/Los_Angeles")


def rows_of(page: str) -> list[str]:
    """Return the picks table's rows as text, in order."""
    table = re.search(r'<table class="picks">(.*?)</table>', page, re.S).group(1)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]]


def test_vault_packages_to_move_come_first_expiring_first_with_what_metrc_needs(
        db_console_app: Flask) -> None:
    associate = signed_in(db_console_app, "associate")
    stock = associate.get(f"{BASE}/today/stock?day={DAY}").data.decode()
    assert "Packages to bring to the sales floor (2)" in stock
    first, second = rows_of(stock)
    # TAG5 expires 2026-01-20, TAG4 2026-03-01; TAG3 is on the floor already. A week of
    # sales is 3 items, the floor holds 1: 2 to bring, TAG5's one item, then one of TAG4's.
    assert first.startswith(f"{TAG5} Pre-roll 1g 2026-01-20 1 Sales Floor since 2026-01-05 07:00")
    assert "METRC already shows it on Sales Floor: move it." in first
    assert second.startswith(f"{TAG4} Pre-roll 1g 2026-03-01 1 Vault")
    assert "Change the location in METRC first (to Sales Floor), then move it." in second
    assert TAG3 not in " ".join(rows_of(stock))
    for link in re.findall(r'href="(/console/licenses/[^"]+/events/\d+)"', stock)[:2]:
        evidence = associate.get(link).data.decode()
        assert TAG5 in evidence or TAG4 in evidence


def test_a_poll_gets_204_until_something_new_is_stored(console_app: Flask) -> None:
    associate = signed_in(console_app, "associate")
    page = associate.get(f"{BASE}/today?day={DAY}").data.decode()
    polled = re.search(r'hx-get="([^"]*/today/lists[^"]*)"', page).group(1).replace("&amp;", "&")
    assert "seen=" in polled and associate.get(polled).status_code == 204
    stock = associate.get(f"{BASE}/today/stock?day={DAY}").data.decode()
    stock_poll = re.search(r'hx-get="([^"]*/today/stock[^"]*)"', stock).group(1)
    assert associate.get(stock_poll.replace("&amp;", "&")).status_code == 204
    # METRC now shows TAG4 on the floor: both lists answer again, TAG4 is ready to move.
    change = {"type": "location_change", "occurred_at": f"{DAY}T13:00:00-08:00",
              "package_label": TAG4, "natural_key": "today-change",
              "payload": {"label": TAG4, "location": "Sales Floor"}}
    secret = console_app.config["TEST_SECRETS"]["associate"]
    stored = console_app.test_client().post(
        f"/licenses/{LICENSE.number}/imports?format=events",
        headers={"Authorization": f"Bearer {secret}"},
        data={"file": (io.BytesIO(json.dumps(change).encode()), "change.ndjson")},
        content_type="multipart/form-data")
    assert stored.status_code == 201
    assert associate.get(polled).status_code == 200
    fresh = associate.get(stock_poll.replace("&amp;", "&"))
    assert fresh.status_code == 200
    assert all("METRC already shows it on Sales Floor" in r for r in rows_of(fresh.data.decode()))


def test_a_metrc_change_older_than_the_rules_look_back_does_not_cover_a_move(
        console_app: Flask) -> None:
    replenish = Table("replenishment", "Replenish", [Column("product"), Column(
        "from vault package")], [["Pre-roll 1g", f"{TAG4}, {TAG5}"]])
    soon = Table("sell_soon", "Sell soon", [Column("expires"), Column("package")],
                 [["2026-01-20", TAG5], ["2026-03-01", TAG4]])
    log = console_app.extensions["auditor"]["activity"]
    week = timedelta(days=7)
    on_the_day = picks(log, LICENSE, replenish, soon, datetime(2026, 1, 6, tzinfo=ZONE), week)
    assert [(p.label, p.ready) for p in on_the_day] == [(TAG5, True), (TAG4, False)]
    later = picks(log, LICENSE, replenish, soon, datetime(2026, 1, 14, tzinfo=ZONE), week)
    assert [(p.label, p.ready, p.metrc_location) for p in later] == [
        (TAG5, False, "Sales Floor"), (TAG4, False, "Vault")]
    # A replenishment that says how many to move from which package is read as such.
    counted = Table("replenishment", "Replenish", [Column("product"), Column(
        "from vault package"), Column("move from this package", "number")],
        [["Pre-roll 1g", TAG4, 3]])
    (pick,) = picks(log, LICENSE, counted, soon, datetime(2026, 1, 6, tzinfo=ZONE), week)
    assert (pick.label, pick.quantity, pick.expires) == (TAG4, 3, "2026-03-01")
