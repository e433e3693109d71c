# The commands a newcomer needs; each one sets up .venv first if it is missing.
.PHONY: setup demo test test-fast lint bench clean

setup:
	./scripts/bootstrap

demo: setup
	.venv/bin/auditor demo

test: setup
	.venv/bin/pytest

test-fast: setup
	.venv/bin/pytest -m "not slow"

lint: setup
	.venv/bin/ruff check auditor api tests bench
	.venv/bin/mypy auditor

bench: setup
	.venv/bin/python bench/ingest.py

clean:
	rm -rf .venv var .pytest_cache
