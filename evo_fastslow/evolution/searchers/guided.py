"""`guided`: model-guided evolution. Evolution breeds, a model of everything measured chooses.

Each proposal, the searcher breeds `candidates` children with the GA's operators (uniform crossover of
whole genes, mutation by gene kind) from parents chosen by their evidence, scores every child with a
surrogate fitted on every result it has been told, and proposes the child with the best acquisition; a
share `explore` of proposals takes a bred child without asking the model. (BANANAS' edge, Schneider et al.
2021: many small mutants of good genomes, a model picks which to evaluate.)

- **Surrogates**: `forest`, scikit-learn's random forest on the [0,1]^d encoding plus the budget rung a
  result reached (lower rungs are cheaper, noisier evidence; predictions are made at the full budget),
  each result weighted by its replicates, failures at the worst value seen; acquisition: expected
  improvement over the best shrunk mean, or an upper confidence bound, from the trees' mean and spread.
  `parzen`: TPE's density ratio l(x)/g(x), per gene on the same encoding, between the top `gamma` of the
  results (by rank) and the rest.
- **Parents by evidence**: tournaments among the last `population` results on their shrunk means
  (`Result.shrunk`: a mean over few replicates is pulled toward the population's), never on one maximum.
- **Deterministic**: every random draw and every fit is seeded from the run seed and the proposal's
  index; ties go to the earlier candidate. Steady-state (the lag rule) or generational (`mode`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from evo_fastslow.evolution.searchers.base import (Candidate, Result, SearchContext, initial_member,
                                                   initial_population)
from evo_fastslow.evolution.searchers.ga import BreedingSettings, breed
from evo_fastslow.genes import Bool, Categorical
from evo_fastslow.seeds import derive_seed


class GuidedSettings(BreedingSettings):
    mode: Literal["steady", "generational"] = Field(
        "steady", description="steady: propose genome i from the results 0 .. i - lag; generational: a whole "
                              "generation from the last one's results")
    lag: int = Field(4, ge=1, le=100_000, description="steady mode: proposal i sees the results of 0 .. i - lag")
    surrogate: Literal["forest", "parzen"] = Field("forest", description="forest: a random forest on the encoding "
                                                   "and the budget rung; parzen: TPE's per-gene density ratio")
    acquisition: Literal["ei", "ucb"] = Field("ei", description="forest: expected improvement over the best "
                                              "shrunk mean, or mean + kappa x the trees' spread")
    kappa: float = Field(1.0, ge=0, description="ucb: the weight of the trees' spread")
    candidates: int = Field(64, ge=1, le=4096, description="children bred per proposal for the model to choose from")
    explore: float = Field(0.1, ge=0, le=1, description="share of proposals that take a bred child without the model")
    tournament_size: int = Field(3, ge=1, le=10_000, description="genomes per parent tournament (on shrunk means)")
    gamma: float = Field(0.25, gt=0, lt=1, description="parzen: the share of results that counts as good")
    trees: int = Field(64, ge=1, le=1024, description="forest: trees")
    elites: int = Field(2, ge=0, le=100_000, description="generational mode: best genomes (by shrunk mean) proposed again, "
                                             "so that they gain replicates")

    def check(self, run: Any) -> None:
        if self.mode == "steady" and self.lag > run.population:
            raise ValueError("searcher.lag must be at most population")
        if self.mode == "generational" and self.elites >= run.population:
            raise ValueError("searcher.elites must be smaller than population")


class GuidedEvolution:
    """Model-guided evolution: bred children, a surrogate of all results chooses (module docstring)."""
    style = "steady"  # the instance's mode decides (a class default for the registry's check)
    Config: ClassVar[type] = GuidedSettings

    def __init__(self, config: GuidedSettings, context: SearchContext):
        self.config, self.context = config, context
        self.style, self.lag = config.mode, config.lag
        self.told: list[Result] = []
        self.vectors: list[np.ndarray] = []  # the told genomes' encodings

    # --- the two styles
    def ask(self, key: int) -> Any:
        if self.style == "generational":
            return self._generation(key)
        rng = np.random.default_rng(derive_seed(self.context.seed, "guided", key))
        if key < self.context.popsize:
            return initial_member(self.context, key, rng, self.config.initial_design)
        return self._choose(rng, 1, key)[0]

    def tell(self, key: int, results: Any) -> None:
        for result in (results if self.style == "generational" else [results]):
            self.told.append(result)
            self.vectors.append(self.context.space.encode(result.genome))

    def _generation(self, generation: int) -> list[Candidate]:
        rng = np.random.default_rng(derive_seed(self.context.seed, "guided", "generation", generation))
        if generation == 0:
            return initial_population(self.context, rng, design=self.config.initial_design)
        window = self.told[-self.context.popsize:]
        prior = _prior(window)
        ranked = sorted(window, key=lambda r: (-r.shrunk(prior), r.index))
        elites = [Candidate(r.genome, "elite", (r.index,)) for r in ranked[:self.config.elites]]
        return elites + self._choose(rng, self.context.popsize - len(elites), generation)

    # --- breeding and choosing
    def _choose(self, rng: np.random.Generator, count: int, key: int) -> list[Candidate]:
        """`count` children: bred `candidates` per slot, the best by acquisition (a share by chance)."""
        window = self.told[-self.context.popsize:]
        prior = _prior(window)
        pick = lambda: self._tournament(rng, window, prior)  # noqa: E731
        bred = [breed(self.context.space, self.config, rng, pick) for _ in range(self.config.candidates * count)]
        scores = self._acquisition(bred, key)
        chosen: list[Candidate] = []
        taken: set[int] = set()
        for _ in range(count):
            if rng.random() < self.config.explore:
                order = [int(i) for i in rng.permutation(len(bred))]
            else:
                order = sorted(range(len(bred)), key=lambda i: (-scores[i], i))
            index = next(i for i in order if i not in taken)
            taken.add(index)
            chosen.append(bred[index])
        return chosen

    def _tournament(self, rng: np.random.Generator, window: list[Result], prior: float) -> tuple[int, Any]:
        entrants = rng.integers(len(window), size=self.config.tournament_size)
        best = window[min(entrants, key=lambda i: (-window[i].shrunk(prior), -window[i].index))]
        return best.index, best.genome

    def _acquisition(self, bred: list[Candidate], key: int) -> np.ndarray:
        x = np.array([self.context.space.encode(c.genome) for c in bred])
        known = np.array(self.vectors)
        if self.config.surrogate == "parzen":
            return _parzen(self.context, self.told, known, x, self.config.gamma)
        return _forest(self.told, known, x, self.config, derive_seed(self.context.seed, "guided", "forest", key))


def _prior(results: list[Result]) -> float:
    """What a mean over few replicates is shrunk toward: the mean of the successes at the full budget."""
    top = [r.fitness for r in results if r.ok and r.rung == r.top_rung]
    ok = [r.fitness for r in results if r.ok]
    return float(np.mean(top or ok or [0.0]))


def _targets(told: list[Result]) -> tuple[np.ndarray, np.ndarray]:
    """(fitness, weight) per result: failures at the worst success seen, weighted by replicates."""
    ok = [r.fitness for r in told if r.ok]
    worst = min(ok) if ok else 0.0
    y = np.array([r.fitness if r.ok else worst for r in told], dtype=np.float64)
    return y, np.array([max(1, r.replicates) for r in told], dtype=np.float64)


def _forest(told: list[Result], known: np.ndarray, x: np.ndarray, config: GuidedSettings, seed: int) -> np.ndarray:
    from sklearn.ensemble import RandomForestRegressor

    space_x = np.column_stack([known, [r.rung / max(1, r.top_rung) for r in told]])
    y, weight = _targets(told)
    model = RandomForestRegressor(n_estimators=config.trees, min_samples_leaf=2, max_features=0.6,
                                  random_state=seed % 2**32, n_jobs=1)
    model.fit(space_x, y, sample_weight=weight)
    at_top = np.column_stack([x, np.ones(len(x))])
    per_tree = np.stack([tree.predict(at_top) for tree in model.estimators_])
    mean, spread = per_tree.mean(axis=0), per_tree.std(axis=0)
    if config.acquisition == "ucb":
        return mean + config.kappa * spread
    prior = _prior(told)
    best = max((r.shrunk(prior) for r in told if r.ok and r.rung == r.top_rung), default=float(y.max()))
    z = (mean - best) / np.maximum(spread, 1e-9)
    return (mean - best) * _normal_cdf(z) + spread * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(z)


def _parzen(context: SearchContext, told: list[Result], known: np.ndarray, x: np.ndarray, gamma: float
            ) -> np.ndarray:
    """Sum over genes of log l(x)/g(x): the good results' density against the rest's, per gene."""
    order = sorted(range(len(told)), key=lambda i: (-told[i].value, told[i].index))
    n_good = max(1, math.ceil(gamma * len(told)))
    good, bad = known[order[:n_good]], known[order[n_good:]]
    score = np.zeros(len(x))
    for j, name in enumerate(context.space.free):
        gene = context.space.genes[name]
        bins = len(gene.choices) if isinstance(gene, Categorical) else 2 if isinstance(gene, Bool) else 0
        score += np.log(_density(x[:, j], good[:, j], bins)) - np.log(_density(x[:, j], bad[:, j], bins))
    return score


def _density(points: np.ndarray, data: np.ndarray, bins: int) -> np.ndarray:
    """A smoothed histogram of a categorical coordinate (one bin per choice, one pseudo-count each), or a
    Gaussian kernel density on [0,1] (bandwidth 0.1, plus a uniform prior weight of one point)."""
    if bins:
        index = lambda v: np.minimum((np.asarray(v) * bins).astype(int), bins - 1)  # noqa: E731
        counts = np.bincount(index(data), minlength=bins) + 1.0
        return counts[index(points)] / counts.sum()
    if len(data) == 0:
        return np.ones(len(points))
    kernel = np.exp(-0.5 * ((points[:, None] - data[None, :]) / 0.1) ** 2) / (0.1 * math.sqrt(2 * math.pi))
    return (kernel.sum(axis=1) + 1.0) / (len(data) + 1.0)
