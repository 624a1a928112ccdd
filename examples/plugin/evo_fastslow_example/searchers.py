"""A cross-entropy method over the genome cube, written against evo-fastslow's searcher interface
(evo_fastslow/evolution/searchers/base.py): a Gaussian per coordinate of [0,1]^d; each generation samples
`population` genomes from it and refits it to the best `elite_share` of what it is told, smoothed.

    searcher: {name: cem, elite_share: 0.25}                                 # installed: entry point
    searcher: {name: "evo_fastslow_example.searchers:CrossEntropy"}         # or by import path
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from evo_fastslow.evolution.searchers.base import Candidate, Result, SearchContext, SearcherSettings
from evo_fastslow.seeds import derive_seed


class CrossEntropySettings(SearcherSettings):
    elite_share: float = Field(0.25, gt=0, le=1, description="share of a generation the distribution refits to")
    smoothing: float = Field(0.7, gt=0, le=1, description="weight of the refit against the old distribution")
    stdev_init: float = Field(0.3, gt=0, description="initial standard deviation of every coordinate")


class CrossEntropy:
    style = "generational"
    Config = CrossEntropySettings

    def __init__(self, config: CrossEntropySettings, context: SearchContext):
        self.config, self.context = config, context
        seeds = [context.space.encode(g) for g in context.seeds]
        self.mean = np.mean(seeds, axis=0) if seeds else np.full(len(context.space), 0.5)
        self.stdev = np.full(len(context.space), config.stdev_init)

    def ask(self, generation: int) -> list[Candidate]:
        rng = np.random.default_rng(derive_seed(self.context.seed, "cem", generation))  # from the run seed only
        vectors = np.clip(rng.normal(self.mean, self.stdev, (self.context.popsize, len(self.mean))), 0.0, 1.0)
        return [Candidate(self.context.space.decode(v), "sampled") for v in vectors]

    def tell(self, generation: int, results: list[Result]) -> None:
        ranked = sorted(results, key=lambda r: (-r.value, r.index))  # ties by index: never by arrival
        best = np.array([self.context.space.encode(r.genome) for r in
                         ranked[:max(1, round(self.config.elite_share * len(ranked)))]])
        w = self.config.smoothing
        self.mean = w * best.mean(axis=0) + (1 - w) * self.mean
        self.stdev = np.maximum(w * best.std(axis=0) + (1 - w) * self.stdev, 0.02)
