"""The long work the console starts: a readiness audit and a packet render.

This is the seam for jobs (issue 16). Today each function does its work at once, in the
request, and says so (`Started.done`); the console then shows the result page. When the
job runner lands, these bodies enqueue a job instead and return `done=False` with the
job's id, and the console shows the job's progress page (`GET /jobs/{id}`) until the
result is there. The console's pages call these functions and nothing else for this
work, so pointing them at the runner changes this module only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from auditor.domain.rules import Pack
from auditor.services.audit import local_bounds, run_audit
from auditor.services.packets import PacketSources, current_packet
from auditor.services.ports import EventStore
from auditor.services.rendered_packets import RenderedPackets
from auditor.services.report_ports import PacketVersion


@dataclass(frozen=True)
class Started:
    """Work the console started: its kind, what it made (or its job), and if it is done."""

    kind: str  # "audit"
    ref: str  # the run id when done; the job id once work runs as a job
    done: bool = True


def start_audit(store: EventStore, pack: Pack, license_number: str, start: date,
                end: date) -> Started:
    """Run a readiness audit over [start, end] (synchronously, until jobs land)."""
    local_bounds(store.get_license(license_number), start, end)  # refuses an empty period
    report = run_audit(store, pack, license_number, start, end)
    return Started("audit", report.run_id)


def packet_file(sources: PacketSources, rendered: RenderedPackets, run_id: str, pack: Pack,
                by: str, fmt: str) -> tuple[PacketVersion, bytes]:
    """Return the run's current packet version and its file (rendered once per content)."""
    version = current_packet(sources, run_id, pack, by)
    return version, rendered.render(version, fmt)
