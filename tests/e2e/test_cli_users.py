"""`auditor user` end to end: the password from a file or a hidden prompt, never argv."""

import os
import subprocess
import sys

import pytest

from tests.conftest import LICENSE

pytestmark = pytest.mark.slow  # each command is a process of its own


def auditor(*args, env, stdin=None):
    return subprocess.run([sys.executable, "-m", "auditor", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def env(tmp_path):
    env = {**os.environ, "AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    assert auditor("db", "upgrade", env=env).returncode == 0
    added = auditor("license", "add", LICENSE.number, "--state", "CA", "--timezone",
                    "America/Los_Angeles", env=env)
    assert added.returncode == 0, added.stderr
    return env


def test_create_from_a_password_file_list_and_disable(env, tmp_path):
    secret = tmp_path / "password"
    secret.write_text("a long enough password\n")
    made = auditor("user", "create", "Ana@Store.example", "--role", "compliance_officer",
                   "--license", LICENSE.number, "--password-file", str(secret), env=env)
    assert made.returncode == 0, made.stderr
    assert "ana@store.example (default; compliance_officer; C10-0000123-LIC)" in made.stdout
    again = auditor("user", "create", "ana@store.example", "--role", "viewer", "--license",
                    LICENSE.number, "--password-file", str(secret), env=env)
    assert again.returncode != 0 and "exists already" in again.stderr
    listed = auditor("user", "list", env=env)
    assert "ana@store.example" in listed.stdout and "active" in listed.stdout
    assert "scrypt" not in listed.stdout  # never the hash
    assert auditor("user", "disable", "ana@store.example", env=env).returncode == 0
    assert "disabled" in auditor("user", "list", env=env).stdout


def test_the_prompt_asks_twice_and_a_short_password_is_refused_naming_the_rule(env):
    made = auditor("user", "create", "sam@store.example", "--role", "associate", "--license",
                   LICENSE.number, env=env, stdin="twelve chars!\ntwelve chars!\n")
    assert made.returncode == 0, made.stderr
    short = auditor("user", "create", "kim@store.example", "--role", "associate",
                    "--license", LICENSE.number, env=env, stdin="short\nshort\n")
    assert short.returncode != 0 and "at least 12 characters" in short.stderr
    unknown = auditor("user", "create", "lee@store.example", "--role", "associate",
                      "--license", "C10-0000000-LIC", env=env,
                      stdin="twelve chars!\ntwelve chars!\n")
    assert unknown.returncode != 0 and "C10-0000000-LIC" in unknown.stderr
