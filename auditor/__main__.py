"""Run the CLI as `python -m auditor`."""

from auditor.cli import main

main()
