"""Schemathesis against the served OpenAPI document, every check on, bounded in examples.

The schema is loaded when the module is imported (on a temporary SQLite database):
schemathesis's lazy `from_fixture` loader does not run under pytest 9.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import missing_required_header, positive_data_acceptance

from auditor.config import Settings
from tests.api.conftest import make_app
from tests.figures import Figure

FOLDER = Path(tempfile.mkdtemp(prefix="auditor-schemathesis-"))
# Its checks send hundreds of requests without a token from one address and expect a
# 401 each; the limit on failed authentications has a test of its own.
APP, SECRETS = make_app(Settings(database_url=f"sqlite:///{FOLDER / 'a.db'}",
                                 auth_failures_per_minute=10**9))
atexit.register(shutil.rmtree, FOLDER, ignore_errors=True)
atexit.register(APP.extensions["auditor"]["store"].engine.dispose)
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP)
schema.config.generation.update(modes=list(schemathesis.GenerationMode))


YAML_DRAFTS = {"/rule-validations", "/licenses/{number}/backtests", "/rules/{rule_id}"}
# Dates and times are accepted within 2000..2100 only; OpenAPI 3.0 cannot bound a date
# string (minimum and maximum are for numbers), so the bound is in the description.
DATE_BOUNDED = {"/licenses/{number}/audits", "/licenses/{number}/events",
                "/licenses/{number}/reports/{name}", "/audits/{run_id}/findings"}


OPERATIONS_SEEN: set[str] = set()  # so each operation is counted once in the figures


@pytest.mark.reliability
@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_conforms_to_its_openapi_document(case: schemathesis.Case,
                                                  figure: Figure) -> None:
    # A PATCH or PUT without If-Match answers 428 Precondition Required (RFC 6585) and one with a
    # stale or made-up If-Match 412, both documented in the OpenAPI; schemathesis's
    # header checks know neither, so they are off for PATCH and PUT (test_flow and
    # test_rules cover 412 and 428).
    excluded = ([missing_required_header, positive_data_acceptance]
                if case.method in ("PATCH", "PUT") else [])
    # A rule draft is YAML in a string: what makes it valid (a known template, fields)
    # is beyond what the OpenAPI can say, so a schema-valid string may rightly get 422.
    if case.path in YAML_DRAFTS or case.path in DATE_BOUNDED:
        excluded.append(positive_data_acceptance)
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    if operation not in OPERATIONS_SEEN:
        OPERATIONS_SEEN.add(operation)
        figure("api: schemathesis operations", 1, operation=operation)
    figure("api: schemathesis cases", 1)
    try:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {SECRETS['compliance_officer']}"},
            excluded_checks=excluded)
    except Exception:
        figure("api: schemathesis failures", 1, operation=operation)
        raise
    figure("api: schemathesis failures", 0, operation=operation)
