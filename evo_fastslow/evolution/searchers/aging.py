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

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from evo_fastslow.evolution.searchers.base import Candidate, Result, SearchContext, initial_member
from evo_fastslow.evolution.searchers.ga import MutationSettings
from evo_fastslow.genome import Genome
from evo_fastslow.seeds import derive_seed


class AgingSettings(MutationSettings):
    tournament_size: int = Field(3, ge=1, le=10_000, description="genomes per parent tournament (S)")
    lag: int = Field(4, ge=1, le=100_000, description="proposal i sees the results of evaluations 0 .. i - lag; about twice "
                                          "the number of workers keeps them busy")

    def check(self, run: Any) -> None:
        if self.lag > run.population:
            raise ValueError("searcher.lag must be at most population (a proposal's population is the last "
                             "`population` results up to index i - lag)")


class AgingEvolution:
    """Regularised (aging) evolution, asynchronous: a mutant of the best of a sample of the last P results."""
    style: ClassVar[str] = "steady"
    Config: ClassVar[type] = AgingSettings

    def __init__(self, config: AgingSettings, context: SearchContext):
        self.config, self.context, self.lag = config, context, config.lag
        self.told: dict[int, tuple[Genome, float]] = {}  # index -> (genome, value), results 0 .. i - lag

    def tell(self, index: int, result: Result) -> None:
        self.told[index] = (result.genome, result.value)
        self.told.pop(index - self.context.popsize, None)  # out of every later window: it has aged

    def ask(self, index: int) -> Candidate:
        """Proposal `index`, from the genomes and values of evaluations 0 .. index - lag only."""
        rng = np.random.default_rng(derive_seed(self.context.seed, "aging", index))
        popsize = self.context.popsize
        if index < popsize:
            return initial_member(self.context, index, rng, self.config.initial_design)
        newest = index - self.lag  # the population: the last P evaluated by index, up to `newest`
        window = np.arange(max(0, newest - popsize + 1), newest + 1)
        sample = rng.choice(window, size=self.config.tournament_size, replace=True)
        parent = int(min(sample, key=lambda i: (-self.told[int(i)][1], -int(i))))  # ties: the younger
        child = self.context.space.mutate(self.told[parent][0], rng, self.config.mutation_rate,
                                          self.config.mutation_scale)
        return Candidate(child, "mutation", (parent,))
