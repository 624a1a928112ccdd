"""What one generation (or, for asynchronous searchers, one epoch of `population` evaluations) came to."""

from __future__ import annotations

from dataclasses import dataclass

from evo_fastslow.archive import Evaluation, GenomeRecord


@dataclass
class GenerationStats:
    generation: int
    best: float
    mean: float              # over the evaluations that finished
    best_id: int
    evaluations: int
    failures: int
    wall_seconds: float
    lifetime_seconds: float  # the generation's lifetimes, summed


def generation_stats(generation: int, records: list[GenomeRecord], outcomes: dict[int, Evaluation],
                     wall_seconds: float) -> GenerationStats:
    """Best: the highest rung first, then fitness; mean: over the successes at the highest rung reached."""
    fitnesses = [outcomes[r.id].fitness for r in records]
    ok = [outcomes[r.id].status == "ok" for r in records]
    rungs = [2 * outcomes[r.id].rung + (not outcomes[r.id].decision.startswith("raced out")) for r in records]
    best = max(range(len(records)), key=lambda i: (ok[i], rungs[i], fitnesses[i], -i))
    failures = len(records) - sum(ok)
    finished = [f for f, good, rung in zip(fitnesses, ok, rungs) if good and rung == rungs[best]]
    mean = sum(finished) / len(finished) if finished else fitnesses[best]  # failures' worst value aside
    return GenerationStats(generation, fitnesses[best], mean, records[best].id, len(records), failures,
                           wall_seconds, sum(outcomes[r.id].wall_seconds for r in records))
