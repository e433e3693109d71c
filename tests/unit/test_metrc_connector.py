"""The connector's pieces: windows, intervals, keys, base URLs, rate limiting, the simulator."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest

from auditor.cli_sync import parse_every
from auditor.connectors.metrc_http import MetrcHttp, RateLimiter
from auditor.connectors.metrc_settings import base_url, license_variable, load_keys
from auditor.domain.errors import InvalidInput
from auditor.sample.metrc_simulator import MetrcData, create_simulator
from auditor.services.sync import metrc_time, windows
from auditor.services.sync_ports import MetrcKeys
from tests.conftest import LICENSE
from tests.metrc_sim import USER_KEY, VENDOR_KEY, make_sample

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_windows_cover_a_span_in_pieces_of_at_most_24_hours() -> None:
    spans = list(windows(T0, T0 + timedelta(days=2, hours=5)))
    assert spans == [(T0, T0 + timedelta(days=1)), (T0 + timedelta(days=1), T0 + timedelta(days=2)),
                     (T0 + timedelta(days=2), T0 + timedelta(days=2, hours=5))]
    assert list(windows(T0, T0)) == []


def test_a_window_longer_than_24_hours_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at most 24 h"):
        list(windows(T0, T0 + timedelta(days=3), size=timedelta(hours=25)))


def test_metrc_times_are_utc_whole_seconds() -> None:
    local = datetime(2026, 1, 1, 0, 0, 0, 500, tzinfo=LICENSE.zone())
    assert metrc_time(local) == "2026-01-01T08:00:00Z"


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600),
                                               ("2d", 172800)])
def test_intervals_read_as_a_number_and_a_unit(text: str, seconds: int) -> None:
    assert parse_every(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["15", "0m", "1w", "m15", ""])
def test_a_bad_interval_names_the_expected_form(text: str) -> None:
    with pytest.raises(click.BadParameter, match="like 30s, 15m"):
        parse_every(text)


def test_keys_come_from_the_environment_and_are_never_shown() -> None:
    keys = load_keys({"AUDITOR_METRC_VENDOR_KEY": "v-secret", "AUDITOR_METRC_USER_KEY": "u-secret"})
    assert (keys.vendor_key, keys.user_key) == ("v-secret", "u-secret")
    assert "secret" not in repr(keys) and "secret" not in str(keys)


def test_keys_come_from_a_file_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"vendor_key": "v1", "user_key": "u1"}))
    os.chmod(path, 0o644)
    with pytest.raises(InvalidInput, match=f"chmod 600 {path}"):
        load_keys({"AUDITOR_METRC_KEYS_FILE": str(path)})
    os.chmod(path, 0o600)
    assert load_keys({"AUDITOR_METRC_KEYS_FILE": str(path)}) == MetrcKeys("v1", "u1")


def test_a_keys_file_without_both_keys_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"vendor_key": "v-hidden"}))
    os.chmod(path, 0o600)
    with pytest.raises(InvalidInput, match="needs non-empty") as refused:
        load_keys({"AUDITOR_METRC_KEYS_FILE": str(path)})
    assert "v-hidden" not in str(refused.value)


def test_missing_keys_name_the_variables_to_set() -> None:
    with pytest.raises(InvalidInput, match="AUDITOR_METRC_VENDOR_KEY and AUDITOR_METRC_USER_KEY"):
        load_keys({})


def test_the_base_url_is_the_state_s_unless_overridden() -> None:
    assert base_url(LICENSE, {}) == "https://api-ca.metrc.com"
    assert base_url(LICENSE, {"AUDITOR_METRC_BASE_URL": "https://sandbox-api-ca.metrc.com/"}) \
        == "https://sandbox-api-ca.metrc.com"
    own = {license_variable(LICENSE.number): "http://127.0.0.1:9", "AUDITOR_METRC_BASE_URL": "x"}
    assert license_variable(LICENSE.number) == "AUDITOR_METRC_BASE_URL_C10_0000123_LIC"
    assert base_url(LICENSE, own) == "http://127.0.0.1:9"
    with pytest.raises(InvalidInput, match="must start with https://"):
        base_url(LICENSE, {"AUDITOR_METRC_BASE_URL": "file:///etc/passwd"})


def test_the_rate_limiter_spaces_calls_by_the_rate() -> None:
    now, waits = [0.0], []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(50.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert waits == [0.02] * 4  # 50 a second: the first call goes at once


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    class Answer:
        def __init__(self, value: str) -> None:
            self.headers = {"Retry-After": value}

    assert MetrcHttp._retry_after(Answer("3")) == 3.0  # type: ignore[arg-type]
    assert MetrcHttp._retry_after(Answer("9999")) == 120.0  # type: ignore[arg-type]
    assert MetrcHttp._retry_after(Answer("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0  # type: ignore[arg-type]
    assert MetrcHttp._retry_after(Answer("soon")) is None  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory):
    data = MetrcData.from_store(make_sample(tmp_path_factory.mktemp("sample")))
    return create_simulator(data, VENDOR_KEY, USER_KEY).test_client()


def _get(simulated, path: str, **params: str):
    token = base64.b64encode(f"{VENDOR_KEY}:{USER_KEY}".encode()).decode()
    return simulated.get(path, query_string={"licenseNumber": LICENSE.number, **params},
                         headers={"Authorization": f"Basic {token}"})


def test_the_simulator_refuses_a_window_over_24_hours_as_metrc_does(simulated) -> None:
    answer = _get(simulated, "/sales/v2/receipts/active", lastModifiedStart="2026-01-01T00:00:00Z",
                  lastModifiedEnd="2026-01-02T00:00:01Z")
    assert answer.status_code == 400
    assert "cannot exceed 24 hours" in answer.json["Message"]


def test_the_simulator_pages_in_the_v2_envelope(simulated) -> None:
    window = {"lastModifiedStart": "2026-01-01T08:00:00Z",
              "lastModifiedEnd": "2026-01-02T08:00:00Z"}
    first = _get(simulated, "/sales/v2/receipts/active", pageSize="20", **window).json
    assert first["Page"] == 1 and first["PageSize"] == 20 and len(first["Data"]) == 20
    assert first["TotalPages"] == -(-first["Total"] // 20) > 1
    last = _get(simulated, "/sales/v2/receipts/active", pageSize="20",
                pageNumber=str(first["TotalPages"]), **window).json
    assert len(last["Data"]) == first["Total"] - 20 * (first["TotalPages"] - 1)
    assert _get(simulated, "/sales/v2/receipts/active", pageSize="21").status_code == 400


def test_the_simulator_wants_the_keys_and_the_license(simulated) -> None:
    assert simulated.get("/packages/v2/active").status_code == 401
    assert _get(simulated, "/packages/v2/active", licenseNumber="C10-0000999-LIC").status_code \
        == 403
