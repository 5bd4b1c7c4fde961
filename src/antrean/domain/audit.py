"""The audit log: who did what to which record, when and from where, in an append-only,
hash-chained list.

Each entry is written by the unit of work in the transaction of the change it records (reads
are recorded right after them). Entries of a facility form a few chains (one per stripe, so
concurrent writers do not all wait on one head): each entry's hash is a keyed MAC of its
fields and of the hash of the entry before it in its chain. Changing, removing or inserting
an entry breaks the chain from there on, and without the key a broken chain cannot be
mended. `verify_chain` finds the first place a chain is broken.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from antrean.domain.identity import Actor, Role

GENESIS = ""  # the "hash before the first entry" of every chain


@dataclass(frozen=True, slots=True)
class AuditSubject:
    """The record an action touched; `patient_id` when it is (about) a patient."""

    record_type: str
    record_id: str
    patient_id: int | None = None


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Where the request came from, as the edge saw it."""

    client_address: str = ""
    request_id: str = ""


def actor_label(actor: Actor) -> str:
    """Who acted, in words that stay true after accounts change: `user`, `device:<name>`,
    `system` or `anonymous`."""
    if actor.user_id:
        return "user"
    if actor.device:
        return f"device:{actor.device}"[:80]
    if Role.SYSTEM in actor.roles:
        return "system"
    return "anonymous"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    facility_id: int
    chain: int
    seq: int
    at: datetime
    actor_user_id: int | None
    actor: str
    roles: str
    action: str
    record_type: str
    record_id: str
    patient_id: int | None
    client_address: str
    request_id: str
    hash: str = ""
    id: int = 0

    def canonical(self, previous: str) -> bytes:
        """The bytes the entry's hash covers: every field but its own id and hash, and the
        hash before it."""
        return json.dumps(
            [
                previous,
                self.facility_id,
                self.chain,
                self.seq,
                self.at.astimezone(UTC).isoformat(timespec="microseconds"),
                self.actor_user_id,
                self.actor,
                self.roles,
                self.action,
                self.record_type,
                self.record_id,
                self.patient_id,
                self.client_address,
                self.request_id,
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries to show (all given conditions hold)."""

    actor_user_id: int | None = None
    not_actor_user_id: int | None = None  # everyone but this person
    not_anonymous: bool = False  # leave out what was done without signing in
    patient_id: int | None = None
    action: str | None = None
    record_type: str | None = None
    record_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class Break(StrEnum):
    ALTERED = "altered"
    REMOVED = "removed"
    INSERTED = "inserted"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place a chain is broken, in words an auditor can act on."""

    kind: Break
    chain: int
    seq: int
    entry_id: int | None
    message: str


def verify_chain(
    chain: int,
    entries: Iterable[AuditEntry],
    mac: Callable[[bytes], str],
    head: tuple[int, str] | None,
) -> ChainBreak | None:
    """Walk one chain's entries in order (position, then id) against the head the database
    keeps (its last position and hash); the first break, or None when the chain holds."""
    previous, expected, last_id = GENESIS, 1, None
    head_seq, head_hash = head if head is not None else (0, GENESIS)
    for e in entries:
        if e.seq > head_seq:
            return ChainBreak(
                Break.INSERTED,
                chain,
                e.seq,
                e.id,
                f"entry {e.id} (position {e.seq} of chain {chain}) was added outside the log, "
                f"after its last recorded position {head_seq}",
            )
        if e.seq < expected:
            return ChainBreak(
                Break.INSERTED,
                chain,
                e.seq,
                e.id,
                f"entry {e.id} was inserted: it repeats position {e.seq} of chain {chain}",
            )
        if e.seq > expected:
            missing = f"{expected}" if e.seq == expected + 1 else f"{expected} to {e.seq - 1}"
            return ChainBreak(
                Break.REMOVED,
                chain,
                expected,
                e.id,
                f"position {missing} of chain {chain} was removed (before entry {e.id})",
            )
        if mac(e.canonical(previous)) != e.hash:
            return ChainBreak(
                Break.ALTERED,
                chain,
                e.seq,
                e.id,
                f"entry {e.id} (position {e.seq} of chain {chain}) was altered",
            )
        previous, expected, last_id = e.hash, expected + 1, e.id
    last = expected - 1
    if head_seq > last:
        return ChainBreak(
            Break.REMOVED,
            chain,
            last + 1,
            None,
            f"the last entries of chain {chain} (positions {last + 1} to {head_seq}) were removed",
        )
    if head_hash != previous:
        return ChainBreak(
            Break.ALTERED,
            chain,
            last,
            last_id,
            f"the head of chain {chain} does not match its last entry {last_id}",
        )
    return None


@dataclass(frozen=True, slots=True)
class ChainReport:
    """One chain as verified: how many entries, its head, and its first break (None: holds)."""

    chain: int
    entries: int
    head_seq: int
    head_hash: str
    broken: ChainBreak | None
