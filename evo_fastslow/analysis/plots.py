"""Figures of a run (matplotlib): fitness per generation, every searched gene over generations,
learning curves of the top genomes, worker utilisation. Saved as PNG by `inspect --plot`, embedded
as SVG by `report`."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter  # noqa: E402

from evo_fastslow.analysis.report import gene_trajectories, utilisation_over_time  # noqa: E402
from evo_fastslow.archive import Archive  # noqa: E402
from evo_fastslow.genome import SEARCH_SPACE  # noqa: E402

COLUMNS = 4


def _generation_axis(ax: plt.Axes) -> None:
    ax.set_xlabel("generation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def progress_figure(archive: Archive, title: str) -> Figure:
    """Fitness (best, best so far, mean) and one panel per searched gene, over generations."""
    summaries = list(archive.generation_summaries())
    x = [s[0] + 1 for s in summaries]
    genes = gene_trajectories(archive)
    panels = 1 + len(genes)
    rows = (panels + COLUMNS - 1) // COLUMNS
    figure, axes = plt.subplots(rows, min(panels, COLUMNS), figsize=(4.2 * min(panels, COLUMNS), 3.2 * rows),
                                squeeze=False)
    flat = axes.ravel()
    ax = flat[0]
    if summaries:
        best_so_far = [max(s[1] for s in summaries[:i + 1]) for i in range(len(summaries))]
        ax.plot(x, [s[1] for s in summaries], "o-", label="best")
        ax.plot(x, best_so_far, "--", label="best so far")
        ax.plot(x, [s[2] for s in summaries], "s-", label="mean")
        ax.legend(fontsize=8)
    ax.set(ylabel="fitness", title=title)
    _generation_axis(ax)
    gx = sorted({g.generation + 1 for g in archive.genomes()})
    for ax, (name, series) in zip(flat[1:], genes.items()):
        if "median" in series:
            ax.fill_between(gx, series["q25"], series["q75"], alpha=0.3, label="interquartile")
            ax.plot(gx, series["median"], "o-", label="median")
            ax.set(ylabel=name, yscale="log" if getattr(SEARCH_SPACE.genes[name], "log", False) else "linear")
        else:
            for choice, share in series.items():
                ax.plot(gx, share, "o-", label=choice)
            ax.set(ylabel="share of population", ylim=(-0.02, 1.02))
        ax.set_title(name)
        ax.legend(fontsize=7)
        _generation_axis(ax)
    for ax in flat[panels:]:
        ax.set_visible(False)
    figure.tight_layout()
    return figure


def curves_figure(archive: Archive, top: int = 5) -> Figure | None:
    """Training reward per step against env steps, for the top genomes (one panel per suite)."""
    ranked = [(r, e) for r, e in archive.ranked(top) if e.status == "ok" and e.curves]
    if not ranked:
        return None
    suites = sorted({s for _, e in ranked for s in e.curves})
    figure, axes = plt.subplots(1, len(suites), figsize=(5.5 * len(suites), 3.5), squeeze=False)
    for ax, suite in zip(axes[0], suites):
        for record, evaluation in ranked:
            points = evaluation.curves.get(suite) or []
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], label=f"genome {record.id}")
        ax.set(xlabel="env steps", ylabel="training reward / step", title=f"learning curves: {suite}")
        ax.legend(fontsize=7)
    figure.tight_layout()
    return figure


def utilisation_figure(archive: Archive) -> Figure | None:
    rows = utilisation_over_time(archive, bins=30)
    if not rows:
        return None
    figure, ax = plt.subplots(figsize=(6, 2.8))
    ax.step([r["from_seconds"] for r in rows], [r["utilisation"] for r in rows], where="post")
    ax.set(xlabel="seconds since the first evaluation started", ylabel="busy share of workers", ylim=(0, 1.05),
           title="worker utilisation")
    figure.tight_layout()
    return figure


def map_figure(archive: Archive) -> Figure | None:
    """The MAP-Elites map as a heatmap, each cell labelled with its elite's fitness and genome id."""
    from evo_fastslow.analysis.maps import latest_map, map_grid

    latest = latest_map(archive)
    if latest is None or len(latest[1]["dims"]) > 2:
        return None
    epoch, found = latest
    fitness, ids = map_grid(found)
    rows, columns = fitness.shape
    figure, ax = plt.subplots(figsize=(1.6 * columns + 3, 0.9 * rows + 2))
    image = ax.imshow(np.ma.masked_invalid(fitness), cmap="viridis", aspect="auto")
    figure.colorbar(image, ax=ax, label="fitness")
    low, high = np.nanmin(fitness), np.nanmax(fitness)
    for r in range(rows):
        for c in range(columns):
            if ids[r, c] < 0:
                ax.text(c, r, "empty", ha="center", va="center", fontsize=8, color="grey")
                continue
            bright = high > low and (fitness[r, c] - low) / (high - low) > 0.6  # viridis turns light: dark text
            ax.text(c, r, f"{fitness[r, c]:.3f}\n#{ids[r, c]}", ha="center", va="center", fontsize=8,
                    color="black" if bright else "white")
    ax.set_yticks(range(rows), found["labels"][0])
    ax.set_xticks(range(columns), found["labels"][1] if columns > 1 and len(found["labels"]) > 1 else [""])
    ax.set(ylabel=found["axes"][0], xlabel=found["axes"][1] if len(found["axes"]) > 1 else "",
           title=f"MAP-Elites map, epoch {epoch + 1}: coverage {found['coverage']:.0%}, QD-score {found['qd_score']:.2f}")
    figure.tight_layout()
    return figure


def front_figure(archive: Archive) -> Figure | None:
    """Every evaluation's fitness against its parameter count, the Pareto front joined and labelled by core."""
    from evo_fastslow.analysis.maps import front, parameters

    points = [(parameters(e), e.fitness) for _, e in archive.ranked() if e.status == "ok" and parameters(e)]
    best = front(archive)
    if len(best) < 2:
        return None
    figure, ax = plt.subplots(figsize=(6.5, 4))
    ax.scatter([p[0] for p in points], [p[1] for p in points], s=12, color="0.7", label="evaluated")
    ax.plot([c for _, _, c in best], [e.fitness for _, e, _ in best], "o-", color="C3", label="Pareto front")
    shown = None
    for i, (record, evaluation, cost) in enumerate(best):  # a label where the front's architecture changes
        label = f"{record.genes.get('core')}/{record.genes.get('meta_inputs')}"
        if label != shown:
            ax.annotate(label, (cost, evaluation.fitness), fontsize=7, textcoords="offset points",
                        xytext=(4, -10 if i % 2 else 4))  # alternate below and above: neighbours do not collide
            shown = label
    ax.set(xscale="log", xlabel="parameters", ylabel="fitness", title="fitness against cost")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))  # 1,000 rather than 10³
    ax.xaxis.set_minor_formatter(NullFormatter())  # unlabelled minor ticks: no "2×10²3×10²" run-together
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def svg(figure: Figure) -> str:
    """The figure as inline SVG markup (no external references), then closed."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})  # same run, same file
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def plot_progress(run_dir: Path, path: Path) -> None:
    """Fitness and the searched genes per generation, as one PNG."""
    with Archive(run_dir / "archive.sqlite", create=False, skip_damaged=True) as archive:
        figure = progress_figure(archive, run_dir.name)
    figure.savefig(path, dpi=100)
    plt.close(figure)
