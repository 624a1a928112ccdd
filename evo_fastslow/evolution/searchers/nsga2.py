"""NSGA-II (Deb et al. 2002): fitness against cost, a Pareto front instead of one winner.

Objectives: fitness (maximised) and a deterministic cost (minimised): the agent's parameter count on
the run's suites, computed from the genes alone, never wall time (which depends on the machine). The
non-dominated sorting and crowding distance are pymoo's; variation is the GA's gene-aware crossover and
mutation; parents are picked by binary tournament on (front, crowding). Its randomness is derived per
generation from the run seed, so like the GA it is deterministic given the fitnesses it is told, and
`resume` replays it from the archive.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Callable, ClassVar, Literal

import numpy as np
from pydantic import Field

from evo_fastslow.evolution.searchers.base import Candidate, Result, SearchContext, initial_population
from evo_fastslow.evolution.searchers.ga import BreedingSettings, breed
from evo_fastslow.genome import Genome
from evo_fastslow.seeds import derive_seed

Member = tuple[int, Genome, float, float]  # (genome id, genome, fitness, cost)


def front_ranks(fitness: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each point's front (0 = non-dominated) and its crowding distance within the front (pymoo)."""
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    objectives = np.column_stack([-fitness, cost])  # both minimised
    rank, crowding = np.empty(len(fitness), int), np.empty(len(fitness))
    for r, front in enumerate(NonDominatedSorting().do(objectives)):
        rank[front] = r
        crowding[front] = calc_crowding_distance(objectives[front])
    return rank, crowding


def pareto_front(points: list[tuple[int, float, float]]) -> list[tuple[int, float, float]]:
    """The non-dominated (id, fitness, cost) points, cheapest first."""
    if not points:
        return []
    rank, _ = front_ranks(np.array([p[1] for p in points]), np.array([p[2] for p in points], dtype=float))
    return sorted((p for p, r in zip(points, rank) if r == 0), key=lambda p: (p[2], -p[1], p[0]))


def parameter_cost(suites: list[Any]) -> Callable[[Genome], float]:
    """The parameter count of the agent a genome builds, summed over the suites' tasks (cached)."""
    from evo_fastslow.agents import build_agent, parameter_count

    shapes = [(task.obs_dim, task.n_actions, task.view_shape) for task in (s.build_task() for s in suites)]

    @lru_cache(maxsize=65536)
    def cost(genes_json: str) -> float:
        genome = Genome(json.loads(genes_json))
        return float(sum(parameter_count(build_agent(genome, obs, actions, 0, view)) for obs, actions, view in shapes))

    return lambda genome: cost(json.dumps(dict(genome.genes), sort_keys=True))


class NSGA2Settings(BreedingSettings):
    cost: Literal["parameters"] = Field("parameters", description="the second objective, minimised: the agent's "
                                        "parameter count (deterministic, unlike wall time)")


class NSGA2:
    """NSGA-II: fitness against parameter count, a Pareto front instead of one winner."""
    style: ClassVar[str] = "generational"
    Config: ClassVar[type] = NSGA2Settings

    def __init__(self, config: NSGA2Settings, context: SearchContext):
        self.config, self.context = config, context
        self.cost_of = parameter_cost(context.suites)
        self.population: list[Member] = []
        self.rank, self.crowding = np.zeros(0, int), np.zeros(0)

    def ask(self, generation: int) -> list[Candidate]:
        rng = np.random.default_rng(derive_seed(self.context.seed, "nsga2", generation))
        if generation == 0:
            return initial_population(self.context, rng, design=self.config.initial_design)
        return self._offspring(rng)

    def tell(self, generation: int, results: list[Result]) -> None:
        new = [(r.index, r.genome, r.value, self.cost_of(r.genome)) for r in results]
        self._survive(self.population + new)

    def _survive(self, pool: list[Member]) -> None:
        """Keep the best `popsize`: by front, then by crowding distance (ties: the older genome)."""
        rank, crowding = front_ranks(np.array([m[2] for m in pool]), np.array([m[3] for m in pool]))
        order = sorted(range(len(pool)), key=lambda i: (rank[i], -crowding[i], pool[i][0]))[:self.context.popsize]
        self.population = [pool[i] for i in order]
        self.rank, self.crowding = front_ranks(np.array([m[2] for m in self.population]),
                                               np.array([m[3] for m in self.population]))

    def _tournament(self, rng: np.random.Generator) -> Member:
        a, b = (int(i) for i in rng.integers(len(self.population), size=2))
        key = lambda i: (self.rank[i], -self.crowding[i], self.population[i][0])  # noqa: E731
        return self.population[min(a, b, key=key)]

    def _offspring(self, rng: np.random.Generator) -> list[Candidate]:
        return [breed(self.context.space, self.config, rng, lambda: self._tournament(rng))
                for _ in range(self.context.popsize)]
