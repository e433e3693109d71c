import io

import pypdf
import pytest

from auditor.packets.pdf import AssetOnlyFetcher, render_pdf


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://127.0.0.1:9/x.css",
                                 "https://example.com/x.png", "data:text/css,body{}",
                                 "asset:../../pyproject.toml", "asset:missing.css",
                                 "ftp://example.com/a"])
def test_the_fetcher_refuses_everything_but_packaged_assets(url: str) -> None:
    fetcher = AssetOnlyFetcher()
    with pytest.raises(ValueError):
        fetcher.fetch(url)
    assert fetcher.refused == [url] and fetcher.served == []


def test_the_fetcher_serves_the_packet_stylesheet() -> None:
    fetcher = AssetOnlyFetcher()
    response = fetcher.fetch("asset:packet.css")
    assert b"@page" in response.read() and fetcher.served == ["asset:packet.css"]


@pytest.mark.reliability
def test_rendering_hostile_html_fetches_nothing_outside_the_assets(figure) -> None:
    html = ("<html><head><link rel=stylesheet href='asset:packet.css'>"
            "<style>@import url('file:///etc/passwd');</style></head><body>"
            "<img src='file:///etc/hostname'><img src='http://127.0.0.1:9/a.png'>"
            "<p style=\"background:url('https://example.com/b.png')\">hello</p></body></html>")
    fetcher = AssetOnlyFetcher()
    pdf = render_pdf(html, fetcher)
    figure("packets: fetches outside packaged assets",
           sum(not url.startswith("asset:") for url in fetcher.served),
           of=len(fetcher.served + fetcher.refused), document="hostile HTML")
    assert fetcher.served == ["asset:packet.css"]
    assert set(fetcher.refused) == {"file:///etc/passwd", "file:///etc/hostname",
                                    "http://127.0.0.1:9/a.png", "https://example.com/b.png"}
    assert "hello" in pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
