"""Run configs (configs/*.yaml): what to search, how, on which suites and on which cluster.

`--set key.path=value` overrides are applied to the file's data before validation, so they are
checked like the file. Suite files are read once and embedded in the run's resolved config, which
is what `resume` reads: a resumed run does not depend on files that may have changed since.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator, model_validator

from evo_fastslow.evolution.cluster.config import ClusterConfig
from evo_fastslow.errors import ConfigWarning, InputError, input_file, read_yaml
from evo_fastslow.evolution.inheritance import InheritanceConfig
from evo_fastslow.evolution.searchers.base import SearcherSettings
from evo_fastslow.evolution.searchers.ga import GASettings
from evo_fastslow.evolution.searchers.registry import SearcherConfigError, fields_it_takes, settings_of
from evo_fastslow.evolution.policy.selection import EvaluationConfig
from evo_fastslow.evolution.tracking import TrackingConfig
from evo_fastslow.genome import SEARCH_SPACE, Genome, SearchSpace, load_genomes
from evo_fastslow.suite import FitnessSuite, load_suite
from evo_fastslow.weights import genome_file_weights

RUN_SCHEMA = "evo_fastslow.run/1"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# The genes a config without `search_space.search` searches (less its `fixed` ones): the genes the project
# had when `search` was introduced. Genes added later stay at their defaults there, so an old config
# searches what it always did.
IMPLICIT_SEARCH = ("core", "hidden_size", "meta_inputs", "learning_rate", "optimizer", "discount", "entropy_cost",
                   "value_cost", "episodes_per_update", "grad_clip", "episodic_memory", "memory_capacity", "memory_k",
                   "memory_key", "memory_write", "memory_delta", "encoder", "encoder_width", "intrinsic",
                   "intrinsic_weight")


class SearchSpaceConfig(_Strict):
    search: list[str] | None = Field(None, min_length=1, description="the genes evolution searches; every other "
                                     "gene stays at its `fixed` value or its default (null: the older form, where "
                                     "every gene of IMPLICIT_SEARCH not in `fixed` is searched)")
    fixed: dict[str, Any] = Field(default_factory=dict, description="genes held at one value")
    ranges: dict[str, tuple[int | float, int | float]] = Field(default_factory=dict,
                                                              description="narrowed numeric ranges [low, high]")
    choices: dict[str, list[str]] = Field(default_factory=dict, description="subsets of categorical choices")

    @model_validator(mode="after")
    def _genes_are_valid(self) -> "SearchSpaceConfig":
        if self.search is not None:
            known = list(SEARCH_SPACE.genes)
            for i, name in enumerate(self.search):
                if name not in known:
                    raise ValueError(f"search[{i}]: a known gene ({', '.join(known)}), not {name!r}")
                if name in self.search[:i]:
                    raise ValueError(f"search[{i}]: each gene once ({name!r} is named twice)")
            for kind, names in (("ranges", self.ranges), ("choices", self.choices)):
                wrong = [n for n in names if n not in self.search]
                if wrong:
                    raise ValueError(f"{kind}.{wrong[0]}: a gene named in search (it is not searched)")
        self.build()  # ValueError naming the gene and what was expected
        return self

    def searched(self) -> list[str]:
        """The searched genes, in the project's gene order (the order of the searchers' vector); a gene
        both named and `fixed` is held (so `--set search_space.fixed.core=lstm` pins a shipped config's gene)."""
        named = set(self.search if self.search is not None else IMPLICIT_SEARCH) - set(self.fixed)
        return [n for n in SEARCH_SPACE.genes if n in named]

    def build(self) -> SearchSpace:
        searched = set(self.searched())
        held = {**{n: g.default for n, g in SEARCH_SPACE.genes.items() if n not in searched}, **self.fixed}
        return SEARCH_SPACE.restrict(held, self.ranges, self.choices)


class BudgetConfig(_Strict):
    train_env_steps: int | None = Field(None, gt=0, le=10**11, description="overrides every suite's lifetime "
                                        "budget (at most 10^11)")
    test_episodes: int | None = Field(None, gt=0, le=10**7, description="overrides every suite's test episodes "
                                      "(at most 10^7)")
    ceiling_core_hours: float = Field(100.0, gt=0, description="a run planned to spend more (evolution/plan.py) "
                                      "starts only with --yes or confirm: false")
    confirm: bool = Field(True, description="false: start a run above the ceiling without --yes")


class RunConfig(_Strict):
    schema_: Literal["evo_fastslow.run/1"] = Field(alias="schema")
    name: str
    seed: int = Field(0, description="the run seed: every other seed derives from it")
    suites: list[str] = Field(min_length=1, description="fitness suite files; fitness = mean of their scores")
    budget: BudgetConfig = BudgetConfig()
    population: int = Field(ge=2, le=100_000, description="genomes per generation (at most 100,000)")
    generations: int = Field(ge=1, le=100_000, description="generations (steady-state: epochs of `population` "
                             "evaluations; at most 100,000)")
    searcher: SerializeAsAny[SearcherSettings] = Field(
        GASettings(name="ga"), description="how genomes are proposed: `name` (a shipped searcher, an import path "
        "module:Class or an entry point of evo_fastslow.searchers) and that searcher's own fields "
        "(evolution/searchers/)")
    evaluation: EvaluationConfig = Field(EvaluationConfig(), description="how much evidence a fitness rests on: "
                                         "replicates on shared seeds, racing, budget rungs (evolution/policy/selection.py)")
    search_space: SearchSpaceConfig = SearchSpaceConfig()
    seed_population: str | None = Field(None, description="genome file whose genomes start the search")
    inheritance: InheritanceConfig = Field(InheritanceConfig(), description="what a child inherits besides genes: "
                                           "darwinian | baldwinian | lamarckian (evolution/inheritance.py)")
    cluster: ClusterConfig = ClusterConfig()
    tracking: TrackingConfig | None = Field(None, description="write progress to TensorBoard and/or MLflow "
                                            "(evolution/tracking.py)")
    reproducibility: Literal["warn", "strict"] = Field(
        "warn", description="workers (or a resume) with another numeric fingerprint: warn, or stop (strict)")
    embedded_suites: list[dict[str, Any]] = Field(default_factory=list,
                                                  description="filled by the loader: the suites' contents")

    @model_validator(mode="after")
    def _embedded_suites_are_suites(self) -> "RunConfig":
        for i, data in enumerate(self.embedded_suites):
            try:
                FitnessSuite.model_validate(data)
            except ValidationError as err:
                first = err.errors()[0]
                raise ValueError(f"embedded_suites[{i}].{_field(first['loc'])}: {first['msg']}") from None
        return self

    @field_validator("searcher", mode="before")
    @classmethod
    def _searcher_by_name(cls, data: Any) -> SearcherSettings:
        try:
            return settings_of(data)
        except SearcherConfigError as err:
            raise ValueError(f"searcher.{err.field}: {err.message}") from None

    @model_validator(mode="after")
    def _searcher_fits(self) -> "RunConfig":
        self.searcher.check(self)
        return self

    def space(self) -> SearchSpace:
        return self.search_space.build()

    def fitness_suites(self) -> list[FitnessSuite]:
        """The embedded suites with the run's budget overrides applied."""
        suites = []
        for data in self.embedded_suites:
            suite = FitnessSuite.model_validate(data)
            if self.budget.train_env_steps:
                suite = suite.model_copy(update={"lifetime": suite.lifetime.model_copy(
                    update={"train_env_steps": self.budget.train_env_steps})})
            if self.budget.test_episodes:
                suite = suite.model_copy(update={"test": suite.test.model_copy(
                    update={"episodes": self.budget.test_episodes})})
            suites.append(suite)
        return suites

    def seed_genomes(self, source: str) -> list[Genome]:
        if self.seed_population is None:
            return []
        space = self.space()
        try:
            return [space.complete({**g.genes, **space.fixed}, name=g.name, provenance=g.provenance,
                                   source=self.seed_population)
                    for g in load_genomes(named_file(self.seed_population, source, "seed_population",
                                                     "a genome file (JSON)"))]
        except InputError as err:
            if err.source == source:  # already names this config's field
                raise
            raise InputError(source, f"seed_population ({err.source})", f"{err.field}: {err.expected}") from None


    def seed_weights(self, source: str) -> dict[str, bytes]:
        """Initial weights the seed genomes carry (genome-file provenance), keyed by their genes as seeded."""
        if self.seed_population is None:
            return {}
        path = str(named_file(self.seed_population, source, "seed_population", "a genome file (JSON)"))
        found = {}
        for genome in self.seed_genomes(source):
            blob = genome_file_weights(dict(genome.provenance), path, genome.name)
            if blob is not None:
                found[json.dumps(dict(genome.genes), sort_keys=True)] = blob
        return found


def named_file(path: str, config_path: str, field: str, what: str) -> Path:
    """A file a config field names, resolved (`_resolve`) and checked (errors name the config and field)."""
    if not path.strip():
        raise InputError(config_path, field, f"{what}, not an empty path")
    return input_file(_resolve(path, config_path), what, (config_path, field))


def _resolve(path: str, config_path: str) -> Path:
    """Relative paths: from the working directory, else from the config file's folder or the nearest
    folder above it that has them (so `configs/x.yaml` can name `fitness/y.yaml` from anywhere)."""
    candidate = Path(path)
    if candidate.is_absolute() or _exists(candidate):
        return candidate
    folder = Path(config_path).resolve().parent
    for base in (folder, *folder.parents):
        if _exists(base / candidate):
            return base / candidate
    return candidate


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system: not a file the config can mean
        return False


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """`key.path=value`, value parsed as YAML (so numbers, booleans and lists keep their types).
    `searcher.name=X` naming another searcher than the section does keeps only the section's fields that X
    takes too (each searcher has its own); later `searcher.*` overrides then set X's fields."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise InputError("--set", assignment, "key.path=value")
    *parents, leaf = key.split(".")
    if key == "searcher.name" and isinstance(data.get("searcher"), dict) \
            and data["searcher"].get("name", "ga") != yaml.safe_load(raw):
        data["searcher"] = fields_it_takes({**data["searcher"], "name": yaml.safe_load(raw)})  # what it takes
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise InputError("--set", key, f"{part} to be a mapping")
    node[leaf] = yaml.safe_load(raw)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p not in ("function-after",)) or "(top level)"


def validate_config(data: Any, source: str) -> RunConfig:
    if not isinstance(data, dict):
        raise InputError(source, "(top level)", "a mapping of run settings")
    try:
        if "searcher" in data:  # first, so that an error names the searcher's own field
            data = {**data, "searcher": settings_of(data["searcher"])}
    except SearcherConfigError as err:
        raise InputError(source, f"searcher.{err.field}", err.message) from None
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise InputError(source, _field(first["loc"]), first["msg"].removeprefix("Value error, ")) from None


def config_cores(search_space: Any) -> list[str]:
    """Plugin cores a run config's raw `search_space` names (in choices.core or fixed.core)."""
    from evo_fastslow.agents.cores import BUILT_IN_CORES as CORES

    if not isinstance(search_space, dict):
        return []
    choices = (search_space.get("choices") or {}).get("core") if isinstance(search_space.get("choices"), dict) else None
    fixed = (search_space.get("fixed") or {}).get("core") if isinstance(search_space.get("fixed"), dict) else None
    names = [*(choices if isinstance(choices, list) else []), *([fixed] if fixed is not None else [])]
    return [n for n in names if isinstance(n, str) and n not in CORES]


def load_plugin_cores(data: dict[str, Any], source: str) -> None:
    """Plugin cores the config's search space names are loaded (their genes join the space) before it is
    checked; a run directory's resolved config names them the same way (evolution/loop.py)."""
    from evo_fastslow.agents.cores import load_core
    from evo_fastslow.plugins import PluginError

    for name in config_cores(data.get("search_space")):
        try:
            load_core(name)
        except PluginError as err:
            raise InputError(source, "search_space: core", str(err)) from None


def load_config(path: str | Path, overrides: list[str] = ()) -> RunConfig:
    """Read, override, validate; then read the suites and embed them."""
    source = str(path)
    data = read_yaml(path, "run config")
    if isinstance(data, dict):
        data.pop("embedded_suites", None)
        for assignment in overrides:
            apply_override(data, assignment)
        load_plugin_cores(data, source)
    config = validate_config(data, source)
    suites = [load_suite(named_file(s, source, f"suites[{i}]", "a suite file (YAML)"))
              for i, s in enumerate(config.suites)]
    names = [s.name for s in suites]
    if len(set(names)) != len(names):
        raise InputError(source, "suites", "suites with distinct names")
    config = config.model_copy(update={"embedded_suites": [s.model_dump(by_alias=True) for s in suites]})
    if config.seed_population is not None:  # its full path: the run is resumed and read from any directory
        seeds = named_file(config.seed_population, source, "seed_population", "a genome file (JSON)")
        config = config.model_copy(update={"seed_population": str(seeds.resolve())})
    config.seed_genomes(source)  # fail now, not after the cluster started
    if config.search_space.search is None:
        warnings.warn(f"{source}: search_space: no `search` list, so it searches {', '.join(config.search_space.searched())} "
                      "implicitly; name the genes to search in search_space.search", ConfigWarning, stacklevel=2)
    return config
