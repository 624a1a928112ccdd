"""Tables of a run: top genomes, best-so-far per generation, gene choices selected in the last generation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from rich.console import Console
from rich.table import Table

from evo_fastslow.archive import Archive
from evo_fastslow.evolution.evaluate import MACHINE_DEPENDENT
from evo_fastslow.genome import SEARCH_SPACE, Categorical, Genome, save_genomes



def _searched_genes(archive: Archive) -> list[str]:
    """The genes the run searched (its config's `search_space.search`, or in the older form the genes of
    IMPLICIT_SEARCH it did not hold fixed), and only those its genomes have."""
    from evo_fastslow.evolution.config import IMPLICIT_SEARCH

    from evo_fastslow.evolution.rundir import recorded_config

    space = recorded_config(archive).get("search_space") or {}
    named = space.get("search") or [n for n in IMPLICIT_SEARCH if n not in (space.get("fixed") or {})]
    first = archive.genomes(0)[:1]
    present = set(first[0].genes) if first else set(SEARCH_SPACE.genes)
    return [name for name in SEARCH_SPACE.genes if name in named and name in present]


ARCHITECTURE_GENES = ("core", "meta_inputs", "hidden_size", "episodic_memory")  # what a cost depends on most


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def top_table(archive: Archive, top: int) -> Table:
    """One column per genome (best first), one row per gene: fits a terminal for a handful of genomes."""
    ranked = archive.ranked(top)
    table = Table(title=f"top {len(ranked)} genomes (fitness = mean normalised score)")
    table.add_column("genome id", no_wrap=True)
    for record, _ in ranked:
        table.add_column(str(record.id), justify="right", overflow="fold")
    table.add_row("fitness", *(f"{e.fitness:.4f}" for _, e in ranked), style="bold")
    if any(e.replicates > 1 or e.decision for _, e in ranked):
        table.add_row("95% interval", *(f"[{e.ci_low:.3f}, {e.ci_high:.3f}]" if e.replicates > 1 else "-"
                                        for _, e in ranked))
        table.add_row("replicates", *(str(e.replicates) for _, e in ranked))
        table.add_row("rung", *(str(e.rung) for _, e in ranked))
    retested = archive.retests()
    if retested:  # evolution/drivers/retest.py: these rank first, on their shared replicates
        table.add_row("re-tested", *("yes" if r.id in retested else "-" for r, _ in ranked))
    table.add_row("generation", *(str(r.generation + 1) for r, _ in ranked))
    table.add_row("origin", *(r.origin for r, _ in ranked))
    for gene in _searched_genes(archive):
        table.add_row(gene, *(_fmt(r.genes.get(gene)) for r, _ in ranked))
    return table


def progress_table(archive: Archive) -> Table:
    table = Table(title="best so far, per generation")
    for column in ("generation", "best", "mean", "best so far", "evaluations", "failed", "seconds"):
        table.add_column(column, justify="right")
    best_so_far = float("-inf")
    for generation, best, mean, _, evaluations, failures, seconds in archive.generation_summaries():
        best_so_far = max(best_so_far, best)
        table.add_row(str(generation + 1), f"{best:.4f}", f"{mean:.4f}", f"{best_so_far:.4f}",
                      str(evaluations), str(failures), f"{seconds:.1f}")
    return table


def selected_biases(archive: Archive) -> dict[str, Counter]:
    """For each categorical gene, how many genomes of the last generation chose each value."""
    summaries = list(archive.generation_summaries())
    if not summaries:
        return {}
    last = archive.genomes(summaries[-1][0])
    return {name: Counter(r.genes[name] for r in last)
            for name in _searched_genes(archive) if isinstance(SEARCH_SPACE.genes[name], Categorical)}


def biases_table(archive: Archive) -> Table:
    table = Table(title="inductive biases selected (last generation)")
    table.add_column("gene")
    table.add_column("choices: genomes")
    for name, counts in selected_biases(archive).items():
        table.add_row(name, ", ".join(f"{value}: {n}" for value, n in counts.most_common()))
    return table


def gene_trajectories(archive: Archive) -> dict[str, dict[str, list[float]]]:
    """Every searched gene per generation: a categorical gene's share of each choice; a numeric gene's
    quartiles (q25, median, q75). {gene: {series: [value per generation]}}."""
    generations = sorted({g.generation for g in archive.genomes()})
    by_generation = {n: archive.genomes(n) for n in generations}
    series: dict[str, dict[str, list[float]]] = {}
    for name in _searched_genes(archive):
        gene = SEARCH_SPACE.genes[name]
        if isinstance(gene, Categorical):
            series[name] = {c: [sum(r.genes[name] == c for r in by_generation[n]) / len(by_generation[n])
                                for n in generations] for c in gene.choices}
        else:
            values = [np.quantile([float(r.genes[name]) for r in by_generation[n]], (0.25, 0.5, 0.75))
                      for n in generations]
            series[name] = {q: [float(v[i]) for v in values] for i, q in enumerate(("q25", "median", "q75"))}
    return series


def trajectories_table(archive: Archive, columns: int = 8) -> Table:
    """Genes over generations (at most `columns` generations, evenly spaced, first and last included)."""
    generations = sorted({g.generation for g in archive.genomes()})
    shown = sorted({int(round(i)) for i in np.linspace(0, len(generations) - 1, min(columns, len(generations)))})
    table = Table(title="searched genes over generations (categorical: share; numeric: median [IQR])")
    table.add_column("gene")
    for i in shown:
        table.add_column(f"gen {generations[i] + 1}", justify="right")
    for name, series in gene_trajectories(archive).items():
        if "median" in series:
            cells = [f"{series['median'][i]:.3g} [{series['q25'][i]:.3g}, {series['q75'][i]:.3g}]" for i in shown]
        else:
            cells = [", ".join(f"{c} {v[i]:.0%}" for c, v in series.items() if v[i] > 0) for i in shown]
        table.add_row(name, *cells)
    return table


def failures_by_reason(archive: Archive) -> Counter:
    """(status, reason) of every failed evaluation, counted; a reason's first line only."""
    return Counter((e.status, e.reason.splitlines()[0][:120] if e.reason else "")
                   for e in archive.evaluations().values() if e.status != "ok")


def failures_table(archive: Archive) -> Table | None:
    counts = failures_by_reason(archive)
    if not counts:
        return None
    table = Table(title=f"failed evaluations by reason ({sum(counts.values())})")
    for column in ("evaluations", "status", "reason"):
        table.add_column(column, justify="right" if column == "evaluations" else "left")
    for (status, reason), n in counts.most_common():
        table.add_row(str(n), status, reason)
    return table


def utilisation_over_time(archive: Archive, bins: int = 10) -> list[dict[str, float]]:
    """Busy workers over time, from the workers' start and end clocks: per time bin, the mean number of
    evaluations running and that as a share of the workers seen."""
    spans = [(started, finished, worker) for worker, started, finished in archive.lifetime_spans()]
    if not spans:
        return []
    start, end = min(s for s, _, _ in spans), max(f for _, f, _ in spans)
    workers = len({w for _, _, w in spans})
    edges = np.linspace(start, end, bins + 1) if end > start else np.array([start, start + 1.0])
    rows = []
    for a, b in zip(edges[:-1], edges[1:]):
        busy = sum(max(0.0, min(f, b) - max(s, a)) for s, f, _ in spans) / (b - a)
        rows.append({"from_seconds": float(a - start), "to_seconds": float(b - start), "busy_workers": busy,
                     "utilisation": busy / workers})
    return rows


def utilisation_table(archive: Archive) -> Table | None:
    rows = utilisation_over_time(archive)
    if not rows:
        return None
    table = Table(title="worker utilisation over the run (workers' clocks)")
    for column in ("seconds", "busy workers", "utilisation"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(f"{r['from_seconds']:.3g}-{r['to_seconds']:.3g}", f"{r['busy_workers']:.2f}",
                      f"{r['utilisation']:.0%}")
    return table


def reproducibility_notes(archive: Archive) -> list[str]:
    """Which numeric fingerprints computed the evaluations, and which failures depend on the machine."""
    counts, details = archive.fingerprint_counts(), archive.fingerprints()
    notes = []
    for digest, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        info = details.get(digest, {})
        about = ", ".join(f"{k} {info[k]}" for k in ("mode", "engine", "torch", "probe") if k in info)
        notes.append(f"numeric fingerprint {digest or '(not recorded)'}: {count} lifetimes" + (f" ({about})" if about else ""))
    if len([d for d in counts if d]) > 1:
        notes.append("[yellow]warning:[/] lifetimes were computed with more than one numeric fingerprint: "
                     "the same genome may get another fitness on another worker; the archive is not reproducible")
    machine = Counter(e.status for e in archive.evaluations().values() if e.reason.startswith(MACHINE_DEPENDENT))
    use = archive.utilisation()
    if use:
        notes.append(f"worker utilisation {use['utilisation']:.0%}: {use['busy_seconds']:.0f} busy worker-seconds over "
                     f"{use['workers']} workers x {use['span_seconds']:.0f} s (first start to last end)")
    if machine:
        notes.append("machine-dependent failures (a wall-clock limit or a lost worker, not the genome): "
                     + ", ".join(f"{n} {status}" for status, n in sorted(machine.items()))
                     + "; env-steps are the budget that decides fitness")
    return notes


def print_report(run_dir: Path, top: int, console: Console) -> None:
    with Archive(run_dir / "archive.sqlite", create=False, skip_damaged=True) as archive:
        console.print(top_table(archive, top))
        console.print(progress_table(archive))
        console.print(biases_table(archive))
        console.print(trajectories_table(archive))
        from evo_fastslow.analysis.maps import front_table, map_table

        architecture = [g for g in _searched_genes(archive) if g in ARCHITECTURE_GENES]
        from evo_fastslow.analysis.evidence import evidence_table

        for table in (evidence_table(archive), map_table(archive), front_table(archive, architecture),
                      failures_table(archive), utilisation_table(archive)):
            if table is not None:
                console.print(table)
        for note in reproducibility_notes(archive):
            console.print(note)


def export_top(run_dir: Path, top: int, path: Path) -> int:
    """Write the top genomes as a genome file, with their provenance, to seed new runs. A genome whose
    lifetime started from inherited or evolved weights takes them along (safetensors beside the file)."""
    from evo_fastslow.evolution.inheritance import WEIGHTS_FOLDER
    from evo_fastslow.weights import PROVENANCE_KEY, WeightStore, export_beside

    genomes = []
    with Archive(run_dir / "archive.sqlite", create=False, skip_damaged=True) as archive:
        for r, e in archive.ranked(top):
            provenance = {"source": "run", "run": str(run_dir), "generation": r.generation, "genome_id": r.id,
                          "fitness": e.fitness, "scores": e.scores}
            weights = archive.weights(r.id)
            if weights and weights[0]:
                provenance[PROVENANCE_KEY] = export_beside(path, WeightStore(run_dir / WEIGHTS_FOLDER).get(weights[0]))
            genomes.append(Genome(r.genes, name=f"{run_dir.name}-g{r.generation}-{r.id}", provenance=provenance))
    save_genomes(path, genomes)
    return len(genomes)
