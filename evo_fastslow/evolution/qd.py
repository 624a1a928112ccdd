"""MAP-Elites (Mouret & Clune 2015): a map of the best genome per cell of chosen descriptors, not one winner.

The map is pyribs' `GridArchive` (cells, the insertion rule, coverage and QD-score); pyribs is the
quality-diversity library kept for exactly this, with archives that other QD algorithms share.
Variation is ours: the gene-aware mutation of the GA (a categorical gene jumps to another choice), since
pyribs' emitters perturb real vectors.

Asynchronous and deterministic like aging evolution (evolution/aging.py): proposal i is a mutation of an
elite drawn from the map of results 0 .. i - lag, added in index order, never in arrival order; the
first `population` proposals are the initial genomes (seeded, then random). It runs on the steady-state
driver (evolution/steady.py): no generations, a new genome whenever a worker frees.

Descriptors come from the config: a gene (a categorical gene has one bin per choice; a numeric gene
`bins` bins over its range) or a measured outcome (a scalar metric of the lifetime, summed over the
suites, over [low, high], optionally on a log scale), e.g. core x meta_inputs, or hidden_size x
parameter_count.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from evo_fastslow.archive import Evaluation
from evo_fastslow.evolution.descriptors import DEFAULT_DESCRIPTORS, DescriptorSpace
from evo_fastslow.evolution.searchers import Candidate, SearcherConfig
from evo_fastslow.genome import Genome, SearchSpace
from evo_fastslow.seeds import derive_seed


class MapElites:
    """Asynchronous MAP-Elites with a fixed lag (see the module docstring)."""

    def __init__(self, space: SearchSpace, config: SearcherConfig, popsize: int, seed: int, seeds: list[Genome]):
        self.space, self.config, self.popsize, self.seed = space, config, popsize, seed
        self.seeds = seeds[:popsize]
        self.lag = config.lag
        self.grid = DescriptorSpace(space, tuple(config.descriptors) or DEFAULT_DESCRIPTORS)
        self.map = self.grid.new_map(config.qd_offset)
        self.added = 0  # results 0 .. added - 1 are in the map
        self.summary, self.summarised = self.grid.new_map(config.qd_offset), 0  # the same, up to an epoch's end

    def ready(self, index: int, contiguous: int) -> bool:
        return index < self.popsize or index - self.lag < contiguous

    def propose(self, index: int, genomes: Callable[[int], Genome], fitness: Callable[[int], float],
                evaluation: Callable[[int], Evaluation] | None = None) -> Candidate:
        rng = np.random.default_rng(derive_seed(self.seed, "map-elites", index))
        if index < self.popsize:
            if index < len(self.seeds):
                return Candidate(self.seeds[index], "seeded", ())
            return Candidate(self.space.decode(rng.random(len(self.space))), "random", ())
        self._fill(index - self.lag + 1, genomes, evaluation)
        elites = elites_of(self.map)
        if not elites:  # every result so far failed: start again from a random genome
            return Candidate(self.space.decode(rng.random(len(self.space))), "random", ())
        parent = elites[int(rng.integers(len(elites)))]["genome_id"]
        child = self.space.mutate(genomes(parent), rng, self.config.mutation_rate, self.config.mutation_scale)
        return Candidate(child, "mutation", (parent,))

    def map_at(self, upto: int, genomes: Callable[[int], Genome], evaluation: Callable[[int], Evaluation]
               ) -> dict[str, Any]:
        """The map of results 0 .. upto - 1 (coverage, QD-score, elites), what the archive keeps per epoch:
        a second map, ahead of the lagged one proposals see, filled in index order (upto never decreases)."""
        while self.summarised < upto:
            add_result(self.summary, self.grid, self.space, self.summarised, genomes(self.summarised).genes,
                       evaluation(self.summarised))
            self.summarised += 1
        return {**map_summary(self.summary), "dims": self.grid.dims, "axes": [d.name for d in self.grid.descriptors],
                "labels": self.grid.labels}

    def _fill(self, upto: int, genomes: Callable[[int], Genome], evaluation: Callable[[int], Evaluation] | None
              ) -> None:
        """Add results added .. upto - 1 to the map, in index order."""
        while self.added < upto:
            add_result(self.map, self.grid, self.space, self.added, genomes(self.added).genes,
                       evaluation(self.added))
            self.added += 1


def add_result(grid_map: Any, grid: DescriptorSpace, space: SearchSpace, genome_id: int,
               genes: dict[str, Any], evaluation: Evaluation) -> None:
    """A successful evaluation enters its cell if the cell is empty or it beats the elite (a tie keeps
    the older genome); a failed one never does."""
    if evaluation.status != "ok":
        return
    grid_map.add_single(space.encode(Genome(genes)), evaluation.fitness, grid.measures(genes, evaluation),
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
