"""HTML to PDF through WeasyPrint, with URL fetching locked to the packet's own assets.

WeasyPrint fetches `file://`, `data:` and network URLs found in the HTML and CSS unless
its fetcher refuses them. The fetcher here serves only the stylesheets shipped under
`templates/assets` (by the `asset:` scheme) and refuses everything else, keeping a list of
what it refused so tests and callers can see that nothing was fetched.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

# WeasyPrint warns at import when the system lacks HarfBuzz-Subset (an optional library
# for smaller fonts in the PDF); rendering works without it, so the notice is not an error.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "HarfBuzz-Subset", DeprecationWarning)
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher, URLFetcherResponse

from auditor.packets.templating import asset

ASSET_SCHEME = "asset:"
MIME_TYPES = {".css": "text/css"}


class AssetOnlyFetcher(URLFetcher):
    """Serve `asset:NAME` from the packaged assets; refuse every other URL."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False)
        self.served: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        """Return the packaged asset the URL names, or raise for anything else."""
        name = url[len(ASSET_SCHEME):] if url.startswith(ASSET_SCHEME) else None
        suffix = name[name.rfind("."):] if name and "." in name else ""
        if name is None or suffix not in MIME_TYPES:
            self.refused.append(url)
            raise ValueError(f"packets fetch only their own assets, not {url[:80]!r}")
        try:
            body = asset(name)
        except FileNotFoundError:
            self.refused.append(url)
            raise ValueError(f"no packaged asset {name[:80]!r}") from None
        self.served.append(url)
        return URLFetcherResponse(url, body, {"Content-Type": MIME_TYPES[suffix]})


def render_pdf(html: str, fetcher: AssetOnlyFetcher | None = None) -> bytes:
    """Return the PDF of html; only packaged assets can be fetched while rendering."""
    fetcher = fetcher or AssetOnlyFetcher()
    # A refused URL is logged by WeasyPrint as a warning; the fetcher keeps the record.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    document = HTML(string=html, url_fetcher=fetcher)
    pdf = document.write_pdf()
    assert pdf is not None  # write_pdf returns the bytes when given no target
    return pdf
