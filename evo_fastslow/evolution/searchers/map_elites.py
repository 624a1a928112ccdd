"""MAP-Elites (Mouret & Clune 2015): a map of the best genome per cell of chosen descriptors, not one winner.

The map is pyribs' `GridArchive` (cells, the insertion rule, coverage and QD-score); pyribs is the
quality-diversity library kept for exactly this, with archives that other QD algorithms share.
Variation is ours: the gene-aware mutation of the GA (a categorical gene jumps to another choice), since
pyribs' emitters perturb real vectors.

Asynchronous and deterministic like aging evolution (evolution/searchers/aging.py): proposal i is a mutation of an
elite drawn from the map of results 0 .. i - lag, added in index order, never in arrival order; the
first `population` proposals are the initial genomes (seeded, then random). It runs on the steady-state
driver (evolution/drivers/steady.py): no generations, a new genome whenever a worker frees.

Descriptors come from the config: a gene (a categorical gene has one bin per choice; a numeric gene
`bins` bins over its range) or a measured outcome (a scalar metric of the lifetime, summed over the
suites, over [low, high], optionally on a log scale), e.g. core x meta_inputs, or hidden_size x
parameter_count.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np
from pydantic import Field

from evo_fastslow.evolution.searchers.base import Candidate, Result, SearchContext, initial_member
from evo_fastslow.evolution.searchers.descriptors import DEFAULT_DESCRIPTORS, Descriptor, DescriptorSpace
from evo_fastslow.evolution.searchers.ga import MutationSettings
from evo_fastslow.genome import Genome, SearchSpace
from evo_fastslow.seeds import derive_seed


class MapElitesSettings(MutationSettings):
    lag: int = Field(4, ge=1, le=100_000, description="proposal i sees the results of evaluations 0 .. i - lag; about twice "
                                          "the number of workers keeps them busy")
    descriptors: list[Descriptor] = Field(default_factory=list, description="the map's axes (default: core x "
                                          "meta_inputs)")
    qd_offset: float = Field(-1.0, description="QD-score = sum over elites of (fitness - qd_offset)")

    def check(self, run: Any) -> None:
        if len(run.evaluation.rungs) > 1:
            raise ValueError("evaluation.rungs: [1.0] with searcher map-elites (promotion ranks a genome against "
                             "the whole rung, which would keep the map's weaker cells empty; replicates and racing "
                             "apply)")
        DescriptorSpace(run.space(), tuple(self.descriptors) or DEFAULT_DESCRIPTORS)  # names a bad gene


class MapElites:
    """MAP-Elites, asynchronous: a mutant of an elite of the map of descriptors; a map, not one winner."""
    style: ClassVar[str] = "steady"
    Config: ClassVar[type] = MapElitesSettings

    def __init__(self, config: MapElitesSettings, context: SearchContext):
        self.config, self.context, self.lag = config, context, config.lag
        self.grid = DescriptorSpace(context.space, tuple(config.descriptors) or DEFAULT_DESCRIPTORS)
        self.map = self.grid.new_map(config.qd_offset)        # results 0 .. i - lag, what proposal i sees
        self.genomes: dict[int, Genome] = {}                  # the elites' genomes (and the rest, by index)
        self.summary, self.summarised = self.grid.new_map(config.qd_offset), 0  # up to an epoch's end

    def tell(self, index: int, result: Result) -> None:
        self.genomes[index] = result.genome
        add_result(self.map, self.grid, self.context.space, index, dict(result.genome.genes), result)

    def ask(self, index: int) -> Candidate:
        rng = np.random.default_rng(derive_seed(self.context.seed, "map-elites", index))
        popsize, space = self.context.popsize, self.context.space
        if index < popsize:
            return initial_member(self.context, index, rng, self.config.initial_design)
        elites = elites_of(self.map)
        if not elites:  # every result so far failed: start again from a random genome
            return Candidate(space.decode(rng.random(len(space))), "random")
        parent = elites[int(rng.integers(len(elites)))]["genome_id"]
        child = space.mutate(self.genomes[parent], rng, self.config.mutation_rate, self.config.mutation_scale)
        return Candidate(child, "mutation", (parent,))

    def summary_meta(self, epoch: int, upto: int, result: Callable[[int], Result]) -> dict[str, Any]:
        """The archive's meta at an epoch's end: the map of results 0 .. upto - 1 (coverage, QD-score,
        elites), a second map ahead of the lagged one proposals see, filled in index order."""
        while self.summarised < upto:
            r = result(self.summarised)
            add_result(self.summary, self.grid, self.context.space, self.summarised, dict(r.genome.genes), r)
            self.summarised += 1
        return {f"map/{epoch}": {**map_summary(self.summary), "dims": self.grid.dims,
                                 "axes": [d.name for d in self.grid.descriptors], "labels": self.grid.labels}}


def add_result(grid_map: Any, grid: DescriptorSpace, space: SearchSpace, genome_id: int,
               genes: dict[str, Any], result: Result) -> None:
    """A successful result enters its cell if the cell is empty or it beats the elite (a tie keeps the
    older genome); a failed one never does."""
    if not result.ok:
        return
    grid_map.add_single(space.encode(Genome(genes)), result.fitness, grid.measures(genes, result),
                        genome_id=genome_id)


def elites_of(grid_map: Any) -> list[dict[str, Any]]:
    """The map's elites in cell order: index, grid position, fitness, genome id."""
    data = grid_map.data(["index", "objective", "genome_id"])
    order = np.argsort(data["index"], kind="stable")
    return [{"cell": int(data["index"][i]),
             "position": [int(p) for p in grid_map.int_to_grid_index([data["index"][i]])[0]],
             "fitness": float(data["objective"][i]), "genome_id": int(data["genome_id"][i])} for i in order]


def map_summary(grid_map: Any) -> dict[str, Any]:
    """Coverage, QD-score and the elites, as the archive keeps them per epoch."""
    stats = grid_map.stats
    return {"coverage": float(stats.coverage), "qd_score": float(stats.qd_score), "cells": int(grid_map.cells),
            "elites": elites_of(grid_map)}
