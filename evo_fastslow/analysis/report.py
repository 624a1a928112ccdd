"""Tables of a run: top genomes, best-so-far per generation, gene choices selected in the last generation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evo_fastslow.archive import Archive
from evo_fastslow.evolution.evaluate import MACHINE_DEPENDENT
from evo_fastslow.genome import SEARCH_SPACE, Categorical, Genome, save_genomes



def _searched_genes(archive: Archive) -> list[str]:
    """The genes the run searched: not those its config held fixed (the same in every genome), nor
    genes added to the search space after the run (absent from its genomes)."""
    fixed = (archive.meta("config") or {}).get("search_space", {}).get("fixed", {})
    first = archive.genomes(0)[:1]
    present = set(first[0].genes) if first else set(SEARCH_SPACE.genes)
    return [name for name in SEARCH_SPACE.genes if name not in fixed and name in present]


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


def reproducibility_notes(archive: Archive) -> list[str]:
    """Which numeric fingerprints computed the evaluations, and which failures depend on the machine."""
    counts, details = archive.fingerprint_counts(), archive.fingerprints()
    notes = []
    for digest, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        info = details.get(digest, {})
        about = ", ".join(f"{k} {info[k]}" for k in ("mode", "engine", "torch", "probe") if k in info)
        notes.append(f"numeric fingerprint {digest or '(not recorded)'}: {count} evaluations" + (f" ({about})" if about else ""))
    if len([d for d in counts if d]) > 1:
        notes.append("[yellow]warning:[/] evaluations were computed with more than one numeric fingerprint: "
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
    with Archive(run_dir / "archive.sqlite", create=False) as archive:
        console.print(top_table(archive, top))
        console.print(progress_table(archive))
        console.print(biases_table(archive))
        for note in reproducibility_notes(archive):
            console.print(note)


def export_top(run_dir: Path, top: int, path: Path) -> int:
    """Write the top genomes as a genome file, with their provenance, to seed new runs."""
    with Archive(run_dir / "archive.sqlite", create=False) as archive:
        ranked = archive.ranked(top)
        genomes = [Genome(r.genes, name=f"{run_dir.name}-g{r.generation}-{r.id}",
                          provenance={"source": "run", "run": str(run_dir), "generation": r.generation,
                                      "genome_id": r.id, "fitness": e.fitness, "scores": e.scores})
                   for r, e in ranked]
    save_genomes(path, genomes)
    return len(genomes)


def plot_progress(run_dir: Path, path: Path) -> None:
    """Best, best-so-far and mean fitness per generation, and how often each searched categorical
    choice appears per generation (the inductive biases as they are selected), as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with Archive(run_dir / "archive.sqlite", create=False) as archive:
        summaries = list(archive.generation_summaries())
        genes = [n for n in _searched_genes(archive) if isinstance(SEARCH_SPACE.genes[n], Categorical)]
        shares = {n: {c: [] for c in SEARCH_SPACE.genes[n].choices} for n in genes}
        for generation, *_ in summaries:
            records = archive.genomes(generation)
            for name in genes:
                counts = Counter(r.genes[name] for r in records)
                for choice in shares[name]:
                    shares[name][choice].append(counts[choice] / len(records))
    x = [s[0] + 1 for s in summaries]
    figure, axes = plt.subplots(1, 1 + len(genes), figsize=(4.5 * (1 + len(genes)), 3.5), squeeze=False)
    best_so_far = [max(s[1] for s in summaries[:i + 1]) for i in range(len(summaries))]
    axes[0][0].plot(x, [s[1] for s in summaries], "o-", label="best")
    axes[0][0].plot(x, best_so_far, "--", label="best so far")
    axes[0][0].plot(x, [s[2] for s in summaries], "s-", label="mean")
    axes[0][0].set(xlabel="generation", ylabel="fitness", title=run_dir.name)
    axes[0][0].legend()
    for ax, name in zip(axes[0][1:], genes):
        for choice, share in shares[name].items():
            ax.plot(x, share, "o-", label=choice)
        ax.set(xlabel="generation", ylabel="share of population", title=name, ylim=(0, 1))
        ax.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
