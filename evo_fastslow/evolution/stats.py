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
    fitnesses = [outcomes[r.id].fitness for r in records]
    best = max(range(len(records)), key=lambda i: (fitnesses[i], -i))
    failures = sum(outcomes[r.id].status != "ok" for r in records)
    finished = [f for r, f in zip(records, fitnesses) if outcomes[r.id].status == "ok"]
    mean = sum(finished) / len(finished) if finished else fitnesses[best]  # failures' worst value aside
    return GenerationStats(generation, fitnesses[best], mean, records[best].id, len(records), failures,
                           wall_seconds, sum(outcomes[r.id].wall_seconds for r in records))
