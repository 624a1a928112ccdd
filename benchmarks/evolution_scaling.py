"""Evolution scaling: wall time of one generation with 1 and with 2 workers, and the outer loop's overhead.

The overhead is everything but the lifetimes: searcher, archive, Dask scheduling and transfers.
With one worker it is the generation's wall time minus the lifetimes' summed wall time; with W
workers, the generation's wall time minus the busiest worker's summed lifetime time. Run at the
quickstart's budget (configs/quickstart.yaml), one generation, the same genomes for each setting.

    python benchmarks/evolution_scaling.py [--config configs/quickstart.yaml] [--population 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evo_fastslow.archive import Archive
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.loop import Run


def one_generation(config_path: str, population: int, workers: int) -> tuple[float, float, float]:
    """(generation wall s, summed lifetime s, busiest worker's lifetime s, wall s with cluster start)."""
    config = load_config(config_path, ["generations=1", f"population={population}", f"cluster.workers={workers}"])
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(config, Path(tmp) / "run", console=Console(stderr=True, quiet=True))
        start = time.perf_counter()
        stats = run.start()[0]
        total = time.perf_counter() - start
        with Archive(Path(tmp) / "run" / "archive.sqlite") as archive:
            per_worker: dict[str, float] = defaultdict(float)
            for evaluation in archive.evaluations().values():
                per_worker[evaluation.worker] += evaluation.wall_seconds
    return stats.wall_seconds, sum(per_worker.values()), max(per_worker.values()), total


def _lifetime_seconds(_: int) -> float:
    from evo_fastslow.genome import load_genome
    from evo_fastslow.lifetime import run_lifetime

    config = load_config("configs/quickstart.yaml")
    genome = load_genome("populations/reference.json:wang2016-lstm")
    start = time.perf_counter()
    run_lifetime(genome, config.fitness_suites()[0], seed=0)
    return time.perf_counter() - start


def hardware_ceiling() -> float:
    """The same lifetime alone, then twice at once in two bare processes (no Dask): the speed-up two
    workers could reach at best on this machine, whatever the outer loop does."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    context = mp.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        alone = list(pool.map(_lifetime_seconds, [0]))[0]
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        together = max(pool.map(_lifetime_seconds, [0, 1]))
    return 2 * alone / together


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/quickstart.yaml")
    parser.add_argument("--population", type=int, default=10)
    args = parser.parse_args()
    rows = {w: one_generation(args.config, args.population, w) for w in (1, 2)}
    table = Table(title=f"one generation of {args.population} genomes at {args.config}'s budget")
    for column in ("workers", "generation s", "lifetimes s (sum)", "busiest worker s", "outer-loop overhead",
                   "with cluster start s", "speed-up"):
        table.add_column(column, justify="right")
    for workers, (wall, lifetimes, busiest, total) in rows.items():
        overhead = (wall - busiest) / wall
        table.add_row(str(workers), f"{wall:.1f}", f"{lifetimes:.1f}", f"{busiest:.1f}", f"{overhead:.2%}",
                      f"{total:.1f}", f"{rows[1][0] / wall:.2f}x")
    console = Console(width=130)
    console.print(table)
    console.print(f"hardware ceiling: two identical lifetimes in two bare processes run "
                  f"{hardware_ceiling():.2f}x as fast as one after the other")


if __name__ == "__main__":
    main()
