"""Waiting-time estimates from the clinic's own recent service times."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from antrean.domain.queue import WaitEstimate


@dataclass
class EwmaServiceTime:
    """An exponentially weighted mean and variance of service times, in minutes.

    Recent patients count most (weight `alpha` for the newest), so the estimate follows a doctor
    who speeds up or slows down during the day. Before any real observation it is the
    service's typical duration, with a wide spread.
    """

    mean: float
    variance: float
    alpha: float = 0.2
    observations: int = 0

    @classmethod
    def starting_at(cls, typical: timedelta, alpha: float = 0.2) -> EwmaServiceTime:
        minutes = typical.total_seconds() / 60
        return cls(mean=minutes, variance=(minutes / 2) ** 2, alpha=alpha)

    def observe(self, duration: timedelta) -> None:
        x = max(duration.total_seconds() / 60, 0.0)
        diff = x - self.mean
        increment = self.alpha * diff
        self.mean += increment
        self.variance = (1 - self.alpha) * (self.variance + diff * increment)
        self.observations += 1

    def observe_all(self, durations: Iterable[timedelta]) -> EwmaServiceTime:
        for d in durations:
            self.observe(d)
        return self


def estimate_call(
    *, people_ahead: int, service: EwmaServiceTime, servers: int, z: float = 1.0
) -> WaitEstimate:
    """Expected wait until called, with a range of about `z` standard deviations.

    The people ahead are shared among the counters serving; the spread of a sum of n service
    times grows with the square root of n.
    """
    servers = max(servers, 1)
    expected = service.mean * people_ahead / servers
    spread = z * math.sqrt(max(service.variance, 0.0) * people_ahead) / servers
    return WaitEstimate(
        expected=timedelta(minutes=expected),
        low=timedelta(minutes=max(expected - spread, 0.0)),
        high=timedelta(minutes=expected + spread),
    )
