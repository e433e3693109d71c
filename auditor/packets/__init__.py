"""Packet rendering adapters: Jinja HTML, WeasyPrint PDF and openpyxl Excel.

Each third-party library is imported in one module here: `html` (jinja2), `pdf`
(weasyprint) and `xlsx` (openpyxl). The services hand them plain tables and never
import the libraries themselves.
"""

from __future__ import annotations

from typing import Any

from auditor.packets.pdf import AssetOnlyFetcher, render_pdf
from auditor.packets.templating import render
from auditor.packets.xlsx import write_workbook
from auditor.services.tables import Table


class PacketDocuments:
    """The packet renderer: the Jinja template to PDF, and tables to Excel."""

    def __init__(self) -> None:
        self.fetcher = AssetOnlyFetcher()

    def pdf(self, context: dict[str, Any]) -> bytes:
        """Return the packet PDF rendered from templates/packet.html."""
        return render_pdf(render("packet.html", context), self.fetcher)

    def xlsx(self, tables: list[Table]) -> bytes:
        """Return the tables as an Excel workbook."""
        return write_workbook(tables)
