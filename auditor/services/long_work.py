"""The long work the console starts, as jobs: a readiness audit and a packet render.

The console's pages call these functions and nothing else for this work. Each submits a
job to the same runner the API uses (threads of the process on SQLite, `auditor jobs
worker` processes on PostgreSQL), and the console shows the job's page, with its
progress, until it is over. A packet already rendered is served from storage.
"""

from __future__ import annotations

from datetime import date

from auditor.services.audit import local_bounds
from auditor.services.job_ports import Job, PacketFile, PacketFiles
from auditor.services.jobs import Jobs
from auditor.services.ports import EventStore


def start_audit(jobs: Jobs, store: EventStore, license_number: str, start: date, end: date,
                actor: str) -> Job:
    """Submit a readiness audit over [start, end]; an empty period is refused at once."""
    local_bounds(store.get_license(license_number), start, end)
    first, last = start.isoformat(), end.isoformat()
    return jobs.submit("audit", license_number, f"{license_number} {first} {last}",
                       {"start": first, "end": last}, actor)


def stored_packet(files: PacketFiles, run_id: str, fmt: str,
                  final_only: bool) -> PacketFile | None:
    """Return the run's newest packet version as stored in fmt, if it was rendered.

    With final_only (a regulator) a stored draft does not count.
    """
    stored = files.newest(run_id, fmt)
    return stored if stored is not None and (stored.final or not final_only) else None


def render_packet_job(jobs: Jobs, license_number: str, run_id: str, fmt: str,
                      actor: str) -> Job:
    """Submit the render of the run's packet in fmt (one job per packet and format)."""
    return jobs.submit("packet", license_number, f"{run_id} {fmt}",
                       {"run_id": run_id, "format": fmt}, actor)
