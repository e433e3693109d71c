"""The today page's lists are kept while nothing new is stored, and only then."""

from __future__ import annotations

from auditor.services.today import Recent


def test_a_list_is_computed_again_only_when_the_version_moves() -> None:
    recent, calls = Recent(size=2), []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert recent.get(("today", "L1"), 5, compute) == 1
    assert recent.get(("today", "L1"), 5, compute) == 1  # nothing stored since: kept
    assert recent.get(("today", "L1"), 6, compute) == 2  # a new trail head: computed again
    assert recent.get(("today", "L2"), 6, compute) == 3
    assert recent.get(("today", "L3"), 6, compute) == 4  # L1 was the oldest: dropped
    assert recent.get(("today", "L1"), 6, compute) == 5
