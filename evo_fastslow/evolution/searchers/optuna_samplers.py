"""`tpe` and `optuna`: Optuna's samplers inside the harness (pip install 'evo-fastslow[optuna]').

`tpe` is `optuna.samplers.TPESampler` with its main options as fields; `optuna` names any sampler of
`optuna.samplers` with its keyword arguments. Each gets what the harness gives every searcher (replicates
on shared seeds, rungs, racing, the archive, the cluster, resume) and its determinism: one in-memory study,
asked and told in index order (evolution/searchers/library.py), the sampler seeded from the run seed.
Outside the harness Optuna is not reproducible in parallel (its FAQ; issues #4412, #6062).

Genes reach Optuna as `categorical: cube` (every gene as its [0,1] coordinate, decoded by the gene, as a
user outside the harness would write it; the default) or `native` (categorical and boolean genes as Optuna
categoricals, which TPE models per choice; numeric genes still as their coordinate, so log scales and
integer steps are the gene's). On the synthetic noisy mixed objective (benchmarks/synthetic_search.py, 20
seeds, 192 evaluations) `cube` proposed a genome within reach of the optimum in 5 of 20 runs, `native` in 1.
The study is told the selection value (evolution/searchers/base.py: Result).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from evo_fastslow.evolution.searchers.base import Result, SearchContext
from evo_fastslow.evolution.searchers.library import LibrarySearcher, LibrarySettings
from evo_fastslow.genes import Bool, Categorical
from evo_fastslow.genome import Genome
from evo_fastslow.seeds import derive_seed


class OptunaSettings(LibrarySettings):
    categorical: Literal["native", "cube"] = Field(
        "cube", description="cube: every gene as its [0,1] coordinate (better on the synthetic objective, "
                            "benchmarks/synthetic_search.py); native: categorical and boolean genes as Optuna "
                            "categoricals (as good or better on the mid-scale bandits, 2 run seeds so far: "
                            "docs/results/selection-benchmark.md)")


class TPESettings(OptunaSettings):
    n_startup_trials: int = Field(10, ge=0, description="random trials before TPE models the history")
    n_ei_candidates: int = Field(24, ge=1, description="candidates drawn from l(x); the best l(x)/g(x) is asked")
    multivariate: bool | None = Field(None, description="model the genes jointly (null: Optuna's default)")
    constant_liar: bool | None = Field(None, description="treat pending trials as bad, so parallel asks spread "
                                       "out (null: Optuna's default)")


class OptunaSamplerSettings(OptunaSettings):
    sampler: str = Field("TPESampler", description="a sampler class of optuna.samplers (TPESampler, "
                                                    "CmaEsSampler, GPSampler, QMCSampler, RandomSampler, ...)")
    options: dict[str, Any] = Field(default_factory=dict, description="the sampler's keyword arguments (its "
                                    "seed comes from the run seed)")

    @field_validator("sampler")
    @classmethod
    def _a_sampler(cls, name: str) -> str:
        import optuna

        found = getattr(optuna.samplers, name, None)
        if not (isinstance(found, type) and issubclass(found, optuna.samplers.BaseSampler)):
            raise ValueError(f"a sampler class of optuna.samplers, not {name!r}")
        return name

    @field_validator("options")
    @classmethod
    def _no_seed(cls, options: dict[str, Any]) -> dict[str, Any]:
        if "seed" in options:
            raise ValueError("no seed: it is derived from the run seed")
        return options

    @model_validator(mode="after")
    def _builds(self) -> "OptunaSamplerSettings":
        """Built once here, so that a wrong option or a sampler's missing package is named before the run."""
        import optuna

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                getattr(optuna.samplers, self.sampler)(seed=0, **self.options)
        except ModuleNotFoundError as err:
            raise ValueError(f"sampler {self.sampler} needs the {err.name} package (pip install {err.name})") from None
        except (TypeError, ValueError) as err:
            raise ValueError(f"options that {self.sampler} takes ({err})") from None
        return self


class OptunaSampler(LibrarySearcher):
    """Any sampler of optuna.samplers (`sampler`, `options`), asked and told in index order."""
    Config: ClassVar[type] = OptunaSamplerSettings

    def __init__(self, config: OptunaSettings, context: SearchContext):
        import optuna
        from optuna.distributions import CategoricalDistribution, FloatDistribution

        super().__init__(config, context)
        logging.getLogger("optuna").setLevel(logging.WARNING)  # no line per trial
        space, native = context.space, config.categorical == "native"
        self.categorical = {name for name in space.free if native and _choices(space.genes[name]) is not None}
        self.distributions = {name: CategoricalDistribution(_choices(space.genes[name])) if name in self.categorical
                              else FloatDistribution(0.0, 1.0) for name in space.free}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = self.sampler(config, derive_seed(context.seed, "optuna") % 2**32)
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        for genome in context.seeds[:context.popsize]:
            self.study.enqueue_trial(self._params(genome))

    def sampler(self, config: OptunaSamplerSettings, seed: int) -> Any:
        import optuna

        return getattr(optuna.samplers, config.sampler)(seed=seed, **config.options)

    def _params(self, genome: Genome) -> dict[str, Any]:
        space = self.context.space
        return {name: genome[name] if name in self.categorical else float(space.genes[name].encode(genome[name]))
                for name in space.free}

    def _ask_point(self, index: int) -> tuple[Any, Genome]:
        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            trial = self.study.ask(self.distributions)
        space = self.context.space
        vector = [space.genes[name].encode(trial.params[name]) if name in self.categorical
                  else trial.params[name] for name in space.free]
        return trial, space.decode(np.array(vector, dtype=np.float64))

    def _tell_point(self, trial: Any, result: Result) -> None:
        self.study.tell(trial, result.value)


class TPE(OptunaSampler):
    """Optuna's TPESampler: a Parzen density ratio l(x)/g(x) over all history decides every proposal."""
    Config: ClassVar[type] = TPESettings

    def sampler(self, config: TPESettings, seed: int) -> Any:
        import optuna

        options = {"n_startup_trials": config.n_startup_trials, "n_ei_candidates": config.n_ei_candidates}
        options.update({k: v for k, v in (("multivariate", config.multivariate),
                                          ("constant_liar", config.constant_liar)) if v is not None})
        return optuna.samplers.TPESampler(seed=seed, **options)


def _choices(gene: Any) -> list[Any] | None:
    if isinstance(gene, Categorical):
        return list(gene.choices)
    if isinstance(gene, Bool):
        return [False, True]
    return None

