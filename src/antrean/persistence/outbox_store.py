"""SQL storage of messages: the outbox, the clinic's texts, opt-outs, conversations, handled
webhooks and scheduled jobs.

Several workers may share the outbox. On PostgreSQL a worker claims due rows with
`FOR UPDATE SKIP LOCKED`, so two workers never take the same row and never wait for each
other; on SQLite the claim runs in a write transaction (taken at BEGIN), which serialises
claims. A claim is a lease (`claimed_until`): a worker that dies holding messages loses them
when the lease ends, and another worker takes them over. An outcome is stored only while the
claim is still the one the worker made, so a worker that comes back late cannot overwrite
what its successor did.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    String,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from antrean.domain.common import Page
from antrean.domain.notifications import (
    Medium,
    Message,
    MessageFilter,
    MessageKind,
    MessageState,
    MessageText,
    OutboxDraft,
    Outcome,
    delivery_moves,
)
from antrean.persistence import tables as t
from antrean.persistence.prepared import Prepared
from antrean.persistence.protect import Keyring, keyring_of
from antrean.persistence.rows import Repository

_O = t.outbox_message
_UNFINISHED = (MessageState.PENDING.value, MessageState.SENDING.value)


def _unfinished(table: Any) -> Any:
    """`state IN ('pending', 'sending')` written out, not bound: only then can the database see
    that the partial indexes of unfinished messages apply (with bound values SQLite scans the
    whole table, and a claim slows down as the outbox grows)."""
    return table.c.state.in_([literal_column(f"'{v}'") for v in _UNFINISHED])


_HAS_KEY = _O.c.dedupe_key.is_not(None)  # the unique index on dedupe keys is partial
DRAFT_COLUMNS = (
    "facility_id",
    "kind",
    "state",
    "patient_id",
    "appointment_id",
    "ticket_id",
    "order_key",
    "medium",
    "address",
    "lang",
    "data",
    "dedupe_key",
    "due_at",
    "expires_at",
    "created_at",
    "updated_at",
    "address_index",
)


def _insert_ignoring_repeats(dialect: Any) -> Prepared:
    """One outbox row; a second message with the same dedupe key inserts nothing."""
    values = {name: bindparam(name, type_=_O.c[name].type) for name in DRAFT_COLUMNS}
    return Prepared(
        dialect.insert(_O)
        .values(values)
        .on_conflict_do_nothing(index_elements=[_O.c.dedupe_key], index_where=_HAS_KEY)
    )


# The booking's hot path writes one of these: compiled once, run on the DBAPI cursor.
_INSERT = {
    "sqlite": _insert_ignoring_repeats(sqlite),
    "postgresql": _insert_ignoring_repeats(postgresql),
}
# Most messages have no dedupe key and need no conflict clause (cheaper on SQLite).
_INSERT_PLAIN = Prepared(
    insert(_O).values({name: bindparam(name, type_=_O.c[name].type) for name in DRAFT_COLUMNS})
)

_COLUMNS = tuple(
    _O.c[name]
    for name in (
        "id",
        "facility_id",
        "kind",
        "state",
        "patient_id",
        "appointment_id",
        "ticket_id",
        "order_key",
        "medium",
        "transport",
        "address",
        "lang",
        "data",
        "due_at",
        "expires_at",
        "tries",
        "claimed_until",
        "last_error",
        "provider_id",
        "delivery_status",
        "delivery_error",
        "created_at",
        "sent_at",
    )
)


def _message(row: Sequence[Any]) -> Message:
    (
        mid,
        facility_id,
        kind,
        state,
        patient_id,
        appointment_id,
        ticket_id,
        order_key,
        medium,
        transport,
        address,
        lang,
        data,
        due_at,
        expires_at,
        tries,
        claimed_until,
        last_error,
        provider_id,
        delivery_status,
        delivery_error,
        created_at,
        sent_at,
    ) = row
    return Message(
        id=mid,
        facility_id=facility_id,
        kind=MessageKind(kind),
        state=MessageState(state),
        patient_id=patient_id,
        appointment_id=appointment_id,
        ticket_id=ticket_id,
        order_key=order_key,
        medium=Medium(medium) if medium else None,
        transport=transport,
        address=address,
        lang=lang,
        data=json.loads(data),
        due_at=due_at,
        expires_at=expires_at,
        tries=tries,
        claimed_until=claimed_until,
        last_error=last_error,
        provider_id=provider_id,
        delivery_status=delivery_status,
        delivery_error=delivery_error,
        created_at=created_at,
        sent_at=sent_at,
    )


def address_index(keys: Keyring, address: str | None) -> str | None:
    """The blind index of a phone number or e-mail address, as messages are searched by."""
    return keys.blind("address", address.lower()) if address else None


def draft_values(draft: OutboxDraft, now: datetime, keys: Keyring) -> dict[str, Any]:
    return {
        "address_index": address_index(keys, draft.address),
        "facility_id": draft.facility_id,
        "kind": draft.kind.value,
        "state": MessageState.PENDING.value,
        "patient_id": draft.patient_id,
        "appointment_id": draft.appointment_id,
        "ticket_id": draft.ticket_id,
        "order_key": draft.order_key,
        "medium": draft.medium.value if draft.medium else None,
        "address": draft.address,
        "lang": draft.lang,
        "data": json.dumps(dict(draft.data), separators=(",", ":")),
        "dedupe_key": draft.dedupe_key,
        "due_at": draft.due_at,
        "expires_at": draft.expires_at,
        "created_at": now,
        "updated_at": now,
    }


class SqlOutbox(Repository):
    """The outbox. With `writes` off (messages switched off), adding a message does nothing."""

    def __init__(self, conn: Connection, *, writes: bool = True) -> None:
        super().__init__(conn)
        self.writes = writes

    def add(self, draft: OutboxDraft, now: datetime) -> None:
        if self.writes:
            self.add_values(draft_values(draft, now, keyring_of(self.conn)))

    def add_values(self, values: dict[str, Any]) -> None:
        if values["dedupe_key"] is None:
            _INSERT_PLAIN.run(self.conn, values)
        else:
            _INSERT[self.conn.dialect.name].run(self.conn, values)

    def _first_of_its_key(self, now: datetime) -> Any:
        """The message is the first of its order key still to go: no earlier unfinished message
        with the same key is due, being sent, or being retried (or held back because its
        channel is down). One patient's messages go out in order; one merely scheduled for
        later (tomorrow's reminder) holds nothing back.

        Written as "my id is the smallest such id" (a subquery run per candidate on the
        order index) rather than NOT EXISTS: PostgreSQL plans that anti-join badly on a table
        it has no statistics for yet, and a claim then reads the table once per candidate."""
        p = _O.alias("earlier")
        first = (
            select(func.min(p.c.id))
            .where(
                p.c.order_key == _O.c.order_key,
                _unfinished(p),
                or_(
                    p.c.state == MessageState.SENDING.value,
                    p.c.tries > 0,
                    p.c.last_error.is_not(None),
                    p.c.due_at <= now,
                ),
            )
            .scalar_subquery()
        )
        return _O.c.id == first

    def has_due(self, now: datetime) -> bool:
        """Whether anything is due (a cheap read before claiming in a write transaction)."""
        found = self.conn.execute(
            select(_O.c.id).where(_unfinished(_O), _O.c.due_at <= now).limit(1)
        ).first()
        return found is not None

    def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[Message]:
        """Take up to `limit` due messages for this worker until `lease_until`: pending ones
        whose time has come, and claimed ones whose worker's lease ran out."""
        due = (
            select(_O.c.id)
            .where(
                _unfinished(_O),
                _O.c.due_at <= now,
                or_(_O.c.state == MessageState.PENDING.value, _O.c.claimed_until < now),
                self._first_of_its_key(now),
            )
            .order_by(_O.c.due_at, _O.c.id)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True, of=_O)
        ids = [row[0] for row in self.conn.execute(due)]
        if not ids:
            return []
        rows = self.conn.execute(
            update(_O)
            .where(
                _O.c.id.in_(ids),
                # Checked again on the row as it is now: only a message still free is taken.
                or_(_O.c.state == MessageState.PENDING.value, _O.c.claimed_until < now),
                _unfinished(_O),
            )
            .values(state=MessageState.SENDING.value, claimed_until=lease_until, updated_at=now)
            .returning(*_COLUMNS)
        )
        return sorted((_message(r) for r in rows), key=lambda m: (m.due_at, m.id))

    def finish(self, outcomes: Sequence[Outcome], now: datetime) -> int:
        """Store the outcomes whose claim still holds; how many were stored."""
        keys = keyring_of(self.conn)
        if not outcomes:
            return 0
        stmt = (
            update(_O)
            .where(
                _O.c.id == bindparam("o_id"),
                _O.c.state == MessageState.SENDING.value,
                _O.c.claimed_until == bindparam("o_claimed"),
            )
            .values(
                state=bindparam("o_state"),
                tries=bindparam("o_tries"),
                due_at=bindparam("o_due"),
                # A round that did not try a channel (paused, quiet hours, skipped) keeps
                # what the last try recorded.
                medium=func.coalesce(bindparam("o_medium", type_=String), _O.c.medium),
                transport=func.coalesce(bindparam("o_transport", type_=String), _O.c.transport),
                address=func.coalesce(
                    bindparam("o_address", type_=_O.c.address.type), _O.c.address
                ),
                address_index=func.coalesce(
                    bindparam("o_address_index", type_=String), _O.c.address_index
                ),
                lang=func.coalesce(bindparam("o_lang", type_=String), _O.c.lang),
                last_error=bindparam("o_error"),
                provider_id=bindparam("o_provider"),
                sent_at=bindparam("o_sent"),
                delivery_status=bindparam("o_delivery"),
                claimed_until=None,
                updated_at=now,
            )
        )
        result = self.conn.execute(
            stmt,
            [
                {
                    "o_id": o.id,
                    "o_claimed": o.claimed_until,
                    "o_state": o.state.value,
                    "o_tries": o.tries,
                    "o_due": o.due_at,
                    "o_medium": o.medium.value if o.medium else None,
                    "o_transport": o.transport,
                    "o_address": o.address,
                    "o_address_index": address_index(keys, o.address),
                    "o_lang": o.lang,
                    "o_error": (o.last_error or "")[:500] or None,
                    "o_provider": o.provider_id,
                    "o_sent": o.sent_at,
                    "o_delivery": "accepted" if o.state is MessageState.SENT else None,
                }
                for o in outcomes
            ],
        )
        return int(result.rowcount)

    def get(self, facility_id: int, message_id: int) -> Message | None:
        row = self.conn.execute(
            select(*_COLUMNS).where(_O.c.facility_id == facility_id, _O.c.id == message_id)
        ).first()
        return _message(row) if row else None

    def find(self, facility_id: int, flt: MessageFilter, page: Page) -> tuple[list[Message], int]:
        """Newest first."""
        conditions = [_O.c.facility_id == facility_id]
        if flt.state is not None:
            conditions.append(_O.c.state == flt.state.value)
        if flt.kind is not None:
            conditions.append(_O.c.kind == flt.kind.value)
        if flt.medium is not None:
            conditions.append(_O.c.medium == flt.medium.value)
        if flt.patient_id is not None:
            conditions.append(_O.c.patient_id == flt.patient_id)
        if flt.search:
            conditions.append(
                _O.c.address_index == address_index(keyring_of(self.conn), flt.search)
            )
        where = and_(*conditions)
        total = self.conn.execute(select(func.count()).select_from(_O).where(where)).scalar_one()
        rows = self.conn.execute(
            select(*_COLUMNS)
            .where(where)
            .order_by(_O.c.id.desc())
            .limit(page.size)
            .offset((page.number - 1) * page.size)
        )
        return [_message(r) for r in rows], int(total)

    def counts(self, facility_id: int) -> dict[MessageState, int]:
        rows = self.conn.execute(
            select(_O.c.state, func.count())
            .where(_O.c.facility_id == facility_id)
            .group_by(_O.c.state)
        )
        return {MessageState(state): int(n) for state, n in rows}

    def send_again(self, facility_id: int, message_id: int, now: datetime) -> bool:
        """A failed or skipped message back in the queue with fresh tries; False otherwise."""
        result = self.conn.execute(
            update(_O)
            .where(
                _O.c.facility_id == facility_id,
                _O.c.id == message_id,
                _O.c.state.in_((MessageState.FAILED.value, MessageState.SKIPPED.value)),
            )
            .values(
                state=MessageState.PENDING.value,
                tries=0,
                due_at=now,
                expires_at=None,
                claimed_until=None,
                last_error=None,
                delivery_status=None,
                delivery_error=None,
                updated_at=now,
            )
        )
        return bool(result.rowcount)

    def record_delivery(
        self, transport: str, provider_id: str, status: str, error: str | None, now: datetime
    ) -> bool:
        """A provider's status report, if it moves the message forward."""
        row = self.conn.execute(
            select(_O.c.id, _O.c.delivery_status).where(
                _O.c.provider_id == provider_id, _O.c.transport == transport
            )
        ).first()
        if row is None or not delivery_moves(row.delivery_status, status):
            return False
        self.conn.execute(
            update(_O)
            .where(_O.c.id == row.id)
            .values(delivery_status=status, delivery_error=error, updated_at=now)
        )
        return True

    def add_reminders(
        self,
        facility_id: int,
        *,
        day: date,
        booked_before: datetime,
        due_at: datetime,
        now: datetime,
    ) -> int:
        """A reminder for every booking of `day` still booked and made before `booked_before`
        that has none yet, in one statement; how many were added."""
        a = t.appointment
        text_id = cast(a.c.id, String)
        source = select(
            a.c.facility_id,
            literal(MessageKind.REMINDER.value, String),
            literal(MessageState.PENDING.value, String),
            a.c.patient_id,
            a.c.id,
            literal("p", String) + cast(a.c.patient_id, String),
            # No data: one sealed "{}" for every row (the same text sealed once).
            bindparam("data", "{}", type_=_O.c.data.type),
            literal("reminder:", String) + text_id,
            bindparam("due_at", due_at, type_=_O.c.due_at.type),
            bindparam("created_at", now, type_=_O.c.created_at.type),
            bindparam("updated_at", now, type_=_O.c.updated_at.type),
        ).where(
            a.c.facility_id == facility_id,
            a.c.day == day,
            a.c.status == "booked",
            a.c.created_at < booked_before,
        )
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(_O)
            .from_select(
                [
                    "facility_id",
                    "kind",
                    "state",
                    "patient_id",
                    "appointment_id",
                    "order_key",
                    "data",
                    "dedupe_key",
                    "due_at",
                    "created_at",
                    "updated_at",
                ],
                source,
            )
            .on_conflict_do_nothing(index_elements=[_O.c.dedupe_key], index_where=_HAS_KEY)
            .returning(_O.c.id)
        )
        return len(self.conn.execute(stmt).all())


class SqlMessageTexts(Repository):
    def edited(self, facility_id: int) -> dict[tuple[MessageKind, str], MessageText]:
        m = t.message_text
        rows = self.conn.execute(select(m).where(m.c.facility_id == facility_id))
        found: dict[tuple[MessageKind, str], MessageText] = {}
        for r in rows:
            try:
                kind = MessageKind(r.kind)
            except ValueError:
                continue
            found[(kind, r.lang)] = MessageText(
                kind, r.lang, r.subject, r.body, r.whatsapp_template, r.edited_at
            )
        return found

    def save(self, facility_id: int, text: MessageText, by: int | None) -> None:
        m = t.message_text
        self.conn.execute(
            delete(m).where(
                m.c.facility_id == facility_id, m.c.kind == text.kind.value, m.c.lang == text.lang
            )
        )
        self.conn.execute(
            insert(m).values(
                facility_id=facility_id,
                kind=text.kind.value,
                lang=text.lang,
                subject=text.subject,
                body=text.body,
                whatsapp_template=text.whatsapp_template,
                edited_at=text.edited_at,
                edited_by=by,
            )
        )

    def reset(self, facility_id: int, kind: MessageKind, lang: str) -> None:
        m = t.message_text
        self.conn.execute(
            delete(m).where(
                m.c.facility_id == facility_id, m.c.kind == kind.value, m.c.lang == lang
            )
        )


class SqlContacts(Repository):
    """Opt-outs, conversations (the 24-hour window) and webhook deliveries already handled.
    An address is kept as its blind index only: these tables are looked up by it, never
    listed."""

    def _key(self, address: str) -> str:
        return str(address_index(keyring_of(self.conn), address))

    def _keys(self, addresses: list[str]) -> dict[str, list[str]]:
        by_key: dict[str, list[str]] = {}
        for address in set(addresses):
            by_key.setdefault(self._key(address), []).append(address)
        return by_key

    def opted_out(self, facility_id: int, address: str) -> set[Medium]:
        o = t.contact_optout
        rows = self.conn.execute(
            select(o.c.medium).where(
                o.c.facility_id == facility_id, o.c.address == self._key(address)
            )
        )
        return {Medium(r[0]) for r in rows}

    def opted_out_many(self, facility_id: int, addresses: list[str]) -> dict[str, set[Medium]]:
        o = t.contact_optout
        found: dict[str, set[Medium]] = {a: set() for a in addresses}
        by_key = self._keys(addresses)
        if by_key:
            rows = self.conn.execute(
                select(o.c.address, o.c.medium).where(
                    o.c.facility_id == facility_id, o.c.address.in_(sorted(by_key))
                )
            )
            for key, medium in rows:
                for address in by_key[key]:
                    found[address].add(Medium(medium))
        return found

    def conversations(
        self, facility_id: int, addresses: list[str]
    ) -> dict[str, tuple[datetime, str | None]]:
        c = t.conversation
        by_key = self._keys(addresses)
        if not by_key:
            return {}
        rows = self.conn.execute(
            select(c.c.address, c.c.last_inbound_at, c.c.lang).where(
                c.c.facility_id == facility_id, c.c.address.in_(sorted(by_key))
            )
        )
        return {address: (at, lang) for key, at, lang in rows for address in by_key[key]}

    def set_opt_out(
        self, facility_id: int, medium: Medium, address: str, out: bool, now: datetime
    ) -> None:
        o = t.contact_optout
        key = self._key(address)
        self.conn.execute(
            delete(o).where(
                o.c.facility_id == facility_id, o.c.medium == medium.value, o.c.address == key
            )
        )
        if out:
            self.conn.execute(
                insert(o).values(facility_id=facility_id, medium=medium.value, address=key, at=now)
            )

    def conversation(self, facility_id: int, address: str) -> tuple[datetime, str | None] | None:
        c = t.conversation
        row = self.conn.execute(
            select(c.c.last_inbound_at, c.c.lang).where(
                c.c.facility_id == facility_id, c.c.address == self._key(address)
            )
        ).first()
        return (row[0], row[1]) if row else None

    def heard_from(self, facility_id: int, address: str, lang: str | None, now: datetime) -> None:
        c = t.conversation
        found = self.conversation(facility_id, address)
        key = self._key(address)
        if found is None:
            self.conn.execute(
                insert(c).values(
                    facility_id=facility_id, address=key, last_inbound_at=now, lang=lang
                )
            )
            return
        self.conn.execute(
            update(c)
            .where(c.c.facility_id == facility_id, c.c.address == key)
            .values(last_inbound_at=now, lang=lang or found[1])
        )

    def first_delivery(
        self, facility_id: int, transport: str, message_id: str, now: datetime
    ) -> bool:
        """Record a webhook's message id; False when it was handled before (a repeat)."""
        i = t.inbound_message
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        result = self.conn.execute(
            dialect.insert(i)
            .values(
                transport=transport,
                message_id=message_id[:200],
                facility_id=facility_id,
                received_at=now,
            )
            .on_conflict_do_nothing(index_elements=[i.c.transport, i.c.message_id])
            .returning(i.c.message_id)
        )
        # RETURNING, not rowcount: an INSERT's rowcount is not reported by every driver.
        return result.first() is not None


class SqlJobs(Repository):
    def take(self, name: str, now: datetime, next_due: datetime) -> bool:
        """Run the job now if it is due (or new): True for the one caller that moved its due
        time forward to `next_due`."""
        j = t.scheduled_job
        result = self.conn.execute(
            update(j)
            .where(j.c.name == name, j.c.due_at <= now)
            .values(due_at=next_due, last_run_at=now)
        )
        if result.rowcount:
            return True
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        inserted = self.conn.execute(
            dialect.insert(j)
            .values(name=name, due_at=next_due, last_run_at=now)
            .on_conflict_do_nothing(index_elements=[j.c.name])
            .returning(j.c.name)
        )
        return inserted.first() is not None

    def due_at(self, name: str) -> datetime | None:
        j = t.scheduled_job
        found: datetime | None = self.conn.execute(
            select(j.c.due_at).where(j.c.name == name)
        ).scalar_one_or_none()
        return found
