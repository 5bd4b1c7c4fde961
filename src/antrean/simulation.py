"""A synthetic clinic day, run faster than real time, to measure the waiting-time estimates.

Patients arrive at random (a Poisson process), are served first come first served by a few
counters, with random service times (log-normal). At each arrival the patient is told an
estimated call time by the same estimator the product uses, knowing only what the clinic could
know then: the services finished so far, the people waiting ahead and the counters. Afterwards
the estimate is compared with when the patient was really called.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from datetime import timedelta

from antrean.domain.eta import EwmaServiceTime, estimate_call


@dataclass(frozen=True)
class SimulationConfig:
    days: int = 20
    hours: float = 6.0
    arrivals_per_hour: float = 10.0
    counters: int = 2
    mean_service_minutes: float = 10.0
    service_cv: float = 0.5  # spread of service times (coefficient of variation)
    typical_minutes: float = 15.0  # what the clinic says a visit takes, before any history
    alpha: float = 0.2
    seed: int = 20261122


@dataclass(frozen=True)
class DayResult:
    patients: int
    abs_errors: list[float]  # minutes
    naive_abs_errors: list[float]  # a constant typical duration, no learning
    within_range: int


def _service_times(cfg: SimulationConfig, rng: random.Random, n: int) -> list[float]:
    sigma = math.sqrt(math.log(1 + cfg.service_cv**2))
    mu = math.log(cfg.mean_service_minutes) - sigma**2 / 2
    return [rng.lognormvariate(mu, sigma) for _ in range(n)]


def simulate_day(cfg: SimulationConfig, rng: random.Random) -> DayResult:
    arrivals: list[float] = []
    t = rng.expovariate(cfg.arrivals_per_hour / 60)
    while t < cfg.hours * 60:
        arrivals.append(t)
        t += rng.expovariate(cfg.arrivals_per_hour / 60)
    services = _service_times(cfg, rng, len(arrivals))
    free = [0.0] * cfg.counters
    calls: list[float] = []
    finishes: list[tuple[float, float]] = []  # (finish time, duration)
    for arrival, service in zip(arrivals, services, strict=True):
        start = max(arrival, heapq.heappop(free))
        calls.append(start)
        heapq.heappush(free, start + service)
        finishes.append((start + service, service))
    errors, naive, within = [], [], 0
    for i, arrival in enumerate(arrivals):
        done = sorted((f, d) for f, d in finishes[:i] if f <= arrival)
        ahead = sum(1 for j in range(i) if calls[j] > arrival)
        ewma = EwmaServiceTime.starting_at(timedelta(minutes=cfg.typical_minutes), cfg.alpha)
        ewma.observe_all(timedelta(minutes=d) for _, d in done)
        est = estimate_call(people_ahead=ahead, service=ewma, servers=cfg.counters)
        actual = calls[i] - arrival
        predicted = est.expected.total_seconds() / 60
        errors.append(abs(predicted - actual))
        naive.append(abs(cfg.typical_minutes * ahead / cfg.counters - actual))
        low, high = est.low.total_seconds() / 60, est.high.total_seconds() / 60
        within += low <= actual <= high
    return DayResult(len(arrivals), errors, naive, within)
