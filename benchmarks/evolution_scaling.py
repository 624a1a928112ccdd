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
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
