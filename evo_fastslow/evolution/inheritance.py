"""Inheritance: what a child takes from its parent besides genes (`inheritance.mode` in the run config).

- `darwinian` (default): genes only; every lifetime starts from fresh weights drawn from its seed.
- `baldwinian` (Fernando et al. 2018): the genome also carries the network's initial weights. A
  genome without parent starts from its fresh weights; a child starts from its first parent's initial
  weights plus Gaussian noise (`weight_sigma`; an elite keeps them unchanged). What a lifetime learns
  is discarded. The weights evolve inside the gene searcher (GA, aging, MAP-Elites, NSGA-II) rather than
  with a separate searcher over a flat vector (SNES/PGPE): the architecture genes change the number of
  weights, and one searcher keeps genes and weights selected together, on the same fitness.
- `lamarckian` (Population Based Training's exploit-and-explore, Jaderberg et al. 2017): a child
  starts its lifetime from its first parent's end-of-lifetime weights and trains its own full budget.
In both, a child whose architecture no longer fits the parent's weights (other parameter shapes)
starts fresh, and the archive's weights table says so. Every decision is a function of the archive
(parent ids, hashes) and derived seeds, made before the child is evaluated: the same on resume, on
any number of workers.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from evo_fastslow.archive import Archive, GenomeRecord
from evo_fastslow.evolution.evaluate import architecture, initial_weights
from evo_fastslow.seeds import numpy_generator
from evo_fastslow.suite import FitnessSuite
from evo_fastslow.weights import WeightStore, from_bytes, shapes, to_bytes

ARCHITECTURE_GENES = ("core", "hidden_size", "meta_inputs", "episodic_memory", "memory_key", "encoder",
                      "encoder_width")
WEIGHTS_FOLDER = "weights"


class InheritanceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    mode: Literal["darwinian", "baldwinian", "lamarckian"] = Field(
        "darwinian", description="darwinian (genes only) | baldwinian (genes and evolved initial weights) | "
                                 "lamarckian (a child starts from its parent's end-of-lifetime weights)")
    weight_sigma: float = Field(0.01, ge=0, description="baldwinian: Gaussian mutation step of each initial weight")

    @model_validator(mode="before")
    @classmethod
    def _mode_alone(cls, data: Any) -> Any:
        """`inheritance: lamarckian` is short for `inheritance: {mode: lamarckian}`."""
        return {"mode": data} if isinstance(data, str) else data


class Inheritance:
    """Decides, records and serves each genome's initial weights; stores end-of-lifetime weights."""

    def __init__(self, config: InheritanceConfig, run_seed: int, suites: list[FitnessSuite], archive: Archive,
                 store: WeightStore, seeded: dict[str, bytes] | None = None):
        self.config, self.run_seed, self.suites = config, run_seed, suites
        self.archive, self.store = archive, store
        self.seeded = seeded or {}  # genes (JSON) -> the initial weights a seed genome's file gave it

    @property
    def active(self) -> bool:
        return self.config.mode != "darwinian"

    @property
    def keeps_final_weights(self) -> bool:
        return self.config.mode == "lamarckian"

    def prepare(self, record: GenomeRecord, lifetime_seed: int) -> tuple[bytes | None, str]:
        """The initial weights of `record`'s lifetime (bytes or None for fresh) and their hash; decided
        once and archived (a resumed run finds the decision and makes the same one)."""
        if not self.active:
            return None, ""
        known = self.archive.weights(record.id)
        if known is None or (not known[0] and not known[1]):
            initial, note = self._decide(record, lifetime_seed)
            self.archive.set_initial_weights(record.id, initial, note)
        else:
            initial = known[0]
        return (self.store.get(initial), initial) if initial else (None, "")

    def record_final(self, genome_id: int, data: bytes) -> None:
        """Keep a lifetime's end-of-lifetime weights (written before its evaluation is archived)."""
        self.archive.set_final_weights(genome_id, self.store.put(data))

    def _decide(self, record: GenomeRecord, lifetime_seed: int) -> tuple[str, str]:
        parent_id = record.parents[0] if record.parents else None
        blob = self.seeded.get(json.dumps(record.genes, sort_keys=True)) if record.origin == "seeded" else None
        if blob is not None:
            if shapes(from_bytes(blob, "seed_population")) != architecture(record.genes, self.suites):
                return self._fresh(record, lifetime_seed, "fresh: the genome file's weights do not fit its "
                                   "architecture on this run's suites")
            return self.store.put(blob), "the genome file's initial weights"
        if parent_id is None:
            return self._fresh(record, lifetime_seed, f"fresh: a {record.origin} genome has no parent")
        parent = self.archive.genome(parent_id)
        row = self.archive.weights(parent_id)
        source = (row[2] if self.config.mode == "lamarckian" else row[0]) if row else ""
        if not source:
            return self._fresh(record, lifetime_seed, f"fresh: parent {parent_id} left no weights (its lifetime failed)")
        tensors = self.store.load(source)
        if shapes(tensors) != architecture(record.genes, self.suites):
            changed = [g for g in ARCHITECTURE_GENES if parent and parent.genes.get(g) != record.genes.get(g)]
            return self._fresh(record, lifetime_seed, f"fresh: architecture changed from parent {parent_id} "
                               f"({', '.join(changed) or 'parameter shapes'})")
        if self.config.mode == "lamarckian":
            return source, f"end-of-lifetime weights of parent {parent_id}"
        if record.origin == "elite" or self.config.weight_sigma == 0:
            return source, f"initial weights of parent {parent_id}"
        rng = numpy_generator(self.run_seed, "weights", record.id)
        mutated = {name: (tensors[name].astype(np.float64) + rng.normal(0.0, self.config.weight_sigma,
                                                                        tensors[name].shape)).astype(np.float32)
                   for name in sorted(tensors)}
        return self.store.put(to_bytes(mutated)), f"initial weights of parent {parent_id}, mutated"

    def _fresh(self, record: GenomeRecord, lifetime_seed: int, note: str) -> tuple[str, str]:
        """Baldwinian genomes carry their weights: a fresh start is stored too, for children to inherit."""
        if self.config.mode == "baldwinian":
            return self.store.put(to_bytes(initial_weights(record.genes, self.suites, lifetime_seed))), note
        return "", note
