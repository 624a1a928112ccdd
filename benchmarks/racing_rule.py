"""Choosing the racing rule by measurement: a synthetic noisy objective with known means.

Each of G genomes has a true mean fitness; a trial draws it plus a replicate effect shared by every
genome (the task draw: what common random numbers cancel) plus the genome's own noise, and with a
small probability the lifetime "never learns" (chance level), as one in five or six lifetimes of the
reference LSTM did (docs/concepts/selection-under-noise.md). Genomes arrive one at a time and each is decided by the real plan
(`evolution/policy/selection.py: plan_step`) against all earlier trials; the winner is what `inspect` would
name (highest rung, then mean). Printed per rule: how often the winner is the true best, the winner's
optimism (selected mean - true mean) and the trials spent, beside single-seed selection.

    python benchmarks/racing_rule.py [--repeats 400]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from evo_fastslow.evolution.policy.selection import (Decision, EvaluationConfig, RacingConfig, View, level, mean_at,
                                              plan_step)

SINGLE = EvaluationConfig(max_replicates=1, racing=None, rungs=[1.0])


@dataclass(frozen=True)
class Objective:
    """True means and the noise of one lifetime (figures after the measurements in docs/concepts/selection-under-noise.md)."""
    genomes: int = 24
    best: float = 0.80
    gap: float = 0.05        # the runner-up is this much worse; the rest spread below it
    noise: float = 0.05      # a lifetime's own spread around its genome's mean
    common: float = 0.03     # a replicate's task draw, shared by every genome
    fail: float = 0.15       # the most often a genome's lifetime stays at chance (each genome: 0 to this)
    chance: float = 0.0

    def expected(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Each genome's expected fitness (failures included: the target) and its failure probability."""
        rest = rng.uniform(0.3, self.best - self.gap, self.genomes - 2)
        expected = np.concatenate([[self.best, self.best - self.gap], rest])[rng.permutation(self.genomes)]
        fail = rng.uniform(0.0, self.fail, self.genomes)
        return expected, fail


def select(objective: Objective, config: EvaluationConfig, seed: int) -> tuple[bool, float, int]:
    """(winner is the true best, winner's optimism, trials spent) of one selection."""
    rng = np.random.default_rng(seed)
    expected, fail = objective.expected(rng)
    true = (expected - objective.chance * fail) / (1 - fail)  # the mean of a lifetime that learns
    common = rng.normal(0.0, objective.common, 64)
    draws: dict[tuple[str, int, int], float] = {}

    def draw(subject: str, rung: int, replicate: int) -> float:
        key = (subject, rung, replicate)
        if key not in draws:
            local = np.random.default_rng([seed, int(subject), rung, replicate])
            learned = true[int(subject)] * (0.6 + 0.4 * config.rungs[rung])  # shorter lifetimes learn less
            failed = local.random() < fail[int(subject)]
            draws[key] = objective.chance if failed else learned + common[replicate] + local.normal(0, objective.noise)
        return draws[key]

    scores: dict[str, dict[tuple[int, int], float]] = {}
    order: dict[str, int] = {}
    levels: dict[str, int] = {}
    for genome in range(objective.genomes):
        subject = str(genome)
        order[subject] = genome
        scores.setdefault(subject, {})
        while True:
            view = View(scores, order)
            step = plan_step(subject, scores[subject], view, config, revisit=False)
            if isinstance(step, Decision):
                levels[subject] = level(step.rung, step.reason, config)
                break
            for trial in step:
                scores.setdefault(trial.subject, {})[(trial.rung, trial.replicate)] = draw(
                    trial.subject, trial.rung, trial.replicate)
    top = config.top
    ranked = sorted(levels, key=lambda s: (-levels[s], -mean_at(scores[s], max(k for k, _ in scores[s])), order[s]))
    winner = ranked[0]
    reached = max(k for k, _ in scores[winner])
    optimism = mean_at(scores[winner], reached) - expected[int(winner)] if reached == top else float("nan")
    return int(winner) == int(np.argmax(expected)), optimism, len(draws)


def rate(objective: Objective, config: EvaluationConfig, repeats: int) -> tuple[float, float, float]:
    results = [select(objective, config, seed) for seed in range(repeats)]
    return (float(np.mean([r[0] for r in results])), float(np.nanmean([r[1] for r in results])),
            float(np.mean([r[2] for r in results])))


GAUSSIAN = Objective(genomes=16, gap=0.08, fail=0.0)  # the objective tests/test_selection.py holds the rule to
HEAVY = Objective()                                    # lifetimes that also fail, at a rate per genome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    rules: dict[str, EvaluationConfig] = {"single seed": SINGLE}
    for replicates in (2, 3, 4, 8):
        rules[f"replicates {replicates}, no racing"] = EvaluationConfig(max_replicates=replicates, racing=None,
                                                                         first_replicates=None, rungs=[1.0])
        for test, alpha in (("t", 0.1), ("t", 0.2), ("wilcoxon", 0.2)):
            rules[f"replicates {replicates}, {test} alpha {alpha}"] = EvaluationConfig(
                max_replicates=replicates, rungs=[1.0], racing=RacingConfig(test=test, alpha=alpha))
        rules[f"replicates {replicates}, mean"] = EvaluationConfig(max_replicates=replicates, rungs=[1.0],
                                                                    racing=RacingConfig(test="mean"))
        rules[f"replicates {replicates}, t 0.2, rungs 0.25/1"] = EvaluationConfig(max_replicates=replicates,
                                                                                   racing=RacingConfig())
        rules[f"replicates {replicates}, mean, rungs 0.25/1"] = EvaluationConfig(
            max_replicates=replicates, racing=RacingConfig(test="mean"))
    for objective in (GAUSSIAN, HEAVY):
        print(f"\n{objective}\n{'rule':42s} {'true best':>9s} {'optimism':>9s} {'trials':>7s}")
        for name, config in rules.items():
            hit, optimism, trials = rate(objective, config, args.repeats)
            print(f"{name:42s} {hit:9.3f} {optimism:+9.4f} {trials:7.1f}", flush=True)


if __name__ == "__main__":
    main()
