"""The search space and genomes: encode to [0,1]^d, decode any point of the cube, JSON in/out.

Every gene maps the unit interval onto its values (evo_fastslow/genes.py), so any searcher's vector
decodes to a valid genome and `decode(encode(g)) == g`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from evo_fastslow.errors import InputError, read_text
from evo_fastslow.genes import Bool, Categorical, Float, Gene, Integer

__all__ = ["Gene", "Categorical", "Bool", "Integer", "Float", "Genome", "SearchSpace", "SEARCH_SPACE",
           "load_genomes", "load_genome", "save_genomes"]

GENOME_SCHEMA = "evo_fastslow.genomes/1"


@dataclass(frozen=True)
class Genome:
    """A point of the search space: gene values (plain JSON data), a name, and where it came from."""

    genes: Mapping[str, Any]
    name: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, gene: str) -> Any:
        return self.genes[gene]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Genome) and dict(self.genes) == dict(other.genes)

    def __hash__(self) -> int:
        return hash(json.dumps(dict(self.genes), sort_keys=True))

    def with_genes(self, **changes: Any) -> "Genome":
        return SEARCH_SPACE.complete({**self.genes, **changes}, name=self.name, provenance=self.provenance)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "genes": dict(self.genes), "provenance": dict(self.provenance)}


class SearchSpace:
    """An ordered set of genes; the searchers see its [0,1]^d encoding.

    `fixed` genes are held at one value: they are part of every genome but not of the vector.
    """

    def __init__(self, genes: Iterable[Gene], fixed: Mapping[str, Any] | None = None):
        self.genes: dict[str, Gene] = {g.name: g for g in genes}
        self.fixed: dict[str, Any] = dict(fixed or {})
        self.free: list[str] = [n for n in self.genes if n not in self.fixed]

    def __len__(self) -> int:
        return len(self.free)

    def default(self) -> Genome:
        return Genome({n: self.fixed.get(n, g.default) for n, g in self.genes.items()})

    def decode(self, vector: Iterable[float], **meta: Any) -> Genome:
        values = list(vector)
        if len(values) != len(self):
            raise ValueError(f"expected a vector of {len(self)} values, got {len(values)}")
        decoded = {n: self.genes[n].decode(float(x)) for n, x in zip(self.free, values)}
        return Genome({n: self.fixed[n] if n in self.fixed else decoded.get(n, g.default)
                       for n, g in self.genes.items()}, **meta)

    def encode(self, genome: Genome) -> np.ndarray:
        return np.array([self.genes[n].encode(genome[n]) for n in self.free], dtype=np.float64)

    def restrict(self, fixed: Mapping[str, Any] | None = None, ranges: Mapping[str, tuple] | None = None,
                 choices: Mapping[str, list] | None = None) -> "SearchSpace":
        """A narrower space: genes held fixed, numeric ranges narrowed, categorical choices subset.

        ValueError names the gene and what was expected."""
        genes = dict(self.genes)
        for kind, overrides in (("ranges", ranges or {}), ("choices", choices or {}), ("fixed", fixed or {})):
            for name, value in overrides.items():
                if name not in genes:
                    raise ValueError(f"{kind}.{name}: a known gene ({', '.join(genes)})")
                try:
                    if kind == "ranges":
                        genes[name] = genes[name].narrowed(*value)
                    elif kind == "choices":
                        if not isinstance(genes[name], Categorical) or not value:
                            raise ValueError("a non-empty list of choices of a categorical gene")
                        genes[name] = genes[name].with_choices(list(value))
                    else:
                        genes[name].validate(value)
                except (ValueError, TypeError) as err:
                    raise ValueError(f"{kind}.{name}: {err}") from None
        all_fixed = {**self.fixed, **{n: genes[n].validate(v) for n, v in (fixed or {}).items()}}
        return SearchSpace(genes.values(), all_fixed)

    def add(self, gene: Gene) -> None:
        """A gene joins the space (a plugin's): last in the gene order, outside this space's vector (a
        restricted space searches it only where a config names it)."""
        if gene.name not in self.genes:
            self.genes[gene.name] = gene

    def accept(self, name: str, value: str) -> None:
        """A categorical gene accepts one more value (a plugin core), without joining its default choices."""
        from dataclasses import replace

        gene = self.genes[name]
        if isinstance(gene, Categorical) and value not in gene.choices + gene.also:
            self.genes[name] = replace(gene, also=gene.also + (value,))

    def mutate(self, genome: Genome, rng: np.random.Generator, rate: float, scale: float) -> Genome:
        """Each free gene mutates with probability `rate` (at least one does), by its own kind's rule."""
        hits = [n for n in self.free if rng.random() < rate] or [self.free[int(rng.integers(len(self.free)))]]
        genes = dict(genome.genes)
        for name in hits:
            genes[name] = self.genes[name].mutate(genes[name], rng, scale)
        return Genome(genes)

    def crossover(self, a: Genome, b: Genome, rng: np.random.Generator) -> Genome:
        """Uniform crossover: each gene whole from one parent, so every kind stays valid."""
        return Genome({n: (a if n in self.fixed or rng.random() < 0.5 else b)[n] for n in self.genes})

    def complete(self, genes: Mapping[str, Any], *, name: str = "", provenance: Mapping[str, Any] | None = None,
                 source: str = "<genome>") -> Genome:
        """Validate `genes`, fill the missing ones with defaults; InputError naming the gene otherwise."""
        where = f"genome {name!r}" if name else "genome"
        _plugin_core(genes, source, where)
        unknown = sorted(set(genes) - set(self.genes))
        if unknown:
            raise InputError(source, f"{where}, gene {unknown[0]!r}",
                             f"a known gene ({', '.join(self.genes)})")
        values = {}
        for gene_name, gene in self.genes.items():
            if gene_name not in genes:
                values[gene_name] = gene.default
                continue
            try:
                values[gene_name] = gene.validate(genes[gene_name])
            except ValueError as err:
                raise InputError(source, f"{where}, gene {gene_name!r}", str(err)) from None
        return Genome(values, name=name, provenance=dict(provenance or {}))


def _plugin_core(genes: Mapping[str, Any], source: str, where: str) -> None:
    """A genome naming an installed plugin core (an entry point, never an import path) gets it loaded."""
    core = genes.get("core")
    if isinstance(core, str) and core not in SEARCH_SPACE.genes["core"].choices + SEARCH_SPACE.genes["core"].also:
        from evo_fastslow.plugins import PluginError, is_import_path, load_plugin_core

        if is_import_path(core):
            return  # an import path is loaded only where a run config names it: the gene check says so
        try:
            register_core(core, load_plugin_core(core, allow_import_path=False))
        except PluginError:
            return  # not installed: the gene check names the values it accepts


def register_core(name: str, core: type) -> None:
    """Make `name` a value the `core` gene accepts and add the core's own genes to the search space."""
    from evo_fastslow.plugins import PluginError

    for gene in getattr(core, "genes", ()):
        known = SEARCH_SPACE.genes.get(gene.name)
        if known is not None and known != gene:
            raise PluginError(f"core {name!r}: gene {gene.name!r} is already defined otherwise")
        SEARCH_SPACE.add(gene)
    SEARCH_SPACE.accept("core", name)


SEARCH_SPACE = SearchSpace([
    Categorical("core", "recurrent core: what carries fast state within an episode",
                choices=("lstm", "gru", "feedforward"), default_value="lstm"),
    Integer("hidden_size", "units of the core", low=8, high=256, default_value=48, log=True),
    Categorical("meta_inputs", "what the core sees of its previous step (the meta-RL inputs)",
                choices=("none", "reward", "action_reward"), default_value="action_reward"),
    Float("learning_rate", "step size of the slow (gradient) learner", low=1e-4, high=3e-2,
          default_value=3e-3, log=True),
    Categorical("optimizer", "gradient optimizer", choices=("adam", "rmsprop"), default_value="adam"),
    Float("discount", "return discount gamma", low=0.5, high=1.0, default_value=0.9),
    Float("entropy_cost", "weight of the entropy bonus", low=1e-4, high=1.0, default_value=0.05, log=True),
    Float("value_cost", "weight of the value loss", low=1e-3, high=1.0, default_value=0.05, log=True),
    Integer("episodes_per_update", "parallel episodes per A2C update (batch B)", low=4, high=256,
            default_value=16, log=True),
    Float("grad_clip", "max global gradient norm", low=0.1, high=100.0, default_value=10.0, log=True),
    Categorical("episodic_memory", "episodic store: off | value (NEC-style returns, read into core and "
                "critic) | reinstate (stored core states brought back through a learned gate, epLSTM)",
                choices=("off", "value", "reinstate"), default_value="off"),
    Integer("memory_capacity", "slots per stream (first in, first out)", low=8, high=4096, default_value=256,
            log=True),
    Integer("memory_k", "nearest neighbours a read averages", low=1, high=64, default_value=8, log=True),
    Categorical("memory_key", "what a memory is looked up by", choices=("observation", "embedding"),
                default_value="observation"),
    Categorical("memory_write", "when memories are written", choices=("episode_end", "every_step"),
                default_value="episode_end"),
    Float("memory_delta", "kernel 1 / (d^2 + delta) of a read: the squared key distance at which a memory counts "
          "half as much as an exact match (how broadly a memory generalises)", low=1e-3, high=10.0,
          default_value=1e-3, log=True),
    Categorical("encoder", "perception before the core: none | mlp (a tanh layer) | conv (3x3 filters over the "
                "task's image, then a tanh layer; tasks with an image view)", choices=("none", "mlp", "conv"),
                default_value="none"),
    Integer("encoder_width", "units (and conv filters) of the encoder", low=8, high=128, default_value=32, log=True),
    Categorical("intrinsic", "evolved intrinsic motivation: a bonus added to the reward slow learning trains on "
                "(never to the reward it is tested on): none | novelty (rarely taken actions) | surprise (reward "
                "prediction error) | information (how far the reward moves the action's estimate)",
                choices=("none", "novelty", "surprise", "information"), default_value="none"),
    Float("intrinsic_weight", "weight of the intrinsic bonus, in units of the task's reward", low=1e-3, high=10.0,
          default_value=0.1, log=True),
    Categorical("entropy_schedule", "entropy bonus over the lifetime: constant at entropy_cost, or annealed "
                "linearly to entropy_cost x entropy_floor by the last update", choices=("constant", "linear"),
                default_value="constant"),
    Float("entropy_floor", "where a linear entropy schedule ends, as a fraction of entropy_cost", low=0.0,
          high=1.0, default_value=0.0),
    Categorical("lr_schedule", "learning rate over the lifetime: constant, or annealed linearly to "
                "learning_rate x lr_floor by the last update", choices=("constant", "linear"),
                default_value="constant"),
    Float("lr_floor", "where a linear learning-rate schedule ends, as a fraction of learning_rate", low=0.0,
          high=1.0, default_value=0.0),
    Float("gae_lambda", "GAE lambda of the advantages: 1 is the episode's discounted return minus the value "
          "(no bootstrap), lower trades variance for the critic's bias (RL^2 used 0.3)", low=0.0, high=1.0,
          default_value=1.0),
    Bool("normalize_advantages", "rescale each update's advantages to mean 0 and deviation 1",
         default_value=False),
    Integer("truncation", "steps between updates within an episode (truncated backpropagation through time, "
            "the returns bootstrapped from the value); 0: one update per batch of whole episodes", low=0, high=1000,
            default_value=0),
    Float("weight_averaging", "test (and keep) a moving average of the weights instead of the last ones "
          "(Polyak averaging): its time constant as a fraction of the lifetime's optimizer steps; 0: the last "
          "weights", low=0.0, high=0.5, default_value=0.0),
])


# Genes added after run archives' digests were published (populations/evolved.json records them): a
# genome at their default keeps the identity it had before they existed (its trials' subject, its
# archive's digest), so a re-run of a published config can still be checked against its digest.
LATER_GENES = ("weight_averaging",)


def identity_genes(genes: Mapping[str, Any]) -> dict[str, Any]:
    """The genes that identify a genome: all of them but the later genes left at their default."""
    return {name: value for name, value in genes.items()
            if not (name in LATER_GENES and value == SEARCH_SPACE.genes[name].default)}

# --- genome files -------------------------------------------------------------------------------

def _read_json(path: str | Path) -> Any:
    text = read_text(path, "a genome file (JSON)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(str(path), f"line {err.lineno}", f"valid JSON ({err.msg})") from None


def load_genomes(path: str | Path, space: SearchSpace = SEARCH_SPACE) -> list[Genome]:
    """All genomes of a genome file, validated. Never executes code from the file."""
    data = _read_json(path)
    path = Path(path)
    if not isinstance(data, dict) or data.get("schema") != GENOME_SCHEMA:
        raise InputError(str(path), "schema", f'"{GENOME_SCHEMA}"')
    entries = data.get("genomes")
    if not isinstance(entries, list) or not entries:
        raise InputError(str(path), "genomes", "a non-empty list of genomes")
    genomes, seen = [], set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise InputError(str(path), f"genomes[{i}].name", "a non-empty string")
        name = entry["name"]
        if name in seen:
            raise InputError(str(path), f"genome {name!r}", "a name used once in the file")
        seen.add(name)
        extra = sorted(set(entry) - {"name", "genes", "provenance"})
        if extra:
            raise InputError(str(path), f"genome {name!r}, field {extra[0]!r}", "only name, genes, provenance")
        genes, provenance = entry.get("genes", {}), entry.get("provenance", {})
        if not isinstance(genes, dict):
            raise InputError(str(path), f"genome {name!r}, genes", "an object of gene: value")
        if not isinstance(provenance, dict):
            raise InputError(str(path), f"genome {name!r}, provenance", "an object")
        genomes.append(space.complete(genes, name=name, provenance=provenance, source=str(path)))
    return genomes


def split_spec(spec: str) -> tuple[str, str]:
    """`FILE:NAME` -> (FILE, NAME); a path that exists as given (a colon in its name) has no NAME."""
    path, _, name = spec.partition(":") if not (spec and Path(spec).exists()) else (spec, "", "")
    return path, name


def load_genome(spec: str, space: SearchSpace = SEARCH_SPACE) -> Genome:
    """`FILE:NAME` selects one genome; a bare `FILE` must hold exactly one."""
    path, name = split_spec(spec)
    genomes = load_genomes(path, space)
    if not name:
        if len(genomes) != 1:
            names = ", ".join(g.name for g in genomes)
            raise InputError(path, "genome", f"FILE:NAME to choose one of {names}")
        return genomes[0]
    for genome in genomes:
        if genome.name == name:
            return genome
    raise InputError(path, f"genome {name!r}", f"one of {', '.join(g.name for g in genomes)}")


def save_genomes(path: str | Path, genomes: Iterable[Genome]) -> None:
    """Write a genome file (atomically: write then rename)."""
    path = Path(path)
    payload = {"schema": GENOME_SCHEMA, "genomes": [g.to_json() for g in genomes]}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)
