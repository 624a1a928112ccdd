"""Searchers: how the next generation's genomes are proposed. They see genomes and fitnesses, never lifetimes.

- `ga` (default): a generational genetic algorithm on genomes: tournament selection, elitism (the
  best genomes return unchanged and are evaluated again on the new generation's tasks), uniform
  crossover of whole genes and mutation by gene kind (a categorical gene jumps to another choice).
  Its randomness is derived per generation from the run seed, so it has no state but its population.
- `cmaes`, `snes`: EvoTorch's, over the [0,1]^d encoding; their unbounded samples are reflected into
  the cube before decoding.
- `aging`: asynchronous regularised evolution (evolution/aging.py), driven by evolution/steady.py.
- `map-elites`: asynchronous MAP-Elites over descriptors from the config (evolution/qd.py), same driver.
- `nsga2`: generational NSGA-II, fitness against a deterministic cost (evolution/multiobjective.py).

Every searcher is deterministic given the fitnesses it is told, which is what lets `resume` rebuild
its state by replaying the archived generations.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from evo_fastslow.evolution.descriptors import Descriptor
from evo_fastslow.genes import reflect
from evo_fastslow.genome import Genome, SearchSpace
from evo_fastslow.seeds import derive_seed


class SearcherConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["ga", "cmaes", "snes", "aging", "map-elites", "nsga2"] = Field(
        "ga", description="ga | cmaes | snes | aging | map-elites | nsga2")
    tournament_size: int = Field(3, ge=1, description="ga, aging: genomes per selection tournament (S)")
    lag: int = Field(4, ge=1, description="aging, map-elites: proposal i sees the results of evaluations "
                                          "0 .. i - lag; about twice the number of workers keeps them busy")
    elites: int = Field(2, ge=0, description="ga: best genomes carried into the next generation")
    crossover_rate: float = Field(0.5, ge=0, le=1, description="ga: chance a child has two parents")
    mutation_rate: float = Field(0.15, ge=0, le=1, description="ga, aging: chance each gene mutates (at least one does)")
    mutation_scale: float = Field(0.1, gt=0, le=1, description="ga, aging: Gaussian step of numeric genes on [0,1]")
    stdev_init: float = Field(0.25, gt=0, description="cmaes/snes: initial step size on [0,1]^d")
    descriptors: list[Descriptor] = Field(default_factory=list, description="map-elites: the map's axes "
                                          "(default: core x meta_inputs)")
    qd_offset: float = Field(-1.0, description="map-elites: QD-score = sum over elites of (fitness - qd_offset)")
    cost: Literal["parameters"] = Field("parameters", description="nsga2: the second objective, minimised: "
                                        "the agent's parameter count (deterministic, unlike wall time)")


@dataclass(frozen=True)
class Candidate:
    genome: Genome
    origin: str              # random | seeded | mutation | crossover | elite | sampled
    parents: tuple[int, ...]  # genome ids


EvaluateFn = Callable[[list[Candidate]], list[float]]
IdOf = Callable[[int, int], int]


class GeneticAlgorithm:
    def __init__(self, space: SearchSpace, config: SearcherConfig, popsize: int, seed: int,
                 seeds: list[Genome], id_of: IdOf):
        self.space, self.config, self.popsize, self.seed = space, config, popsize, seed
        self.seeds, self.id_of = seeds[:popsize], id_of
        self.population: list[tuple[int, Genome, float]] = []  # (id, genome, fitness)

    def step(self, generation: int, evaluate: EvaluateFn) -> None:
        rng = np.random.default_rng(derive_seed(self.seed, "ga", generation))
        candidates = self._initial(rng) if generation == 0 else self._offspring(rng)
        fitnesses = evaluate(candidates)
        self.population = [(self.id_of(generation, i), c.genome, f)
                           for i, (c, f) in enumerate(zip(candidates, fitnesses))]

    def _initial(self, rng: np.random.Generator) -> list[Candidate]:
        seeded = [Candidate(g, "seeded", ()) for g in self.seeds]
        randoms = [Candidate(self.space.decode(rng.random(len(self.space))), "random", ())
                   for _ in range(self.popsize - len(seeded))]
        return seeded + randoms

    def _tournament(self, rng: np.random.Generator) -> tuple[int, Genome, float]:
        entrants = rng.integers(len(self.population), size=self.config.tournament_size)
        return self.population[min(entrants, key=lambda i: (-self.population[i][2], i))]

    def _offspring(self, rng: np.random.Generator) -> list[Candidate]:
        ranked = sorted(self.population, key=lambda p: (-p[2], p[0]))
        children = [Candidate(g, "elite", (pid,)) for pid, g, _ in ranked[:min(self.config.elites, self.popsize)]]
        while len(children) < self.popsize:
            children.append(breed(self.space, self.config, rng, lambda: self._tournament(rng)))
        return children


def breed(space: SearchSpace, config: SearcherConfig, rng: np.random.Generator,
          pick: Callable[[], tuple]) -> Candidate:
    """One child of parents chosen by `pick` (-> (id, genome, ...)): uniform crossover of two with
    probability crossover_rate (then, sometimes, a mutation), else a mutation of one."""
    first = pick()
    if rng.random() < config.crossover_rate:
        second = pick()
        genome = space.crossover(first[1], second[1], rng)
        if rng.random() < config.mutation_rate * len(space):
            genome = space.mutate(genome, rng, config.mutation_rate, config.mutation_scale)
        return Candidate(genome, "crossover", (first[0], second[0]))
    genome = space.mutate(first[1], rng, config.mutation_rate, config.mutation_scale)
    return Candidate(genome, "mutation", (first[0],))


class EvoTorchSearcher:
    """EvoTorch's CMA-ES or SNES; the problem's batch evaluation hands the genomes to our evaluator."""

    def __init__(self, space: SearchSpace, config: SearcherConfig, popsize: int, seed: int,
                 seeds: list[Genome]):
        from evotorch import Problem
        from evotorch.algorithms import CMAES, SNES

        logging.getLogger("evotorch").setLevel(logging.WARNING)
        self.space, self.callback = space, None
        searcher = self

        class GenomeProblem(Problem):
            def _evaluate_batch(self, batch) -> None:
                values = reflect(batch.values.detach().cpu().numpy().astype(np.float64))
                candidates = [Candidate(space.decode(v), "sampled", ()) for v in values]
                batch.set_evals(torch.tensor(searcher.callback(candidates), dtype=batch.values.dtype))

        self.problem = GenomeProblem("max", solution_length=len(space), initial_bounds=(0.0, 1.0),
                                     seed=derive_seed(seed, "evotorch") % 2**31, dtype=torch.float64)
        center = np.mean([space.encode(g) for g in seeds], axis=0) if seeds else np.full(len(space), 0.5)
        kind = CMAES if config.name == "cmaes" else SNES
        with _quiet_evotorch():
            self.algorithm = kind(self.problem, stdev_init=config.stdev_init, popsize=popsize,
                                  center_init=torch.tensor(center))

    def step(self, generation: int, evaluate: EvaluateFn) -> None:
        self.callback = evaluate
        with _quiet_evotorch():
            self.algorithm.step()


@contextmanager
def _quiet_evotorch() -> Iterator[None]:
    """EvoTorch copy-constructs a tensor each generation and warns; silence exactly that, here only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="To copy construct from a tensor", category=UserWarning)
        yield


def make_searcher(space: SearchSpace, config: SearcherConfig, popsize: int, seed: int, seeds: list[Genome],
                  id_of: IdOf, suites: list | None = None) -> Any:
    """The generational searcher the config names (`suites`: for nsga2's cost)."""
    if config.name == "ga":
        return GeneticAlgorithm(space, config, popsize, seed, seeds, id_of)
    if config.name == "nsga2":
        from evo_fastslow.evolution.multiobjective import NSGA2, parameter_cost

        return NSGA2(space, config, popsize, seed, seeds, id_of, parameter_cost(suites or []))
    return EvoTorchSearcher(space, config, popsize, seed, seeds)
