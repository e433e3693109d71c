"""An import opens with its first batch and finishes with its last: one commit for a small file."""

from auditor.importers.store_csv import MOVES
from auditor.services.fakes import InMemoryEventStore
from auditor.services.ingest import ingest
from tests.conftest import LICENSE


class CountingStore(InMemoryEventStore):
    """The fake store, noting each append: did it open the import, did it finish it."""

    def __init__(self) -> None:
        super().__init__()
        self.appends: list[tuple[bool, bool, int]] = []

    def append(self, batch, finish=None):
        self.appends.append((batch.opening is not None, finish is not None, len(batch.records)))
        return super().append(batch, finish)


def moves(count: int, bad: int = 0) -> bytes:
    rows = [f"2026-01-05T10:{n:02d}:00-08:00,1A4000000000000000000001,Vault,Floor,1,Each,ana"
            for n in range(count)] + ["not a time,1A4,Vault,Floor,1,Each,ana"] * bad
    return ("\n".join([",".join(MOVES), *rows]) + "\n").encode()


def run(data: bytes, chunk_size: int = 2000) -> tuple[CountingStore, object]:
    store = CountingStore()
    store.add_license(LICENSE)
    summary = ingest(store, LICENSE.number, "moves", "moves.csv", data, chunk_size=chunk_size)
    return store, summary


def test_a_file_of_one_batch_is_opened_stored_and_finished_in_one_append():
    store, summary = run(moves(5))
    assert store.appends == [(True, True, 5)]
    assert store.imports[summary.import_id]["status"] == "completed"


def test_a_long_file_opens_with_its_first_batch_and_finishes_with_its_last():
    store, summary = run(moves(5, bad=1), chunk_size=2)
    assert store.appends == [(True, False, 2), (False, False, 2), (False, True, 1)]
    assert summary.balanced() and (summary.accepted, summary.rejected) == (5, 1)
    assert store.imports[summary.import_id]["summary"] is summary


def test_a_file_without_records_is_still_recorded_as_an_import():
    store, summary = run(moves(0))
    assert store.appends == [(True, True, 0)]
    assert summary.rows_read == 0 and store.imports[summary.import_id]["status"] == "completed"


def test_a_file_of_rejected_rows_is_recorded_with_its_rejections():
    store, summary = run(moves(0, bad=3), chunk_size=2)
    assert store.appends == [(True, False, 0), (False, True, 0)]
    assert [r.line for r in summary.rejections] == [2, 3, 4]
