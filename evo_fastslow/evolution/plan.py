"""What a run will spend at most, told before its first lifetime: lifetimes, training env-steps, and
core-hours estimated from this machine's measured lifetime speed.

The bound: every genome of every generation is evaluated once per lower budget rung and `max_replicates`
times at the full budget (rungs and races usually stop most genomes earlier; one lifetime per genome
without trials), and a re-test (`evaluation.retest`) gives each of its genomes its replicates beyond
those. The speed: seconds per unit of `expected_cost` (the scheduler's relative cost of a lifetime),
measured once per machine and kernel build on a short lifetime of the default genome and kept in the
user's cache; the run's genomes are priced at the mean expected cost of random genomes of its space.
A plan above `budget.ceiling_core_hours` starts only with `--yes` (or `budget.confirm: false`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evo_fastslow.evolution.config import RunConfig
from evo_fastslow.evolution.policy.trials import scaled_suites
from evo_fastslow.lifetime import expected_cost
from evo_fastslow.seeds import derive_seed


@dataclass(frozen=True)
class Plan:
    lifetimes: int          # at most
    env_steps: int          # training env-steps, at most
    core_hours: float | None  # estimated on this machine (None: not measured)

    def text(self) -> str:
        hours = f", about {self.core_hours:.3g} core-hours on this machine" if self.core_hours is not None else ""
        return f"at most {self.lifetimes:,} lifetimes, {self.env_steps / 1e6:,.4g}M env-steps{hours}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan(config: RunConfig, measure: bool = True) -> Plan:
    """The run's spend at most (and, with `measure`, its core-hours on this machine)."""
    suites, evaluation = config.fitness_suites(), config.evaluation
    genomes = config.population * config.generations
    if evaluation.legacy:
        per_genome = [(1.0, 1)]
    else:
        per_genome = [(f, 1) for f in evaluation.rungs[:-1]] + [(1.0, evaluation.max_replicates)]
    retested = evaluation.retest.top * max(0, evaluation.retest.replicates - evaluation.max_replicates) \
        if evaluation.retest is not None and not evaluation.legacy else 0  # full lifetimes beyond the bound
    lifetimes = genomes * sum(n for _, n in per_genome) + retested
    full = sum(s.lifetime.train_env_steps for s in suites)
    env_steps = int((genomes * sum(f * n for f, n in per_genome) + retested) * full)
    hours = None
    if measure:
        seconds = seconds_per_cost()
        if seconds is not None:
            space, rng = config.space(), np.random.default_rng(derive_seed(config.seed, "plan"))
            sample = [dict(space.decode(rng.random(len(space))).genes) for _ in range(32)]
            cost = sum(n * float(np.mean([sum(expected_cost(g, s) for s in scaled_suites(suites, f)) for g in sample]))
                       for f, n in per_genome)
            full_cost = float(np.mean([sum(expected_cost(g, s) for s in suites) for g in sample]))
            hours = (genomes * cost + retested * full_cost) * seconds / 3600
    return Plan(lifetimes, env_steps, hours)


def _cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "evo-fastslow" / "lifetime-speed.json"


def seconds_per_cost() -> float | None:
    """Seconds per unit of expected cost on this machine, measured once per kernel build (cached)."""
    from evo_fastslow.numerics import build

    key = build.build_id()
    path = _cache()
    try:
        known = json.loads(path.read_text())
        if isinstance(known.get(key), float):
            return known[key]
    except (OSError, ValueError, AttributeError):
        known = {}
    try:
        measured = _measure()
    except Exception:  # noqa: BLE001 - no kernels, no compiler: the plan says core-hours are unknown
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**(known if isinstance(known, dict) else {}), key: measured}))
    except OSError:
        pass
    return measured


def _measure() -> float:
    """One short lifetime of the default genome on the bandit (after the kernels are loaded)."""
    from evo_fastslow.genome import SEARCH_SPACE
    from evo_fastslow.lifetime import run_lifetime
    from evo_fastslow.numerics import build
    from evo_fastslow.suite import FitnessSuite

    build.load()
    suite = FitnessSuite.model_validate({
        "schema": "evo_fastslow.suite/1", "name": "speed", "task": {"kind": "bandit", "params": {"trials": 100}},
        "lifetime": {"train_env_steps": 64_000}, "test": {"episodes": 16}})
    genome = SEARCH_SPACE.default()
    start = time.perf_counter()
    run_lifetime(genome, suite, seed=0)
    return (time.perf_counter() - start) / expected_cost(dict(genome.genes), suite)
