"""A channel that records what it is given instead of sending it, for tests and for trying the
product without a provider. It can be told to fail, for now or for good."""

from __future__ import annotations

import itertools
import threading

from antrean.domain.notifications import Medium, OutgoingMessage, Receipt, SendFailure


class RecordingChannel:
    def __init__(self, medium: Medium = Medium.WHATSAPP, transport: str = "recording") -> None:
        self.medium = medium
        self.transport = transport
        self.sent: list[OutgoingMessage] = []
        # None: accept; else the failure every send raises until it is set back to None.
        self.failure: SendFailure | None = None
        self.attempts = 0
        self._ids = itertools.count(1)
        self._lock = threading.Condition()

    def send(self, message: OutgoingMessage) -> Receipt:
        with self._lock:
            self.attempts += 1
            if self.failure is not None:
                raise self.failure
            self.sent.append(message)
            self._lock.notify_all()
            return Receipt(provider_id=f"{self.transport}-{next(self._ids)}")

    def wait_for(self, count: int, timeout: float = 10.0) -> list[OutgoingMessage]:
        """Block until `count` messages were sent (or the timeout passes); what was sent."""
        with self._lock:
            self._lock.wait_for(lambda: len(self.sent) >= count, timeout)
            return list(self.sent)

    def to(self, address: str) -> list[OutgoingMessage]:
        with self._lock:
            return [m for m in self.sent if m.to == address]
