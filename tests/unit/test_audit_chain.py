"""The audit chain's check (`domain.audit.verify_chain`) on chains built here: intact, and
broken each way, each named at its first break."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from antrean.domain.audit import GENESIS, AuditEntry, Break, verify_chain

KEY = b"k" * 32
AT = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


def mac(data: bytes) -> str:
    return hmac.new(KEY, data, hashlib.sha256).hexdigest()


def chain(n: int) -> list[AuditEntry]:
    entries, previous = [], GENESIS
    for seq in range(1, n + 1):
        e = AuditEntry(
            facility_id=1,
            chain=0,
            seq=seq,
            at=AT + timedelta(seconds=seq),
            actor_user_id=7,
            actor="user",
            roles="operator",
            action="get_patient",
            record_type="patient",
            record_id=str(seq),
            patient_id=seq,
            client_address="10.0.0.5",
            request_id=f"r{seq}",
            id=seq * 10,
        )
        previous = mac(e.canonical(previous))
        entries.append(replace(e, hash=previous))
    return entries


def head(entries: list[AuditEntry]) -> tuple[int, str]:
    return entries[-1].seq, entries[-1].hash


def test_an_intact_chain_and_an_empty_one_hold():
    entries = chain(5)
    assert verify_chain(0, entries, mac, head(entries)) is None
    assert verify_chain(0, [], mac, None) is None


def test_every_field_is_covered():
    entries = chain(3)
    for field, value in (
        ("actor_user_id", 8),
        ("roles", "admin"),
        ("action", "update_patient"),
        ("record_id", "99"),
        ("patient_id", 99),
        ("client_address", "10.0.0.6"),
        ("request_id", "other"),
        ("at", AT),
        ("actor", "system"),
    ):
        altered = [entries[0], replace(entries[1], **{field: value}), entries[2]]
        found = verify_chain(0, altered, mac, head(entries))
        assert found is not None and found.kind is Break.ALTERED and found.entry_id == 20, field


def test_a_removed_entry_is_named_by_its_position():
    entries = chain(5)
    found = verify_chain(0, entries[:2] + entries[3:], mac, head(entries))
    assert found is not None and found.kind is Break.REMOVED and found.seq == 3
    assert found.message == "position 3 of chain 0 was removed (before entry 40)"


def test_removed_last_entries_are_found_by_the_head():
    entries = chain(5)
    found = verify_chain(0, entries[:3], mac, head(entries))
    assert found is not None and found.kind is Break.REMOVED
    assert "positions 4 to 5" in found.message


def test_an_entry_at_a_taken_position_is_inserted():
    entries = chain(4)
    forged = replace(entries[1], record_id="forged", id=99)
    found = verify_chain(0, [*entries[:2], forged, *entries[2:]], mac, head(entries))
    assert found is not None and found.kind is Break.INSERTED and found.entry_id == 99


def test_an_entry_past_the_head_is_inserted():
    entries = chain(3)
    extra = replace(entries[2], seq=4, id=99, hash="0" * 64)
    found = verify_chain(0, [*entries, extra], mac, head(entries))
    assert found is not None and found.kind is Break.INSERTED and found.entry_id == 99


def test_a_head_that_does_not_match_is_reported():
    entries = chain(3)
    found = verify_chain(0, entries, mac, (3, "f" * 64))
    assert found is not None and found.kind is Break.ALTERED


def test_without_the_key_a_chain_cannot_be_mended():
    """Rewriting an entry and recomputing the hashes with another key still fails."""
    entries = chain(3)

    def other(data: bytes) -> str:
        return hmac.new(b"x" * 32, data, hashlib.sha256).hexdigest()

    rebuilt, previous = [], GENESIS
    for e in entries:
        changed = replace(e, action="nothing") if e.seq == 2 else e
        previous = other(changed.canonical(previous))
        rebuilt.append(replace(changed, hash=previous))
    found = verify_chain(0, rebuilt, mac, head(rebuilt))
    assert found is not None and found.seq == 1
