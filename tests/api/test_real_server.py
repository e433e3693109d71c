"""The flow once through `auditor serve` (waitress) on a loopback port, over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.api.conftest import pos_csv
from tests.conftest import LICENSE

LIC = LICENSE.number


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(method: str, url: str, secret: str, body: bytes | None = None,
         content_type: str = "application/json", **headers: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method=method, headers={
        "Authorization": f"Bearer {secret}", "Content-Type": content_type, **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def multipart(data: bytes) -> tuple[bytes, str]:
    boundary = "auditorboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"pos.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode() + data + (
        f"\r\n--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.slow
def test_the_flow_over_http_against_auditor_serve(tmp_path: Path) -> None:
    env = {**os.environ, "AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    cli = [sys.executable, "-m", "auditor"]
    run = lambda *args: subprocess.run([*cli, *args], env=env, check=True,  # noqa: E731
                                       capture_output=True, text=True).stdout
    run("db", "upgrade")
    run("license", "add", LIC, "--state", "CA", "--timezone", "America/Los_Angeles")
    associate = run("token", "create", "--role", "associate", "--license", LIC).split()[-1]
    officer = run("token", "create", "--role", "compliance_officer", "--license", LIC).split()[-1]
    port = free_port()
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base)
        body, kind = multipart(pos_csv("R1"))
        status, result = call("POST", f"{base}/licenses/{LIC}/imports?format=pos-sales",
                              associate, body, kind, **{"Idempotency-Key": "a"})
        assert (status, result["accepted"]) == (201, 1)
        status, job = call("POST", f"{base}/licenses/{LIC}/audits", officer,
                           json.dumps({"from": "2026-01-01", "to": "2026-01-10"}).encode())
        assert status == 202
        report = wait_for_job(base, job["id"], officer)
        status, page = call("GET", f"{base}/audits/{report['run_id']}/findings", officer)
        finding = page["items"][0]
        request = urllib.request.Request(f"{base}/findings/{finding['id']}",
                                         headers={"Authorization": f"Bearer {officer}"})
        with urllib.request.urlopen(request) as response:
            etag = response.headers["ETag"]
        status, changed = call("PATCH", f"{base}/findings/{finding['id']}", officer,
                               json.dumps({"status": "resolved", "note": "reported"}).encode(),
                               **{"If-Match": etag})
        assert (status, changed["status"]) == (200, "resolved")
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_for_job(base: str, job_id: str, secret: str, timeout: float = 60) -> dict:
    """Poll GET /jobs/{id} until the job is over; return its result (it must succeed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = call("GET", f"{base}/jobs/{job_id}", secret)
        assert status == 200, job
        if job["status"] in ("succeeded", "failed"):
            assert job["status"] == "succeeded", job
            return dict(job["result"])
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not over after {timeout} s")


def wait_until_serving(base: str) -> None:
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"{base}/openapi.json", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("auditor serve did not start")


@pytest.mark.slow
@pytest.mark.reliability
def test_150_idle_connections_do_not_stop_auditor_serve_answering(tmp_path: Path,
                                                                   figure) -> None:
    env = {**os.environ, "AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
           "AUDITOR_SERVE_CHANNEL_TIMEOUT": "8", "AUDITOR_SERVE_CLEANUP_INTERVAL": "1"}
    cli = [sys.executable, "-m", "auditor"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([*cli, "license", "add", LIC, "--state", "CA", "--timezone",
                    "America/Los_Angeles"], env=env, check=True, capture_output=True)
    viewer = subprocess.run([*cli, "token", "create", "--role", "viewer", "--license", LIC],
                            env=env, check=True, capture_output=True, text=True).stdout.split()[-1]
    port = free_port()
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    idle: list[socket.socket] = []
    try:
        wait_until_serving(base)
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(150)]
        started = time.monotonic()
        status, licenses = call("GET", f"{base}/licenses", viewer)
        answered_in = time.monotonic() - started
        figure("api: seconds to answer with 150 idle connections open", round(answered_in, 3))
        assert status == 200 and [lic["number"] for lic in licenses] == [LIC]
        assert answered_in < 4  # well before the idle ones time out
        # An idle connection is closed once AUDITOR_SERVE_CHANNEL_TIMEOUT has passed.
        idle[0].settimeout(15)
        assert idle[0].recv(1) == b""
    finally:
        for connection in idle:
            connection.close()
        server.terminate()
        server.wait(timeout=10)
