"""`ga` (the default): a generational genetic algorithm on genomes.

Tournament selection, elitism (the best genomes return unchanged and are evaluated again on the new
generation's tasks: with replicates on survival an elite gains a replicate), uniform crossover of whole
genes and mutation by gene kind (a categorical gene jumps to another choice). Its randomness is derived
per generation from the run seed, so it has no state but its population.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np
from pydantic import Field

from evo_fastslow.evolution.searchers.base import (Candidate, InitialDesignSettings, Result, SearchContext,
                                                   initial_population)
from evo_fastslow.genome import Genome, SearchSpace
from evo_fastslow.seeds import derive_seed


class MutationSettings(InitialDesignSettings):
    mutation_rate: float = Field(0.15, ge=0, le=1, description="chance each gene mutates (at least one does)")
    mutation_scale: float = Field(0.1, gt=0, le=1, description="Gaussian step of numeric genes on [0,1]")


class BreedingSettings(MutationSettings):
    crossover_rate: float = Field(0.5, ge=0, le=1, description="chance a child has two parents (uniform "
                                  "crossover of whole genes, then sometimes a mutation), else a mutation of one")


class GASettings(BreedingSettings):
    tournament_size: int = Field(3, ge=1, le=10_000, description="genomes per selection tournament")
    elites: int = Field(2, ge=0, le=100_000, description="best genomes carried into the next generation")

    def check(self, run: Any) -> None:
        if self.elites >= run.population:
            raise ValueError("searcher.elites must be smaller than population")


Member = tuple[int, Genome, float]  # (genome id, genome, value)


class GeneticAlgorithm:
    """A generational GA on genomes: tournaments, elites, uniform crossover, mutation by gene kind."""
    style: ClassVar[str] = "generational"
    Config: ClassVar[type] = GASettings

    def __init__(self, config: GASettings, context: SearchContext):
        self.config, self.context = config, context
        self.population: list[Member] = []

    def ask(self, generation: int) -> list[Candidate]:
        rng = np.random.default_rng(derive_seed(self.context.seed, "ga", generation))
        if generation == 0:
            return initial_population(self.context, rng, design=self.config.initial_design)
        return self._offspring(rng)

    def tell(self, generation: int, results: list[Result]) -> None:
        self.population = [(r.index, r.genome, r.value) for r in results]

    def _tournament(self, rng: np.random.Generator) -> Member:
        entrants = rng.integers(len(self.population), size=self.config.tournament_size)
        return self.population[min(entrants, key=lambda i: (-self.population[i][2], i))]

    def _offspring(self, rng: np.random.Generator) -> list[Candidate]:
        ranked = sorted(self.population, key=lambda p: (-p[2], p[0]))
        popsize = self.context.popsize
        children = [Candidate(g, "elite", (pid,)) for pid, g, _ in ranked[:min(self.config.elites, popsize)]]
        while len(children) < popsize:
            children.append(breed(self.context.space, self.config, rng, lambda: self._tournament(rng)))
        return children


def breed(space: SearchSpace, config: BreedingSettings, rng: np.random.Generator,
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
