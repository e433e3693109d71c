# The commands a newcomer needs; each one sets up .venv first if it is missing.
.PHONY: setup demo demo-sync test test-fast lint bench scorecard screenshots clean

setup:
	./scripts/bootstrap

demo: setup
	.venv/bin/auditor demo

demo-sync: setup
	.venv/bin/auditor demo-sync

test: setup
	.venv/bin/pytest

test-fast: setup
	.venv/bin/pytest -m "not slow"

lint: setup
	.venv/bin/ruff check auditor api tests bench
	.venv/bin/mypy auditor

bench: setup
	.venv/bin/python bench/ingest.py

# Runs the reliability tests and writes their figures into the README's scorecard.
scorecard: setup
	.venv/bin/python scripts/scorecard

# Runs the console's browser tests and saves the README's screenshots of its pages.
screenshots: setup
	AUDITOR_SCREENSHOTS=docs/images .venv/bin/pytest -q -p no:cacheprovider tests/browser

clean:
	rm -rf .venv var .pytest_cache
