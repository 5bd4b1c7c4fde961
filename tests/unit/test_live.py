"""The live-update fan-out of one server process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from antrean.domain.events import DomainEvent, EventKind
from antrean.live import QUEUE_LIMIT, Broadcaster


def _event(n: int, kind: EventKind = EventKind.TICKET_CALLED) -> DomainEvent:
    return DomainEvent(
        kind,
        1,
        datetime(2026, 11, 23, tzinfo=UTC),
        clinic_id=3,
        ticket_id=n,
        data={"status_code": f"code-{n}", "label": f"A-{n:03d}"},
        id=n,
    )


def test_events_reach_the_clinic_and_the_ticket_streams_only():
    async def run():
        b = Broadcaster()
        b.bind(asyncio.get_running_loop())
        with (
            b.subscribe(("clinic", 3)) as clinic,
            b.subscribe(("ticket", "code-1")) as ticket,
            b.subscribe(("clinic", 4)) as other,
        ):
            b.deliver([_event(1), _event(2), _event(3, EventKind.APPOINTMENT_BOOKED)])
            await asyncio.sleep(0)  # one turn of the loop: the fan-out was scheduled on it
            assert [clinic.get_nowait().id for _ in range(clinic.qsize())] == [1, 2]
            assert [ticket.get_nowait().id for _ in range(ticket.qsize())] == [1]
            assert other.empty()
        assert b.subscriber_count() == 0

    asyncio.run(run())


def test_a_stalled_subscriber_is_told_to_start_again_instead_of_losing_events_silently():
    async def run():
        b = Broadcaster()
        b.bind(asyncio.get_running_loop())
        with b.subscribe(("clinic", 3)) as stalled:
            b.deliver([_event(n) for n in range(1, QUEUE_LIMIT + 50)])
            await asyncio.sleep(0)  # one turn of the loop
            assert stalled.qsize() == 1 and stalled.get_nowait() is None
            b.deliver([_event(1000)])
            await asyncio.sleep(0)  # one turn of the loop
            assert stalled.get_nowait().id == 1000, "live again once it has read the marker"

    asyncio.run(run())
