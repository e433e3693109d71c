"""Uploading a POS export through a shipped profile over the API."""

from __future__ import annotations

import io

from flask.testing import FlaskClient

from tests.api.conftest import auth
from tests.conftest import FIXTURES, LICENSE

EXPORT = (FIXTURES / "pos-exports" / "treez-sales.csv").read_bytes()


def post(client: FlaskClient, secrets: dict[str, str], query: str):
    return client.post(f"/licenses/{LICENSE.number}/imports?{query}",
                       headers=auth(secrets["associate"]),
                       data={"file": (io.BytesIO(EXPORT), "treez.csv")})


def test_a_vendor_export_is_imported_with_its_profile(client: FlaskClient,
                                                      secrets: dict[str, str]) -> None:
    response = post(client, secrets, "format=pos-sales&profile=treez")
    assert response.status_code == 201, response.json
    assert (response.json["accepted"], response.json["rejected"]) == (4, 0)


def test_without_its_profile_the_export_is_refused_naming_the_columns(
        client: FlaskClient, secrets: dict[str, str]) -> None:
    response = post(client, secrets, "format=pos-sales")
    assert response.status_code == 422
    assert "missing columns" in response.json["message"]


def test_a_profile_path_or_unknown_name_is_refused(client: FlaskClient,
                                                   secrets: dict[str, str]) -> None:
    for name in ("/etc/passwd", "square"):
        response = post(client, secrets, f"format=pos-sales&profile={name}")
        assert response.status_code == 422
        assert "profile" in str(response.json["errors"]["query"])
