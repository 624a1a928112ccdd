"""The selection map: for runs across worlds, does evolution keep each fast-learning mechanism where it pays?

One cell per world × mechanism. Its share: the fraction of a generation's genomes that carry the mechanism,
in the first generation (what the prior of the gene's choices gives) and in the last, per run seed. Its
ablation cost: what removing the mechanism from each run's winner costs in fitness, paired on fresh seeds
(`evo-fastslow ablate RUN --genes ...` stores the paired differences in the run's archive); pooled over the
world's runs, with a 95% t interval. A mechanism *pays* where that interval lies above zero, *harms* where it
lies below, and neither otherwise.

Whether a share rose by more than chance: a one-sided Fisher exact test of carriers among the last
generation's genomes against the first's, pooled over run seeds (the first generation is drawn from the gene's
prior, so it is the chance level of that gene's choices, whatever their number).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from evo_fastslow.archive import Archive
from evo_fastslow.errors import InputError
from evo_fastslow.statistics import mean_interval


@dataclass(frozen=True)
class Mechanism:
    name: str                         # as the map shows it
    gene: str                         # the gene that switches it
    carried: Callable[[Any], bool]    # does a genome's value of the gene carry it?
    removed: Any                      # the value that removes it (what `ablate` changes the winner to)


MECHANISMS = (
    Mechanism("recurrence", "core", lambda v: v != "feedforward", "feedforward"),
    Mechanism("meta-RL inputs", "meta_inputs", lambda v: v == "action_reward", "none"),
    Mechanism("episodic memory", "episodic_memory", lambda v: v != "off", "off"),
    Mechanism("perception", "encoder", lambda v: v != "none", "none"),
    Mechanism("motivated exploration", "intrinsic", lambda v: v != "none", "none"),
)
ABLATIONS = [f"{m.gene}={m.removed}" for m in MECHANISMS]  # what `ablate --genes` is given for the map: removals only


def shares(archive: Archive, generation: int) -> dict[str, tuple[int, int]]:
    """(carriers, genomes) of each mechanism among one generation's genomes."""
    genomes = archive.genomes(generation)
    return {m.name: (sum(bool(m.carried(g.genes.get(m.gene))) for g in genomes), len(genomes)) for m in MECHANISMS}


def run_cells(run_dir: Path) -> dict[str, dict[str, Any]]:
    """One run's figures per mechanism: first and last generation's carriers, the winner's value, and the
    paired fitness differences of removing the mechanism (removed − winner; empty where not ablated, or
    where the winner does not carry it)."""
    path = Path(run_dir) / "archive.sqlite"
    if not path.is_file():
        raise InputError(str(run_dir), "archive.sqlite", "a run directory made by `evo-fastslow evolve`")
    from evo_fastslow.analysis.report import _searched_genes

    with Archive(path, create=False, skip_damaged=True) as archive:
        searched = set(_searched_genes(archive))
        generations = sorted({g.generation for g in archive.genomes()})
        if not generations:
            raise InputError(str(run_dir), "archive.sqlite", "a run with at least one generation")
        first, last = shares(archive, generations[0]), shares(archive, generations[-1])
        ranked = archive.ranked(1)
        winner = ranked[0][0].genes if ranked else {}
        ablation = archive.meta("ablation") or {}
    ablated = ablation.get("genes") or {}  # the genome `ablate` re-ran: the run's best when it was called
    effects = {(e.get("gene"), e.get("to")): e for e in ablation.get("effects", [])}
    cells = {}
    for m in MECHANISMS:
        effect = effects.get((m.gene, m.removed)) if m.carried(ablated.get(m.gene)) else None
        cells[m.name] = {"first": first[m.name], "last": last[m.name], "searched": m.gene in searched,
                         "winner_carries": bool(winner) and bool(m.carried(winner.get(m.gene))),
                         "differences": list(effect.get("differences", [])) if effect else []}
    return cells


def selection_map(runs: dict[str, Iterable[str | Path]]) -> "pd.DataFrame":
    """The map as a table, one row per world × mechanism: `runs` maps a world's name to its run directories
    (one per run seed). Columns: the share in the first and last generation (mean over runs, and per run),
    how many winners carry it, its ablation cost (winner − removed, pooled paired differences) with its
    95% interval, the verdict (pays / harms / neither / not measured / not searched) and the p-value of the rise in share."""
    import pandas as pd
    from scipy.stats import fisher_exact

    rows = []
    for world, dirs in runs.items():
        cells = [run_cells(Path(d)) for d in dirs]
        if not cells:
            raise InputError(world, "runs", "at least one run directory")
        for m in MECHANISMS:
            per_run = [c[m.name] for c in cells]
            first = np.array([r["first"] for r in per_run])   # [runs, (carriers, genomes)]
            last = np.array([r["last"] for r in per_run])
            costs = [-d for r in per_run for d in r["differences"]]  # winner − removed: > 0 where it pays
            cost = mean_interval(costs)
            if not any(r["searched"] for r in per_run):
                verdict = "not searched"
            elif cost.n < 2:
                verdict = "not measured"
            else:
                verdict = "pays" if cost.low > 0 else "harms" if cost.high < 0 else "neither"
            table = [[last[:, 0].sum(), last[:, 1].sum() - last[:, 0].sum()],
                     [first[:, 0].sum(), first[:, 1].sum() - first[:, 0].sum()]]
            rows.append({
                "world": world, "mechanism": m.name, "gene": m.gene,
                "share_first": float(np.mean(first[:, 0] / np.maximum(first[:, 1], 1))),
                "share_last": float(np.mean(last[:, 0] / np.maximum(last[:, 1], 1))),
                "share_last_per_run": [float(c / max(n, 1)) for c, n in last],
                "winners_carrying": sum(r["winner_carries"] for r in per_run), "runs": len(per_run),
                "cost": cost.mean, "cost_low": cost.low, "cost_high": cost.high, "cost_n": cost.n,
                "verdict": verdict, "p_rise": float(fisher_exact(table, alternative="greater").pvalue)})
    return pd.DataFrame(rows)


def goal_met(row: Any) -> bool | None:
    """The map's goal for one cell: where it pays, at least 90% of the last generation carries it in every
    run; where it harms, at most half; where neither, its share did not rise by more than chance (p ≥ 0.05).
    None where not measured."""
    if row["verdict"] == "pays":
        return bool(min(row["share_last_per_run"]) >= 0.9)
    if row["verdict"] == "harms":
        return bool(max(row["share_last_per_run"]) <= 0.5)
    if row["verdict"] == "neither":
        return bool(row["p_rise"] >= 0.05)
    return None


def map_figure(frame: "pd.DataFrame") -> Any:
    """Worlds × mechanisms: colour the last generation's share, text the ablation cost and verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    worlds = list(dict.fromkeys(frame["world"]))
    mechanisms = [m.name for m in MECHANISMS]
    share = np.full((len(worlds), len(mechanisms)), np.nan)
    figure, ax = plt.subplots(figsize=(1.9 * len(mechanisms) + 2, 0.9 * len(worlds) + 1.6))
    for _, row in frame.iterrows():
        i, j = worlds.index(row["world"]), mechanisms.index(row["mechanism"])
        share[i, j] = row["share_last"]
        cost = "-" if row["cost_n"] < 2 else f"{row['cost']:+.2f} [{row['cost_low']:+.2f}, {row['cost_high']:+.2f}]"
        ax.text(j, i, f"{row['share_last']:.0%} carry\ncost {cost}\n{row['verdict']}", ha="center", va="center",
                fontsize=7)
    image = ax.imshow(share, vmin=0, vmax=1, cmap="Blues", aspect="auto", alpha=0.8)
    ax.set_xticks(range(len(mechanisms)), mechanisms, fontsize=8)
    ax.set_yticks(range(len(worlds)), worlds, fontsize=8)
    ax.set_title("share of the last generation carrying each mechanism, and what removing it costs the winner",
                 fontsize=9)
    figure.colorbar(image, ax=ax, label="share, last generation")
    figure.tight_layout()
    return figure


def world_of(run_dir: str | Path) -> str:
    """A run's world: its suites' names."""
    with Archive(Path(run_dir) / "archive.sqlite", create=False, skip_damaged=True) as archive:
        config = archive.meta("config", kind=dict) or {}
    return ", ".join(s.get("name", "?") for s in config.get("embedded_suites", [])) or str(run_dir)


def map_table(frame: "pd.DataFrame") -> Any:
    """The map as a rich table (what `evo-fastslow map` prints)."""
    from rich.table import Table

    table = Table(title="selection map: share of each mechanism, and what removing it costs the winner")
    for column in ("world", "mechanism", "share: first -> last", "last, per run", "winners", "cost [95% CI]",
                   "verdict", "p (rise)", "goal"):
        table.add_column(column, justify="left" if column in ("world", "mechanism", "verdict") else "right")
    for _, row in frame.iterrows():
        cost = "-" if row["cost_n"] < 2 else f"{row['cost']:+.3f} [{row['cost_low']:+.3f}, {row['cost_high']:+.3f}]"
        met = goal_met(row)
        table.add_row(row["world"], row["mechanism"], f"{row['share_first']:.0%} -> {row['share_last']:.0%}",
                      " ".join(f"{s:.0%}" for s in row["share_last_per_run"]), f"{row['winners_carrying']}/{row['runs']}",
                      cost, row["verdict"], f"{row['p_rise']:.2g}", "-" if met is None else "met" if met else "NOT met")
    return table


def by_world(run_dirs: Iterable[str | Path]) -> dict[str, list[Path]]:
    """Run directories grouped by their world (their suites), in the order given."""
    found: dict[str, list[Path]] = {}
    for run_dir in run_dirs:
        found.setdefault(world_of(run_dir), []).append(Path(run_dir))
    return found
