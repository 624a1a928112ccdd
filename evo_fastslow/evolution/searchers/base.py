"""The searcher interface: what a searcher is given, what it is told, and the two styles it may take.

A searcher proposes genomes and is told what they scored; it never sees a lifetime. Two styles:

- **generational** (`style = "generational"`): `ask(generation) -> list[Candidate]` proposes a whole
  generation (`context.popsize` genomes); `tell(generation, results)` gives their results in proposal order
  once the generation is decided.
- **steady-state** (`style = "steady"`): `ask(index) -> Candidate` proposes genome `index`; `tell(index,
  result)` is called for every index in order, and before `ask(i)` exactly the results 0 .. i - lag have
  been told (`lag` from the searcher's config). The first `popsize` proposals (the initial population) are
  asked at once, before any result is told.

The driver calls these in index order only, never in the order results arrive, so a searcher that is
deterministic given its seed and what it is told gives the same archive on any number of workers; and
`resume` rebuilds it by asking again and telling the archived results. A searcher must therefore draw its
randomness only from `context.seed` (e.g. `numpy.random.default_rng(derive_seed(context.seed, ...))`).

A searcher class declares its settings as a pydantic model (`Config`, a `SearcherSettings`: every field
with a description) and is built as `Searcher(config, context)`. A run config names it by a shipped name,
an import path (`mypkg.search:MySearcher`) or an entry point of the group `evo_fastslow.searchers`
(evolution/searchers/registry.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Mapping, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import qmc

from evo_fastslow.genome import Genome, SearchSpace
from evo_fastslow.seeds import derive_seed


class SearcherSettings(BaseModel):
    """A searcher's settings in the run config's `searcher:` section; subclasses add their own fields."""
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(description="a shipped searcher, an import path module:Class, or an entry point of "
                                  "evo_fastslow.searchers")

    def check(self, run: Any) -> None:
        """Checks against the rest of the run config (population, evaluation, inheritance); ValueError
        naming the field. `run` is the RunConfig being validated."""

    def resolved(self, run: Any) -> "SearcherSettings":
        """The settings with any default that depends on the run fixed as the run starts (kept in its
        resolved config, so that a resume replays alike)."""
        return self


@dataclass(frozen=True)
class Candidate:
    """A proposed genome and where it came from (archived with it)."""
    genome: Genome
    origin: str                   # random | seeded | mutation | crossover | elite | sampled | ...
    parents: tuple[int, ...] = ()  # genome ids


@dataclass(frozen=True)
class Result:
    """What a searcher is told of one proposal: the evidence, never the lifetime.

    `value` is what to rank by: genomes that reached a higher budget rung (or survived a race) rank above
    all below them, then by mean fitness; failures are lowest (-1e9). `fitness` is the mean over the
    `replicates` full-budget (or rung-`rung`) lifetimes it rests on, with a 95% `interval` (NaN for one)."""
    index: int                    # the genome id
    genome: Genome
    value: float
    fitness: float
    ok: bool
    replicates: int = 1
    rung: int = 0
    top_rung: int = 0             # the run's full-budget rung
    interval: tuple[float, float] = (math.nan, math.nan)
    decision: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)  # per suite: the lifetime's scalar outcomes

    def shrunk(self, prior: float, strength: float = 1.0) -> float:
        """`value` with the mean pulled toward `prior` as if `strength` more replicates had scored it: a mean
        over few replicates is not trusted like one over many (rung order kept; failures unchanged)."""
        if not self.ok:
            return self.value
        return self.value - self.fitness + (self.replicates * self.fitness + strength * prior) / (
            self.replicates + strength)


@dataclass(frozen=True)
class SearchContext:
    """What a searcher is given besides its settings."""
    space: SearchSpace            # genes, their [0,1]^d encoding (`space.decode(vector)`), mutation, crossover
    popsize: int                  # the run's `population`
    generations: int              # the run's `generations` (an ask/tell budget for libraries that want one)
    seed: int                     # the run seed: derive every random stream from it
    seeds: list[Genome]           # the run's seed genomes (`seed_population`), to start from
    suites: list[Any] = field(default_factory=list)  # the fitness suites (for costs computed from genes)


@runtime_checkable
class GenerationalSearcher(Protocol):
    style: ClassVar[Literal["generational"]]

    def ask(self, generation: int) -> list[Candidate]: ...

    def tell(self, generation: int, results: list[Result]) -> None: ...


@runtime_checkable
class SteadyStateSearcher(Protocol):
    style: ClassVar[Literal["steady"]]
    lag: int

    def ask(self, index: int) -> Candidate: ...

    def tell(self, index: int, result: Result) -> None: ...


def parentless(run: Any, name: str) -> None:
    """Inheritance passes weights from a parent: searchers that sample genomes have none."""
    if run.inheritance.mode != "darwinian":
        raise ValueError(f"inheritance: darwinian with searcher {name} (its samples have no parent to inherit "
                         f"weights from); {run.inheritance.mode} needs ga, aging, map-elites or nsga2")


class InitialDesignSettings(SearcherSettings):
    """For searchers that start from random genomes: how those are drawn."""
    initial_design: Literal["random", "latin-hypercube"] = Field(
        "random", description="the first population's random genomes: independent draws from the [0,1]^d cube, "
                              "or a Latin hypercube (every gene's range cut in as many strata as genomes, one "
                              "genome in each: a categorical gene's choices appear as evenly as the count allows)")


def initial_population(context: SearchContext, rng: Any, count: int | None = None,
                       design: str = "random") -> list[Candidate]:
    """The seed genomes, then random ones (`design`: independent or a Latin hypercube), up to `count`
    (default: popsize)."""
    count = context.popsize if count is None else count
    seeded = [Candidate(g, "seeded") for g in context.seeds[:count]]
    missing, width = count - len(seeded), len(context.space)
    if design == "latin-hypercube" and missing > 0 and width > 0:
        vectors = list(qmc.LatinHypercube(d=width, seed=rng).random(missing))
    else:  # one draw per genome, in order (as every run before the design existed)
        vectors = [rng.random(width) for _ in range(missing)]
    return seeded + [Candidate(context.space.decode(v), "random") for v in vectors]


def initial_member(context: SearchContext, index: int, rng: Any, design: str = "random") -> Candidate:
    """Proposal `index` < popsize of a steady-state searcher: a seed genome, else a random one. `rng` is the
    proposal's own stream (independent draws); a Latin hypercube is drawn whole from the run seed and
    `index` takes its row."""
    if index < min(len(context.seeds), context.popsize):
        return Candidate(context.seeds[index], "seeded")
    if design == "random":
        return Candidate(context.space.decode(rng.random(len(context.space))), "random")
    whole = np.random.default_rng(derive_seed(context.seed, "initial design"))
    return initial_population(context, whole, design=design)[index]
