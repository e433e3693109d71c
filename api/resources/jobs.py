"""Jobs: long work started by another route, read back by id until it is over.

A route that starts an audit, backtest, packet render, report or METRC sync answers
202 with the job and `Location: /jobs/{id}`. The job is scoped like everything else:
another license's job answers 404, and a regulator sees only the jobs it started.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from api.auth import principal, requires, services
from auditor.services.access import Permission, Role
from auditor.services.job_ports import Job

blp = Blueprint("jobs", __name__, url_prefix="/jobs", description="Long work as jobs")


class ProgressSchema(Schema):
    """How far a job is: done of total steps, and what it is doing."""

    done = fields.Integer()
    total = fields.Integer()
    note = fields.String()


class JobSchema(Schema):
    """A job: queued, running, succeeded or failed; its result or error once over."""

    id = fields.String()
    kind = fields.String(metadata={"description": "audit, backtest, packet, report or sync"})
    license = fields.String()
    status = fields.String(metadata={"description": "queued, running, succeeded or failed"})
    progress = fields.Nested(ProgressSchema)
    result = fields.Dict(allow_none=True)
    result_url = fields.String(allow_none=True,
                               metadata={"description": "where to read what the job made"})
    error = fields.String(allow_none=True)
    attempts = fields.Integer()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


def job_json(job: Job) -> dict[str, Any]:
    """Return a job in the API's shape."""
    result = job.result
    return {"id": job.id, "kind": job.kind, "license": job.license_number,
            "status": job.status,
            "progress": {"done": job.progress_done, "total": job.progress_total,
                         "note": job.progress_note},
            "result": result, "result_url": (result or {}).get("result_url"),
            "error": job.error, "attempts": job.attempts, "created_at": job.created_at,
            "started_at": job.started_at, "finished_at": job.finished_at}


def accepted(job: Job) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Return a 202 answer for a submitted job, pointing at it."""
    return job_json(job), 202, {"Location": f"/jobs/{job.id}"}


def submit(kind: str, number: str, subject: str, params: dict[str, Any]) -> Job:
    """Submit a job for a license the caller sees, as the caller."""
    return services()["jobs"].submit(kind, number, subject, params, principal().actor)


def _visible_job(job_id: str) -> Job:
    """Return the job if the caller may see it; 404 otherwise."""
    job = services()["jobs"].get(job_id)
    who = principal()
    if job is None or not who.sees(job.license_number) or (
            who.role == Role.REGULATOR and job.actor != who.actor):
        abort(404, message=f"no job {job_id!r}")
    return job


@blp.route("/<string:job_id>")
class OneJob(MethodView):
    """One job."""

    @requires(Permission.READ_RUNS)
    @blp.response(200, JobSchema)
    def get(self, job_id: str) -> Any:
        """Read a job: its status, progress, and once over its result (or error)."""
        return job_json(_visible_job(job_id))


@blp.route("/<string:job_id>/result")
class JobResult(MethodView):
    """The file a job made."""

    @requires(Permission.READ_RUNS)
    @blp.doc(responses={"200": {"description": "the file (a report)", "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, job_id: str) -> Response:
        """Download the file a finished job made (a report)."""
        job = _visible_job(job_id)
        output = services()["jobs"].store.output(job.id) if job.finished else None
        if output is None:
            abort(404, message=f"job {job_id!r} made no file" if job.finished
                  else f"job {job_id!r} is {job.status}: read /jobs/{job_id} until it is over")
        assert output is not None  # abort raised otherwise
        return Response(output.data, mimetype=output.media_type, headers={
            "Content-Disposition": f'attachment; filename="{output.filename}"'})
