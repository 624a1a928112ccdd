"""A genome's ancestry: every ancestor back to the first generation, how each was made (operator),
which genes it changed from its first parent, its fitness, and (baldwinian and lamarckian runs) where
its lifetime's weights came from."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from evo_fastslow.archive import Archive
from evo_fastslow.errors import InputError


def lineage(archive: Archive, genome_id: int) -> list[dict[str, Any]]:
    """Ancestors of `genome_id` and the genome itself, oldest first."""
    genomes = {g.id: g for g in archive.genomes()}
    if genome_id not in genomes:
        raise InputError(str(archive.path), "--lineage", f"a genome id of this run (0 to {max(genomes, default=0)})")
    evaluations = archive.evaluations()
    found, todo = {}, [genome_id]
    while todo:
        current = todo.pop()
        if current in found or current not in genomes:
            continue
        found[current] = genomes[current]
        todo += genomes[current].parents
    steps = []
    for g in sorted(found.values(), key=lambda g: (g.generation, g.id)):
        first = genomes.get(g.parents[0]) if g.parents else None
        changed = {} if first is None else {k: [first.genes.get(k), v] for k, v in g.genes.items() if first.genes.get(k) != v}
        e, weights = evaluations.get(g.id), archive.weights(g.id)
        steps.append({"genome_id": g.id, "generation": g.generation, "operator": g.origin, "parents": g.parents,
                      "changed": changed, "fitness": None if e is None else e.fitness,
                      "status": None if e is None else e.status, "weights": weights[1] if weights else None})
    return steps


def _value(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def lineage_table(steps: list[dict[str, Any]], genome_id: int) -> Table:
    table = Table(title=f"lineage of genome {genome_id} (oldest first)")
    inherits = any(s.get("weights") for s in steps)
    columns = ("genome", "generation", "operator", "parents", "changed genes (from first parent)", "fitness")
    for column in columns + (("weights from",) if inherits else ()):
        table.add_column(column, justify="right" if column in ("generation", "fitness") else "left")
    for s in steps:
        changed = ", ".join(f"{k}: {_value(a)} -> {_value(b)}" for k, (a, b) in s["changed"].items()) or "-"
        fitness = "-" if s["fitness"] is None else f"{s['fitness']:.4f}" + ("" if s["status"] == "ok" else f" ({s['status']})")
        table.add_row(str(s["genome_id"]), str(s["generation"] + 1), s["operator"],
                      ", ".join(map(str, s["parents"])) or "-", changed, fitness,
                      *((s.get("weights") or "-",) if inherits else ()))
    return table
