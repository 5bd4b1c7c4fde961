"""Events that other parts of the system (display boards, phones, notifications) react to."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """A ticket changed. Small on purpose: ids and states, no personal data."""

    id: int  # the timeline row's id: one global order, and the SSE event id
    facility_id: int
    clinic_id: int
    ticket_id: int
    status_code: str
    label: str
    state: str
    action: str
    counter: str | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> QueueEvent:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)

    def public(self) -> dict[str, Any]:
        """What a display board or a patient's phone is sent."""
        return {
            "ticket": self.label,
            "clinic_id": self.clinic_id,
            "state": self.state,
            "action": self.action,
            "counter": self.counter,
        }
