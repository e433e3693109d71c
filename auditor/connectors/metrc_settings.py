"""Where a license's METRC is and which keys open it, read from the environment or a file.

Keys come from AUDITOR_METRC_VENDOR_KEY and AUDITOR_METRC_USER_KEY, or from the JSON
file named by AUDITOR_METRC_KEYS_FILE (`{"vendor_key": "...", "user_key": "..."}`,
readable by its owner only). They are never stored in the database or printed.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from auditor.domain.errors import InvalidInput
from auditor.domain.license import License
from auditor.services.sync_ports import MetrcKeys

# METRC runs one API host per state.
STATE_BASE_URLS = {state: f"https://api-{state.lower()}.metrc.com" for state in (
    "AK", "AL", "CA", "CO", "DC", "GU", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS",
    "MT", "NJ", "NV", "OH", "OK", "OR", "SC", "WV")}
KEY_VARS = ("AUDITOR_METRC_VENDOR_KEY", "AUDITOR_METRC_USER_KEY")
FILE_VAR = "AUDITOR_METRC_KEYS_FILE"


def load_keys(environ: Mapping[str, str] | None = None) -> MetrcKeys:
    """Return the METRC keys from the environment, or from the keys file it names."""
    env = os.environ if environ is None else environ
    vendor, user = (env.get(name, "").strip() for name in KEY_VARS)
    if vendor and user:
        return MetrcKeys(vendor, user)
    if env.get(FILE_VAR):
        return _keys_file(Path(env[FILE_VAR]))
    raise InvalidInput("no METRC keys: set AUDITOR_METRC_VENDOR_KEY and AUDITOR_METRC_USER_KEY, "
                       "or AUDITOR_METRC_KEYS_FILE to a JSON file with vendor_key and user_key")


def _keys_file(path: Path) -> MetrcKeys:
    try:
        mode = path.stat().st_mode
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read the METRC keys file {path}: "
                           f"{type(exc).__name__}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidInput(f"the METRC keys file {path} is readable by others: "
                           f"run `chmod 600 {path}`")
    vendor = data.get("vendor_key") if isinstance(data, dict) else None
    user = data.get("user_key") if isinstance(data, dict) else None
    if not (isinstance(vendor, str) and vendor.strip() and isinstance(user, str)
            and user.strip()):
        raise InvalidInput(f"the METRC keys file {path} needs non-empty \"vendor_key\" and "
                           f"\"user_key\" strings")
    return MetrcKeys(vendor.strip(), user.strip())


def license_variable(number: str) -> str:
    """Return the name of the variable that overrides one license's base URL."""
    return "AUDITOR_METRC_BASE_URL_" + re.sub(r"[^A-Z0-9]", "_", number.upper())


def base_url(license: License, environ: Mapping[str, str] | None = None) -> str:
    """Return the license's METRC base URL: its own override, the global one, or its state's."""
    env = os.environ if environ is None else environ
    url = (env.get(license_variable(license.number)) or env.get("AUDITOR_METRC_BASE_URL")
           or STATE_BASE_URLS.get(license.state))
    if not url:
        raise InvalidInput(f"no METRC base URL known for state {license.state}: set "
                           f"AUDITOR_METRC_BASE_URL or {license_variable(license.number)}")
    if not url.startswith(("https://", "http://")):
        raise InvalidInput(f"the METRC base URL {url!r} must start with https:// or http://")
    return url.rstrip("/")
