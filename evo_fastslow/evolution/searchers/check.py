"""Hold a searcher to the interface without lifetimes: drive it on a function of the genome, in the order
the run's drivers use (evolution/drivers/), and check what it proposes (as `check_task` does for tasks).

    from evo_fastslow.evolution.searchers.check import check_searcher
    check_searcher(MySearcher, {"name": "mine", "step": 0.2}, objective=lambda genome: ...)
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from evo_fastslow.evolution.searchers.base import Candidate, Result, SearchContext, SearcherSettings
from evo_fastslow.genes import Bool, Categorical
from evo_fastslow.genome import SEARCH_SPACE, Genome, SearchSpace
from evo_fastslow.seeds import derive_seed


class SearcherContractError(AssertionError):
    """A searcher that breaks the interface; the message names the searcher and what it broke."""


def drive(searcher: Any, context: SearchContext, objective: Callable[[Genome], float], evaluations: int
          ) -> list[tuple[Candidate, float]]:
    """Ask and tell `searcher` for `evaluations` proposals, each valued at once by `objective` (a failure:
    a non-finite value, told as -1e9), in the drivers' order: generation by generation, or steady-state
    with results 0 .. i - lag told before proposal i."""
    done: list[tuple[Candidate, float]] = []

    def result(index: int) -> Result:
        candidate, value = done[index]
        ok = math.isfinite(value)
        return Result(index, candidate.genome, value if ok else -1.0e9, value if ok else -1.0e9, ok)

    if searcher.style == "generational":
        for generation in range(math.ceil(evaluations / context.popsize)):
            candidates = searcher.ask(generation)
            if len(candidates) != context.popsize:
                raise SearcherContractError(f"ask({generation}) gave {len(candidates)} candidates, not popsize "
                                            f"{context.popsize}")
            first = len(done)
            done += [(c, float(objective(c.genome))) for c in candidates]
            searcher.tell(generation, [result(first + i) for i in range(context.popsize)])
        return done[:evaluations]
    told = 0
    for index in range(evaluations):
        while index >= context.popsize and told <= index - searcher.lag:
            searcher.tell(told, result(told))
            told += 1
        candidate = searcher.ask(index)
        done.append((candidate, float(objective(candidate.genome))))
    return done


def check_searcher(cls: type, settings: Mapping[str, Any], objective: Callable[[Genome], float] | None = None,
                   space: SearchSpace = SEARCH_SPACE, popsize: int = 6, generations: int = 4, seed: int = 0,
                   seeds: list[Genome] = (), suites: list[Any] = ()) -> list[tuple[Candidate, float]]:
    """Build `cls` twice with the same seed and drive both: every proposal a valid genome of `space`, a
    Candidate with an origin, and the same proposals both times (determinism).
    Returns the first run's proposals and values."""
    name = settings.get("name", cls.__name__)
    config = getattr(cls, "Config", SearcherSettings).model_validate(dict(settings))
    objective = objective or (lambda genome: float(space.encode(genome).mean()))
    runs = []
    for _ in range(2):
        context = SearchContext(space, popsize, generations, seed, list(seeds), list(suites))
        searcher = cls(config, context)
        if searcher.style not in ("generational", "steady"):
            raise SearcherContractError(f"{name}: style {searcher.style!r}, not 'generational' or 'steady'")
        runs.append(drive(searcher, context, objective, popsize * generations))
    for index, (candidate, _) in enumerate(runs[0]):
        if not (isinstance(candidate, Candidate) and isinstance(candidate.genome, Genome) and candidate.origin):
            raise SearcherContractError(f"{name}: proposal {index} is {candidate!r}, not a Candidate with an origin")
        if space.complete(dict(candidate.genome.genes)) != candidate.genome:
            raise SearcherContractError(f"{name}: proposal {index} is not a valid genome of the search space")
    if [(c.genome, c.origin, c.parents) for c, _ in runs[0]] != [(c.genome, c.origin, c.parents) for c, _ in runs[1]]:
        raise SearcherContractError(f"{name}: two runs with the same seed proposed differently")
    return runs[0]


def synthetic_objective(space: SearchSpace, seed: int, noise: float = 0.1
                        ) -> tuple[Callable[[Genome], float], Callable[[Genome], float]]:
    """A noisy, mixed objective with a known optimum (1.0), to measure searchers without lifetimes: each
    free gene has a target drawn from `seed` (a categorical or boolean gene one choice: 1 if it is chosen;
    a numeric gene a point of its [0,1] coordinate: a Gaussian bump of width 0.15 around it); the value is
    the mean over genes. Returns (noisy, true): `noisy` adds Gaussian noise of `noise` per call, drawn in
    call order from `seed`, as a lifetime's luck would."""
    rng = np.random.default_rng(derive_seed(seed, "synthetic"))
    targets: dict[str, Any] = {}
    for name in space.free:
        gene = space.genes[name]
        choices = list(gene.choices) if isinstance(gene, Categorical) else [False, True] if isinstance(gene, Bool) \
            else None
        targets[name] = choices[int(rng.integers(len(choices)))] if choices else float(rng.uniform(0.1, 0.9))

    def true(genome: Genome) -> float:
        parts = [float(genome[n] == t) if not isinstance(t, float)
                 else math.exp(-((space.genes[n].encode(genome[n]) - t) / 0.15) ** 2) for n, t in targets.items()]
        return float(np.mean(parts))

    draws = np.random.default_rng(derive_seed(seed, "synthetic", "noise"))
    return (lambda genome: true(genome) + noise * float(draws.normal())), true
