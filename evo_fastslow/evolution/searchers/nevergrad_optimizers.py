"""`de`, `ngopt` and `nevergrad`: nevergrad's optimizers inside the harness (pip install
'evo-fastslow[nevergrad]').

`de` is `TwoPointsDE` (differential evolution: each child from difference vectors of the population, kept
only when it beats its parent), `ngopt` is `NGOpt` (nevergrad's own choice of algorithm for the dimension,
budget and parallelism), `nevergrad` names any optimizer of `nevergrad.optimizers.registry`. They search the
[0,1]^d encoding (`ng.p.Array` bounded to the cube; every gene decoded from its coordinate), are asked and
told in index order (evolution/searchers/library.py) with the parametrization's random state seeded from
the run seed, and are told the selection value negated (nevergrad minimises).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from evo_fastslow.evolution.searchers.base import Result, SearchContext
from evo_fastslow.evolution.searchers.library import LibrarySearcher, LibrarySettings
from evo_fastslow.genome import Genome
from evo_fastslow.seeds import derive_seed


class NevergradSettings(LibrarySettings):
    budget: int | None = Field(None, ge=1, le=10**8, description="the asks the optimizer plans for (some, like NGOpt, "
                               "choose their algorithm by it); null: population x generations when the run starts, "
                               "kept in the run's resolved config so that a run extended on resume replays alike")

    def resolved(self, run: Any) -> "NevergradSettings":
        return self if self.budget is not None else self.model_copy(
            update={"budget": run.population * run.generations})


class AnyOptimizerSettings(NevergradSettings):
    optimizer: str = Field("NGOpt", description="a name in nevergrad.optimizers.registry (TwoPointsDE, NGOpt, "
                                                "CMA, PSO, OnePlusOne, ...)")

    @field_validator("optimizer")
    @classmethod
    def _registered(cls, name: str) -> str:
        import nevergrad as ng

        if name not in ng.optimizers.registry:
            raise ValueError(f"a name in nevergrad.optimizers.registry, not {name!r}")
        return name


class NevergradOptimizer(LibrarySearcher):
    """Any optimizer of nevergrad.optimizers.registry (`optimizer`) over the [0,1]^d encoding."""
    Config: ClassVar[type] = AnyOptimizerSettings
    optimizer_name: ClassVar[str | None] = None  # fixed by a subclass, else the config's `optimizer`

    def __init__(self, config: NevergradSettings, context: SearchContext):
        import nevergrad as ng

        _model_failures_handled()
        super().__init__(config, context)
        d = len(context.space)
        parametrization = ng.p.Array(shape=(d,), lower=0.0, upper=1.0)
        parametrization.random_state = np.random.RandomState(derive_seed(context.seed, "nevergrad") % 2**32)
        name = self.optimizer_name or getattr(config, "optimizer")
        workers = context.popsize if config.mode == "generational" else config.lag
        budget = config.budget or context.popsize * context.generations
        self.optimizer = ng.optimizers.registry[name](parametrization=parametrization, budget=budget,
                                                      num_workers=workers)

    def _ask_point(self, index: int) -> tuple[Any, Genome]:
        if index < min(len(self.context.seeds), self.context.popsize):  # a seed genome: suggested, then asked
            self.optimizer.suggest(self.context.space.encode(self.context.seeds[index]))
        candidate = self.optimizer.ask()
        return candidate, self.context.space.decode(np.clip(candidate.value, 0.0, 1.0))

    def _tell_point(self, candidate: Any, result: Result) -> None:
        self.optimizer.tell(candidate, -result.value)


class DE(NevergradOptimizer):
    """nevergrad's TwoPointsDE: each child from difference vectors of the population, kept if it beats its
    parent."""
    Config: ClassVar[type] = NevergradSettings
    optimizer_name = "TwoPointsDE"


class NGOpt(NevergradOptimizer):
    """nevergrad's NGOpt: its own choice of algorithm for the dimension, budget and parallelism."""
    Config: ClassVar[type] = NevergradSettings
    optimizer_name = "NGOpt"


def _model_failures_handled() -> None:
    """nevergrad 1.0.12's metamodel (inside NGOpt's choices) converts a one-element array to float, which
    numpy 2.4 refuses with a TypeError; nevergrad already falls back to its optimizer without the model on a
    MetaModelFailure, so that TypeError is turned into one (the same fallback, deterministic). Once only."""
    from nevergrad.optimization import metamodel, optimizerlib

    learn = optimizerlib.learn_on_k_best
    if getattr(learn, "evo_fastslow_guarded", False):
        return

    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return learn(*args, **kwargs)
        except TypeError as err:
            raise metamodel.MetaModelFailure(f"nevergrad's metamodel under numpy 2.4: {err}") from err

    guarded.evo_fastslow_guarded = True  # type: ignore[attr-defined]
    optimizerlib.learn_on_k_best = guarded
