"""Long commands show live progress on a terminal and one summary line otherwise."""

import io

import pytest

from auditor.cli_progress import Progress, progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_only_the_summary_line_is_written():
    log = io.StringIO()
    with progress("ingest", log) as shown:
        for rows in range(0, 10_000, 2_000):
            shown.show(f"{rows} rows", force=True)
        shown.done("1 files, 10,000 rows read")
    (line,) = log.getvalue().splitlines()
    assert line.startswith("ingest: 1 files, 10,000 rows read in ") and line.endswith(" s")


def test_on_a_terminal_the_line_is_redrawn_then_replaced_by_the_summary():
    screen = Terminal()
    shown = Progress("audit", screen)
    shown.show("rule 1/21 pos-sale-unreported", force=True)
    shown.show("rule 2/21 no-sale-on-hold", force=True)
    shown.done("21 rules, 3 findings")
    text = screen.getvalue()
    assert text.count("\r") >= 3 and "rule 2/21 no-sale-on-hold" in text
    assert text.rstrip("\n").rsplit("\r", 1)[-1].startswith("audit: 21 rules, 3 findings in ")


def test_redraws_are_throttled_unless_forced():
    screen = Terminal()
    shown = Progress("worker", screen)
    for n in range(1000):
        shown.show(f"processed {n}")
    assert screen.getvalue().count("\r") == 1


def test_a_failure_erases_the_live_line_before_the_error():
    screen = Terminal()
    with pytest.raises(RuntimeError), progress("packet", screen) as shown:
        shown.show("rendering pdf", force=True)
        raise RuntimeError("boom")
    assert screen.getvalue().endswith("\r")
