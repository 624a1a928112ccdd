"""What a quality-diversity map is indexed by: descriptors from the config, and how a genome and its
evaluation become a point of the grid (evolution/searchers/map_elites.py)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from evo_fastslow.genes import Bool, Categorical
from evo_fastslow.genome import SearchSpace


class Descriptor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    gene: str | None = Field(None, description="a gene of the search space")
    metric: str | None = Field(None, description="or a measured scalar of the lifetime (summed over suites), "
                                                 "e.g. parameter_count")
    bins: int = Field(4, ge=1, le=1000, description="cells along this axis (a categorical gene: one per choice)")
    low: float | None = Field(None, description="metric: lower end of the axis")
    high: float | None = Field(None, description="metric: upper end of the axis")
    log: bool = Field(False, description="metric: bins on a log10 scale")

    @model_validator(mode="after")
    def _one_source(self) -> "Descriptor":
        if (self.gene is None) == (self.metric is None):
            raise ValueError("a descriptor names exactly one of `gene` or `metric`")
        if self.metric is not None:
            if self.low is None or self.high is None or not self.low < self.high:
                raise ValueError(f"metric descriptor {self.metric!r} needs low < high")
            if self.log and self.low <= 0:
                raise ValueError(f"metric descriptor {self.metric!r}: a log axis needs low > 0")
        return self

    @property
    def name(self) -> str:
        return self.gene or self.metric or ""


DEFAULT_DESCRIPTORS = (Descriptor(gene="core"), Descriptor(gene="meta_inputs"))


class DescriptorSpace:
    """Maps a genome and its evaluation to the measures of the grid."""

    def __init__(self, space: SearchSpace, descriptors: tuple[Descriptor, ...]):
        self.space, self.descriptors = space, descriptors
        self.dims, self.ranges, self.labels = [], [], []
        for d in descriptors:
            gene = space.genes.get(d.gene) if d.gene else None
            if d.gene and gene is None:
                raise ValueError(f"descriptor gene {d.gene!r} is not a gene ({', '.join(space.genes)})")
            if isinstance(gene, Categorical):
                self.dims.append(len(gene.choices))
                self.ranges.append((0.0, float(len(gene.choices))))
                self.labels.append([str(c) for c in gene.choices])
                continue
            if isinstance(gene, Bool):
                self.dims.append(2)
                self.ranges.append((0.0, 2.0))
                self.labels.append(["False", "True"])
                continue
            if gene is not None:
                low, high = 0.0, 1.0
                edges = [gene.decode(x) for x in np.linspace(0, 1, d.bins + 1)]
            else:
                low, high = (math.log10(d.low), math.log10(d.high)) if d.log else (d.low, d.high)
                edges = list(np.logspace(low, high, d.bins + 1) if d.log else np.linspace(low, high, d.bins + 1))
            self.dims.append(d.bins)
            self.ranges.append((low, high))
            self.labels.append([f"{_short(a)}-{_short(b)}" for a, b in zip(edges[:-1], edges[1:])])

    def measures(self, genome: dict[str, Any], evaluation: Any) -> np.ndarray:
        """`evaluation`: anything with the lifetime's `metrics` per suite (a Result, an archived Evaluation)."""
        values = []
        for d, (low, high) in zip(self.descriptors, self.ranges):
            gene = self.space.genes.get(d.gene) if d.gene else None
            if isinstance(gene, Categorical):
                x = gene.choices.index(genome[d.gene]) + 0.5
            elif isinstance(gene, Bool):
                x = 1.5 if genome[d.gene] else 0.5
            elif gene is not None:
                x = gene.encode(genome[d.gene])
            else:
                total = float(sum(m.get(d.metric, 0.0) for m in evaluation.metrics.values()))
                x = math.log10(max(total, 1e-300)) if d.log else total
            values.append(min(max(x, low), high - 1e-9 * (high - low)))  # the ends belong to the edge cells
        return np.array(values)

    def new_map(self, qd_offset: float) -> Any:
        from ribs.archives import GridArchive

        return GridArchive(solution_dim=len(self.space), dims=self.dims, ranges=self.ranges,
                           qd_score_offset=qd_offset, extra_fields={"genome_id": ((), np.int64)})


def _short(x: float) -> str:
    return f"{x:.3g}"
