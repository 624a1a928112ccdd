"""Regularised ("aging") evolution (Real et al. 2019), asynchronous and still deterministic.

A new genome is proposed as soon as a worker frees; the population is the last P evaluated genomes;
a parent is the best of a random sample of S of them; its child is a mutation (the GA's gene-aware
operator); the oldest dies (it leaves the window). What makes it deterministic whatever the number of
workers and the order results arrive in is the lag L (`searcher.lag`, fixed in the config, not
derived from the worker count): proposal i depends only on the results of evaluations 0 .. i - L, by
index, never on which happened to finish first. The driver waits only when result i - L has not
arrived. So the same config gives the same archive on one worker or a thousand, and a resume replays
by index. The first P proposals are the initial population (seeded genomes, then random ones).

Index i is the genome id; for tables and checkpoints an "epoch" of P consecutive indices plays the
role of a generation, and its evaluations share one task draw (common random numbers within it).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from evo_fastslow.evolution.searchers import Candidate, SearcherConfig
from evo_fastslow.genome import Genome, SearchSpace
from evo_fastslow.seeds import derive_seed

FitnessOf = Callable[[int], float]


class AgingEvolution:
    def __init__(self, space: SearchSpace, config: SearcherConfig, popsize: int, seed: int, seeds: list[Genome]):
        self.space, self.config, self.popsize, self.seed = space, config, popsize, seed
        self.seeds = seeds[:popsize]
        self.lag = config.lag

    def ready(self, index: int, contiguous: int) -> bool:
        """Whether proposal `index` can be made when results 0 .. contiguous - 1 have all arrived."""
        return index < self.popsize or index - self.lag < contiguous

    def propose(self, index: int, genomes: Callable[[int], Genome], fitness: FitnessOf, evaluation: object = None
                ) -> Candidate:
        """Proposal `index`, from the genomes and fitnesses of evaluations 0 .. index - lag only."""
        rng = np.random.default_rng(derive_seed(self.seed, "aging", index))
        if index < self.popsize:
            if index < len(self.seeds):
                return Candidate(self.seeds[index], "seeded", ())
            return Candidate(self.space.decode(rng.random(len(self.space))), "random", ())
        newest = index - self.lag  # the population: the last P evaluated by index, up to `newest`
        window = np.arange(max(0, newest - self.popsize + 1), newest + 1)
        sample = rng.choice(window, size=self.config.tournament_size, replace=True)
        parent = int(min(sample, key=lambda i: (-fitness(int(i)), -int(i))))  # ties: the younger
        child = self.space.mutate(genomes(parent), rng, self.config.mutation_rate, self.config.mutation_scale)
        return Candidate(child, "mutation", (parent,))
