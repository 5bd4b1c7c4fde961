import random

from antrean.simulation import SimulationConfig, simulate_day


def _run(cfg):
    rng = random.Random(cfg.seed)
    errors, naive, within, patients = [], [], 0, 0
    for _ in range(cfg.days):
        day = simulate_day(cfg, rng)
        errors += day.abs_errors
        naive += day.naive_abs_errors
        within += day.within_range
        patients += day.patients
    return sum(errors) / len(errors), sum(naive) / len(naive), within / patients, patients


def test_learning_beats_a_wrong_stated_duration():
    cfg = SimulationConfig(
        days=10,
        arrivals_per_hour=11,
        counters=2,
        mean_service_minutes=10,
        typical_minutes=20,
        seed=7,
    )
    mae, naive_mae, within, patients = _run(cfg)
    assert patients > 300
    assert mae < naive_mae / 2, (mae, naive_mae)
    assert 0.3 < within <= 1.0


def test_the_simulation_is_repeatable():
    cfg = SimulationConfig(days=3, seed=11)
    assert _run(cfg) == _run(cfg)
