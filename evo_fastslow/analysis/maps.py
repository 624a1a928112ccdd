"""The landscape of a run rather than one winner: the MAP-Elites map (kept per epoch in the archive) and
the Pareto front of fitness against parameter count (from the archived evaluations, any searcher)."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.table import Table

from evo_fastslow.archive import Archive, Evaluation, GenomeRecord
from evo_fastslow.evolution.searchers.nsga2 import pareto_front


def parameters(evaluation: Evaluation) -> float | None:
    """The cost nsga2 minimises, as the lifetime measured it: parameters summed over the suites."""
    counts = [m.get("parameter_count") for m in evaluation.metrics.values()]
    return float(sum(counts)) if counts and all(c is not None for c in counts) else None


def front(archive: Archive) -> list[tuple[GenomeRecord, Evaluation, float]]:
    """The successful evaluations no other beats on both fitness and parameters, cheapest first."""
    ranked = {r.id: (r, e) for r, e in archive.ranked() if e.status == "ok" and parameters(e) is not None}
    points = pareto_front([(i, e.fitness, parameters(e)) for i, (_, e) in ranked.items()])
    return [(*ranked[i], cost) for i, _, cost in points]


def latest_map(archive: Archive) -> tuple[int, dict[str, Any]] | None:
    """(epoch, map) of the last epoch a MAP-Elites run finished, or None."""
    epochs = [s[0] for s in archive.generation_summaries()]
    for epoch in reversed(epochs):
        found = archive.meta(f"map/{epoch}")
        if found is not None:
            return epoch, found
    return None


def map_history(archive: Archive) -> list[tuple[int, float, float]]:
    """(epoch, coverage, QD-score) of every finished epoch of a MAP-Elites run."""
    rows = []
    for epoch, *_ in archive.generation_summaries():
        found = archive.meta(f"map/{epoch}")
        if found is not None:
            rows.append((epoch, found["coverage"], found["qd_score"]))
    return rows


def map_grid(found: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Fitness and genome id per cell of a 1- or 2-descriptor map (NaN / -1 where empty)."""
    dims = found["dims"] + [1] * (2 - len(found["dims"]))
    fitness, ids = np.full(dims[:2], np.nan), np.full(dims[:2], -1)
    for elite in found["elites"]:
        row, col = (elite["position"] + [0])[:2]
        fitness[row, col], ids[row, col] = elite["fitness"], elite["genome_id"]
    return fitness, ids


def map_table(archive: Archive) -> Table | None:
    latest = latest_map(archive)
    if latest is None:
        return None
    epoch, found = latest
    title = (f"MAP-Elites map after epoch {epoch + 1}: fitness (genome id) per cell; coverage "
             f"{found['coverage']:.0%}, QD-score {found['qd_score']:.3f}")
    table = Table(title=title)
    if len(found["dims"]) > 2:  # no grid on a terminal: one row per elite
        for column in ("cell", *found["axes"], "fitness", "genome"):
            table.add_column(column)
        for e in found["elites"]:
            table.add_row(str(e["cell"]), *(found["labels"][d][p] for d, p in enumerate(e["position"])),
                          f"{e['fitness']:.3f}", str(e["genome_id"]))
        return table
    fitness, ids = map_grid(found)
    columns = found["labels"][1] if len(found["dims"]) > 1 else [""]
    table.add_column(f"{found['axes'][0]} \\ {found['axes'][1]}" if len(found["axes"]) > 1 else found["axes"][0])
    for label in columns:
        table.add_column(label, justify="right")
    for r, label in enumerate(found["labels"][0]):
        table.add_row(label, *("-" if ids[r, c] < 0 else f"{fitness[r, c]:.3f} ({ids[r, c]})"
                               for c in range(len(columns))))
    return table


def front_table(archive: Archive, genes: list[str]) -> Table | None:
    points = front(archive)
    if len(points) < 2:
        return None
    table = Table(title=f"Pareto front: fitness against parameters ({len(points)} genomes, cheapest first)")
    for column in ("genome", "parameters", "fitness", *genes):
        table.add_column(column, justify="left" if column == "genome" else "right")
    for record, evaluation, cost in points:
        table.add_row(str(record.id), f"{cost:,.0f}", f"{evaluation.fitness:.4f}",
                      *(_fmt(record.genes.get(g)) for g in genes))
    return table


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
