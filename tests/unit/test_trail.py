"""The audit trail's chain, MAC and verification, on entries built in memory."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auditor.domain.errors import InvalidInput
from auditor.domain.trail import (
    GENESIS,
    Change,
    Entry,
    Head,
    acting_as,
    current_actor,
    load_key,
    seal,
    verify,
)

KEY = b"k" * 32
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def chain(length: int, key: bytes | None = KEY) -> list[Entry]:
    entries: list[Entry] = []
    for n in range(length):
        previous = entries[-1].head if entries else None
        change = Change("finding.status", "finding", f"f{n}", "C10-0000123-LIC",
                        {"status": "open"}, {"status": "acknowledged", "note": f"n{n}"})
        entries.append(seal(previous, change, f"token {n}", START + timedelta(minutes=n), key))
    return entries


def rows(entries: list[Entry]) -> list[dict[str, Any]]:
    return [entry.row() for entry in entries]


def test_the_first_entry_links_to_the_genesis_hash_and_each_next_to_the_one_before():
    entries = chain(3)
    assert entries[0].prev_hash == GENESIS == "0" * 64
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert [e.seq for e in entries] == [1, 2, 3]


def test_the_hash_is_the_sha256_of_the_canonical_content_including_the_previous_hash():
    entry = chain(2)[1]
    assert entry.hash == hashlib.sha256(entry.content()).hexdigest()
    content = json.loads(entry.content())
    assert content[-1] == entry.prev_hash and content[0] == 2
    assert entry.at == "2026-01-05T12:01:00.000000Z"


def test_a_sound_trail_verifies_with_its_count_and_head():
    entries = chain(5)
    verdict = verify(rows(entries), KEY)
    assert verdict.ok and verdict.entries == 5 and verdict.head == entries[-1].head
    assert str(verdict).startswith("OK: 5 entries, head 5:")


def test_an_empty_trail_verifies():
    assert verify([], KEY).ok


EDITS = {"at": ("12:02", "12:03"), "actor": ("token", "t0ken"), "action": (".", "_"),
         "entity_type": ("finding", "Finding"), "entity_id": ("f2", "f3"),
         "license": ("C10", "C11"), "old": ("open", "opEn"), "new": ("n2", "n3")}


@pytest.mark.parametrize("column", sorted(EDITS))
def test_a_changed_value_in_any_column_is_a_hash_mismatch_at_that_entry(column):
    stored = rows(chain(5))
    before, after = EDITS[column]
    assert before in stored[2][column]
    stored[2][column] = stored[2][column].replace(before, after)
    verdict = verify(stored, None)
    assert (verdict.broken_seq, verdict.entries) == (3, 2)
    assert "hash mismatch" in str(verdict) and str(verdict).startswith("seq 3: ")


def test_json_that_no_longer_parses_is_reported_as_an_undecodable_row():
    stored = rows(chain(3))
    stored[1]["new"] = stored[1]["new"].replace("{", "z", 1)
    verdict = verify(stored, KEY)
    assert verdict.broken_seq == 2 and "undecodable" in str(verdict)


def test_bytes_that_are_not_utf8_are_reported_as_an_undecodable_row():
    stored = rows(chain(3))
    stored[2]["actor"] = b"\xff" + stored[2]["actor"].encode()
    assert verify(stored, KEY).broken_seq == 3


def test_a_removed_entry_is_named_by_its_missing_seq():
    stored = rows(chain(5))
    del stored[1]
    verdict = verify(stored, KEY)
    assert verdict.broken_seq == 2 and "jumps from 1 to 3" in str(verdict)


def test_an_entry_renumbered_into_place_breaks_the_link_or_the_hash():
    stored = rows(chain(5))
    stored[3]["seq"] = 3  # a copy of seq 4 claiming to be 3 again
    verdict = verify(stored, KEY)
    assert verdict.broken_seq == 4 and "stands where 4 should" in str(verdict)


def test_two_swapped_entries_are_caught_at_the_first_of_them():
    stored = rows(chain(5))
    stored[1], stored[3] = {**stored[3], "seq": 2}, {**stored[1], "seq": 4}
    assert verify(stored, None).broken_seq == 2


def test_a_changed_previous_hash_is_a_broken_link():
    stored = rows(chain(4))
    stored[2]["prev_hash"] = "1" + stored[2]["prev_hash"][1:]
    verdict = verify(stored, None)
    assert verdict.broken_seq == 3 and "broken link" in str(verdict)


def test_a_full_rewrite_passes_the_chain_but_not_the_mac():
    entries = chain(4)
    forged = [entries[0], seal(entries[0].head, Change("finding.status", "finding", "f1"),
                               "someone else", START, key=None)]
    assert verify(rows(forged), None).ok  # without the key, a rewrite is a valid chain
    verdict = verify(rows(forged), KEY)
    assert verdict.broken_seq == 2 and "no MAC" in str(verdict)
    other_key = [entries[0], seal(entries[0].head, Change("x", "y", "z"), "a", START, b"o" * 32)]
    assert "MAC mismatch" in str(verify(rows(other_key), KEY))


def test_a_changed_mac_is_caught_only_with_the_key():
    stored = rows(chain(3))
    stored[1]["mac"] = "0" * 64
    assert verify(stored, None).ok
    assert verify(stored, KEY).broken_seq == 2


def test_a_truncation_is_caught_by_a_published_head():
    entries = chain(5)
    published = entries[3].head
    assert verify(rows(entries), KEY, published).ok
    verdict = verify(rows(entries[:3]), KEY, published)
    assert verdict.broken_seq == 4 and "truncated" in str(verdict)


def test_a_published_head_whose_hash_changed_names_that_entry():
    entries = chain(4)
    assert verify(rows(entries), KEY, Head(2, "a" * 64)).broken_seq == 2


def test_heads_parse_from_seq_colon_hash():
    assert Head.parse(f"12:{'A' * 64}") == Head(12, "a" * 64)
    with pytest.raises(ValueError):
        Head.parse("12:abc")


def test_old_and_new_values_read_back_as_json():
    entry = chain(1)[0]
    assert entry.as_json()["old"] == {"status": "open"}
    assert entry.as_json()["new"]["status"] == "acknowledged"
    assert replace(entry, mac=None).row()["mac"] is None


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        seal(None, Change("a", "b", "c"), "me", datetime(2026, 1, 1), None)


def test_the_actor_is_scoped_to_the_block_that_names_it():
    before = current_actor()
    with acting_as("token 7 (ana)"):
        assert current_actor() == "token 7 (ana)"
        assert seal(None, Change("a", "b", "c"), current_actor(), START).actor == "token 7 (ana)"
    assert current_actor() == before


def test_a_short_or_missing_key_file_is_refused(tmp_path):
    (tmp_path / "short").write_bytes(b"abc\n")
    (tmp_path / "good").write_bytes(KEY + b"\n")
    assert load_key(str(tmp_path / "good")) == KEY
    for name in ("short", "absent"):
        with pytest.raises(InvalidInput):
            load_key(str(tmp_path / name))
