"""Whatever the arrival order and wherever the worker is killed, it ends at the batch audit.

A generated store's files arrive in a random order (whole files of one source, or one
day's file at a time). Between arrivals the worker runs as a child process
(`worker --once`) a few times, and is killed with SIGKILL at a random moment half of the time.
After every run it finished, each standing finding must be one the data stored so far
supports; once every file is stored and the period closed (`--until`), the standing
findings must be the batch audit's, finding for finding, none written twice.
"""

import random

import pytest

from tests.continuous.convergence import (
    arrival_order,
    assert_no_duplicates,
    assert_supported,
    batch_findings,
    generated,
    run_worker,
    standing,
)


def converge(sql_settings, tmp_path, seed, whole_files, days, receipts, runs):
    rng = random.Random(seed)
    arrival = generated(sql_settings, tmp_path / "store", days, receipts, seed)
    units = arrival_order(arrival.entries, rng, whole_files)
    run_after = set(rng.sample(range(len(units)), min(runs, len(units))))
    kills = finished = 0
    for index, unit in enumerate(units):
        arrival.arrive(unit)
        if index in run_after:
            kill_after = rng.uniform(0.2, 3.0) if rng.random() < 0.5 else None
            if run_worker(arrival, kill_after):
                finished += 1
                assert_supported(arrival)
            else:
                kills += 1
    run_worker(arrival, until=arrival.bounds[1])
    expected = batch_findings(arrival, *arrival.bounds)
    assert expected, "the generated store plants violations"
    assert standing(arrival) == expected
    assert_no_duplicates(arrival)
    arrival.store.engine.dispose()
    return kills, finished


@pytest.mark.parametrize(("seed", "whole_files"), [(11, True), (12, False)],
                         ids=["whole-files", "per-day"])
def test_any_arrival_order_and_kills_end_at_the_batch_audit(sql_settings, tmp_path, seed,
                                                            whole_files):
    converge(sql_settings, tmp_path, seed, whole_files, days=5, receipts=8, runs=4)


@pytest.mark.slow
@pytest.mark.parametrize("whole_files", [True, False], ids=["whole-files", "per-day"])
@pytest.mark.parametrize("seed", [21, 22, 23])
def test_a_larger_store_in_any_order_ends_at_the_batch_audit(sql_settings, tmp_path, seed,
                                                             whole_files):
    kills, finished = converge(sql_settings, tmp_path, seed, whole_files, days=10,
                               receipts=30, runs=12)
    assert kills + finished > 0
