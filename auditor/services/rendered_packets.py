"""Rendered packet files kept per content hash, so an unchanged packet is rendered once.

A draft packet is rebuilt as content on each request (it must reflect what changed),
but its PDF or Excel file depends only on that content: asking again for a packet
whose SHA-256 has not changed serves the file rendered the first time. Kept in the
process, newest first, up to a byte budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from auditor.services.packets import PacketRenderer, render_packet
from auditor.services.report_ports import PacketVersion

MAX_BYTES = 256 * 1024 * 1024


class RenderedPackets:
    """Renders packets through a renderer, remembering each file by content hash and format."""

    def __init__(self, renderer: PacketRenderer, max_bytes: int = MAX_BYTES) -> None:
        self.renderer = renderer
        self.max_bytes = max_bytes
        self.renders = 0  # how many files were actually rendered (the rest were kept ones)
        self._files: OrderedDict[tuple[str, int, str, str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def render(self, packet: PacketVersion, fmt: str) -> bytes:
        """Return the packet as fmt, rendering it only if this content was not rendered yet."""
        final = packet.finalized_at.isoformat() if packet.finalized_at else ""
        key = (packet.run_id, packet.version, packet.sha256, final, fmt)
        with self._lock:
            if key in self._files:
                self._files.move_to_end(key)
                return self._files[key]
        data = render_packet(packet, fmt, self.renderer)
        with self._lock:
            self.renders += 1
            self._files[key] = data
            while sum(len(v) for v in self._files.values()) > self.max_bytes and self._files:
                self._files.popitem(last=False)
        return data
